package train_test

import (
	"context"
	"fmt"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/internal/toyset"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/train"
)

// Adversarially train a model from Go: PGD-AT with an EMA of the weights,
// robust validation after every epoch and the best weights kept, all in
// memory (set Config.Out for checkpoints, resume and weight files).
func ExampleRun() {
	trainSet := toyset.Quadrants(1, 256, 1, 28)
	testSet := toyset.Quadrants(2, 64, 1, 28)
	model, err := nn.New("smallcnn", nn.Config{InChannels: 1, NumClasses: 4, ImageSize: 28, Width: 0.5, Seed: 1})
	if err != nil {
		panic(err)
	}
	cfg := train.Config{
		Epochs: 2, BatchSize: 32, LR: 0.05, Schedule: train.Cosine, Momentum: 0.9, WeightDecay: 5e-4, EMA: 0.9,
		Adv: train.AdvPGD, Norm: attack.LInf, Eps: 0.1, Steps: 3, StepSize: 0.04, ValSize: 32, ValSteps: 5, Seed: 1,
	}
	res, err := train.Run(context.Background(), cfg, train.Options{Model: model, Train: trainSet, Test: testSet})
	if err != nil {
		panic(err)
	}
	fmt.Println("epochs:", len(res.Metrics), "steps:", res.Metrics[1].Steps)
	fmt.Println("the model passed in is the one trained:", res.Model == model)
	fmt.Println("best weights kept:", res.Best != nil, "EMA weights:", res.EMA != nil)

	// Evaluate the best weights under PGD-20.
	if err := res.Use(res.Best); err != nil {
		panic(err)
	}
	r, err := attack.Evaluate(res.Model, testSet, attack.EvalOptions{}, &attack.PGD{Eps: 0.1, Steps: 20, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("robust ≤ clean:", r.Robust[0] <= r.Clean)
	// Output:
	// epochs: 2 steps: 16
	// the model passed in is the one trained: true
	// best weights kept: true EMA weights: true
	// robust ≤ clean: true
}
