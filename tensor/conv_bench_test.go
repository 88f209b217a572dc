package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// resnet20Convs are the distinct convolution layers of ResNet-20 on
// CIFAR-10 (3×3 pad 1 unless a 1×1 stride-2 projection), at batch 128.
var resnet20Convs = []struct {
	cin, cout, h, k, stride int
}{
	{3, 16, 32, 3, 1},
	{16, 16, 32, 3, 1},
	{16, 32, 32, 3, 2},
	{32, 32, 16, 3, 1},
	{32, 64, 16, 3, 2},
	{64, 64, 8, 3, 1},
	{16, 32, 32, 1, 2},
	{32, 64, 16, 1, 2},
}

const benchBatch = 128

// BenchmarkConv2dResNet20 times forward, backward-input and
// backward-weight for each ResNet-20 layer, reporting GFLOP/s counted as
// 2·N·Cout·OH·OW·Cin·KH·KW per pass.
func BenchmarkConv2dResNet20(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, l := range resnet20Convs {
		p := ConvParams{StrideH: l.stride, StrideW: l.stride, PadH: l.k / 2, PadW: l.k / 2}
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
			b.Run(name+"/"+pass.name, func(b *testing.B) {
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
