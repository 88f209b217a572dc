package attack_test

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/toyset"
	"github.com/bulwark-ml/bulwark/nn"
)

// Attack a model the way torchattacks does: build the attacks, perturb a
// batch, and measure clean and robust accuracy with the per-sample worst
// case over the attacks. The model here is untrained; load a trained one
// with nn.Load.
func Example() {
	test := toyset.Quadrants(1, 64, 1, 28) // 64 images, 1×28×28, 4 classes
	model, err := nn.New("smallcnn", nn.Config{InChannels: 1, NumClasses: 4, ImageSize: 28, Width: 0.5, Seed: 1})
	if err != nil {
		panic(err)
	}

	// One batch, perturbed by PGD-10 in the L∞ ball of radius 0.1.
	pgd := &attack.PGD{Norm: attack.LInf, Eps: 0.1, Steps: 10, Seed: 1}
	x, err := data.Sample(test, 0)
	if err != nil {
		panic(err)
	}
	adv, err := pgd.Perturb(model, x, []int{test.Label(0)})
	if err != nil {
		panic(err)
	}
	var moved float32
	for i, v := range adv.Data() {
		moved = max(moved, v-x.Data()[i], x.Data()[i]-v)
	}
	fmt.Println("largest pixel change within ε:", moved <= 0.1)

	// Robust accuracy over the whole set: PGD and APGD with the DLR loss.
	apgd := &attack.APGD{Norm: attack.LInf, Eps: 0.1, Steps: 20, Loss: attack.DLR, Seed: 1}
	res, err := attack.Evaluate(model, test, attack.EvalOptions{BatchSize: 32}, pgd, apgd)
	if err != nil {
		panic(err)
	}
	fmt.Printf("samples: %d, attacks: %q\n", res.N, res.Names)
	fmt.Println("worst case ≤ each attack ≤ clean:",
		res.Worst <= res.Robust[0] && res.Worst <= res.Robust[1] && res.Robust[0] <= res.Clean)
	// Output:
	// largest pixel change within ε: true
	// samples: 64, attacks: ["PGD-10 Linf ε=0.1 α=0.025" "APGD-DLR Linf ε=0.1 20 steps"]
	// worst case ≤ each attack ≤ clean: true
}
