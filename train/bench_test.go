package train

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/tensor"
)

// BenchmarkTrainStepResNet20 times one training step (forward,
// cross-entropy, backward, SGD with Nesterov momentum and weight decay) of
// ResNet-20 at batch 128 on random 3×32×32 images, the speed target of
// issue 3, at 1 and 2 kernel threads.
func BenchmarkTrainStepResNet20(b *testing.B) { benchTrainStep(b, "resnet20", 3, 32) }

// BenchmarkTrainStepSmallCNN is BenchmarkTrainStepResNet20 for SmallCNN on
// 1×28×28 images, the model of the pruning experiments.
func BenchmarkTrainStepSmallCNN(b *testing.B) { benchTrainStep(b, "smallcnn", 1, 28) }

// benchTrainStep times training steps of arch at batch 128 on random
// c×side×side images, at 1 and 2 kernel threads, reporting img/s.
func benchTrainStep(b *testing.B, arch string, c, side int) {
	const batch = 128
	x := tensor.Rand(tensor.NewRNG(1), batch, c, side, side)
	y := make([]int, batch)
	for i := range y {
		y[i] = i % 10
	}
	ds, err := data.FromTensor(x, y, 10)
	if err != nil {
		b.Fatal(err)
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			cfg := Config{Arch: arch, Epochs: 1, BatchSize: batch, LR: 0.01, Momentum: 0.9,
				Nesterov: true, WeightDecay: 5e-4, Threads: threads, Out: b.TempDir()}
			t, err := New(cfg, Options{Train: ds})
			if err != nil {
				b.Fatal(err)
			}
			defer t.Close()
			t.batcher.Reset(0)
			if !t.batcher.Next() {
				b.Fatal(t.batcher.Err())
			}
			bt := t.batcher.Batch()
			for i := range 2 { // warm the tape's arena and the optimizer state
				if _, _, err := t.trainStep(bt, 0, i); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, _, err := t.trainStep(bt, 0, i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "img/s")
		})
	}
}
