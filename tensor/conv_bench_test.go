package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/kernels"
)

// convLayer is one benchmarked convolution: 3×3 with padding pad (pad 1
// for ResNet-20, unpadded for SmallCNN) or a 1×1 stride-2 projection.
type convLayer struct {
	cin, cout, h, k, stride, pad int
}

// resnet20Convs are the distinct convolution layers of ResNet-20 on
// CIFAR-10 (3×3 pad 1 unless a 1×1 stride-2 projection), at batch 128.
var resnet20Convs = []convLayer{
	{3, 16, 32, 3, 1, 1},
	{16, 16, 32, 3, 1, 1},
	{16, 32, 32, 3, 2, 1},
	{32, 32, 16, 3, 1, 1},
	{32, 64, 16, 3, 2, 1},
	{64, 64, 8, 3, 1, 1},
	{16, 32, 32, 1, 2, 0},
	{32, 64, 16, 1, 2, 0},
}

// smallCNNConvs are the convolution layers of SmallCNN on 28×28 images
// (3×3, unpadded), the pruning experiments' model.
var smallCNNConvs = []convLayer{
	{1, 32, 28, 3, 1, 0},
	{32, 32, 26, 3, 1, 0},
	{32, 64, 12, 3, 1, 0},
	{64, 64, 10, 3, 1, 0},
}

const benchBatch = 128

// BenchmarkConv2dResNet20 times forward, backward-input and
// backward-weight for each ResNet-20 layer, reporting GFLOP/s counted as
// 2·N·Cout·OH·OW·Cin·KH·KW per pass.
func BenchmarkConv2dResNet20(b *testing.B) { benchConvs(b, resnet20Convs, false) }

// BenchmarkConv2dSmallCNN is BenchmarkConv2dResNet20 for SmallCNN's
// layers, at 1 and 2 kernel threads: where a second thread pays.
func BenchmarkConv2dSmallCNN(b *testing.B) { benchConvs(b, smallCNNConvs, true) }

// benchConvs times the three passes of every layer, at the current thread
// count or, with threads, at 1 and 2 (named threads=N).
func benchConvs(b *testing.B, layers []convLayer, threads bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	counts := []int{0}
	if threads {
		counts = []int{1, 2}
	}
	for _, l := range layers {
		p := ConvParams{StrideH: l.stride, StrideW: l.stride, PadH: l.pad, PadW: l.pad}
		x := cvRand(rng, benchBatch, l.cin, l.h, l.h)
		w := cvRand(rng, l.cout, l.cin, l.k, l.k)
		bias := cvRand(rng, l.cout)
		y := Conv2d(nil, x, w, bias, p)
		dx, dw := New(x.shape...), New(w.shape...)
		flops := 2 * float64(y.Len()) * float64(l.cin*l.k*l.k)
		name := fmt.Sprintf("c%d_co%d_h%d_k%d_s%d", l.cin, l.cout, l.h, l.k, l.stride)
		for _, pass := range []struct {
			name string
			run  func()
		}{
			{"fwd", func() { Conv2d(y, x, w, bias, p) }},
			{"bwdInput", func() { Conv2dBackwardInput(dx, y, w, x.shape, p) }},
			{"bwdWeight", func() { Conv2dBackwardWeight(dw, y, x, w.shape, p) }},
		} {
			for _, t := range counts {
				sub := name + "/" + pass.name
				if t > 0 {
					sub += fmt.Sprintf("/threads=%d", t)
				}
				b.Run(sub, func(b *testing.B) {
					if t > 0 {
						defer kernels.SetThreads(kernels.SetThreads(t))
					}
					b.ReportAllocs()
					pass.run()
					b.ResetTimer()
					for b.Loop() {
						pass.run()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
