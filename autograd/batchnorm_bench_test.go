package autograd

import (
	"fmt"
	"testing"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// BenchmarkBatchNorm2d measures BatchNorm2d's train-mode forward and
// backward (input and parameter gradients) on ResNet-20's three stage
// shapes at batch 128, on 1 kernel thread, reporting elements per second.
func BenchmarkBatchNorm2d(b *testing.B) {
	for _, s := range [][4]int{{128, 16, 32, 32}, {128, 32, 16, 16}, {128, 64, 8, 8}} {
		b.Run(fmt.Sprintf("%dx%dx%dx%d", s[0], s[1], s[2], s[3]), func(b *testing.B) {
			defer kernels.SetThreads(kernels.SetThreads(1))
			rng := tensor.NewRNG(1)
			x := Leaf(randT(rng, -1, 3, s[:]...), true)
			g := Leaf(tensor.New(s[1]).Fill(1), true)
			be := Leaf(tensor.New(s[1]), true)
			st := &BatchNormState{RunningMean: tensor.New(s[1]), RunningVar: tensor.New(s[1]).Fill(1)}
			dy := randT(rng, -1, 1, s[:]...)
			tp := NewTape()
			step := func() {
				tp.Reset()
				x.ZeroGrad()
				g.ZeroGrad()
				be.ZeroGrad()
				y := tp.BatchNorm2d(x, g, be, st, true)
				tp.BackwardFrom(y, dy)
			}
			step()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				step()
			}
			b.ReportMetric(float64(b.N*x.Value.Len())/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}
