package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// refPool2d is the direct float64 definition of max pooling (avg false,
// returning argmax indices within each plane) or average pooling with
// count_include_pad (avg true).
func refPool2d(x []float64, xs []int, p PoolParams, avg bool) ([]float64, []int32) {
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	if p.StrideH == 0 {
		p.StrideH = p.KernelH
	}
	if p.StrideW == 0 {
		p.StrideW = p.KernelW
	}
	oh := (h+2*p.PadH-p.KernelH)/p.StrideH + 1
	ow := (w+2*p.PadW-p.KernelW)/p.StrideW + 1
	out, idx := make([]float64, n*c*oh*ow), make([]int32, n*c*oh*ow)
	for pl := 0; pl < n*c; pl++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best, at, sum := math.Inf(-1), -1, 0.0
				for i := 0; i < p.KernelH; i++ {
					for j := 0; j < p.KernelW; j++ {
						iy, ix := oy*p.StrideH-p.PadH+i, ox*p.StrideW-p.PadW+j
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						v := x[(pl*h+iy)*w+ix]
						sum += v
						if v > best {
							best, at = v, iy*w+ix
						}
					}
				}
				o := (pl*oh+oy)*ow + ox
				if avg {
					out[o] = sum / float64(p.KernelH*p.KernelW)
				} else {
					out[o], idx[o] = best, int32(at)
				}
			}
		}
	}
	return out, idx
}

// poolDistinct returns a tensor whose entries are a shuffled arithmetic
// progression with spacing 0.01, so max pooling has no ties and small
// perturbations do not change the winners.
func poolDistinct(rng *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i, k := range rng.Perm(len(t.data)) {
		t.data[i] = float32(k)*0.01 - 1
	}
	return t
}

var poolCases = []struct {
	shape []int
	p     PoolParams
}{
	{[]int{2, 3, 7, 5}, PoolParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{[]int{2, 2, 8, 8}, PoolParams{KernelH: 2, KernelW: 2}},
	{[]int{1, 3, 9, 7}, PoolParams{KernelH: 3, KernelW: 2, StrideH: 1, StrideW: 2, PadH: 1}},
	{[]int{3, 2, 5, 5}, PoolParams{KernelH: 5, KernelW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2}},
}

func TestPool2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range poolCases {
		t.Run(fmt.Sprintf("%v_%+v", tc.shape, tc.p), func(t *testing.T) {
			x := poolDistinct(rng, tc.shape...)
			x64 := cvWiden(x)
			for _, avg := range []bool{false, true} {
				want, wantIdx := refPool2d(x64, x.shape, tc.p, avg)
				var y *Tensor
				var idx []int32
				if avg {
					y = AvgPool2d(nil, x, tc.p)
				} else {
					y, idx = MaxPool2d(nil, nil, x, tc.p)
					for i := range idx {
						if idx[i] != wantIdx[i] {
							t.Fatalf("MaxPool2d idx[%d] = %d, want %d", i, idx[i], wantIdx[i])
						}
					}
				}
				checkClose(t, fmt.Sprintf("pool avg=%v", avg), y.data, want, nil, 1e-6)

				r := cvRand(rng, y.shape...)
				r64 := cvWiden(r)
				loss := func() float64 {
					out, _ := refPool2d(x64, x.shape, tc.p, avg)
					var s float64
					for i, v := range out {
						s += v * r64[i]
					}
					return s
				}
				var dx *Tensor
				if avg {
					dx = AvgPool2dBackward(nil, r, x.shape, tc.p)
				} else {
					dx = MaxPool2dBackward(nil, r, idx, x.shape)
				}
				cvCheckGrad(t, fmt.Sprintf("pool avg=%v dx", avg), dx.data, x64, loss, nil)
			}
		})
	}
}

func TestGlobalAvgPool2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	x := cvRand(rng, 3, 5, 7, 6)
	x64 := cvWiden(x)
	mean := func() []float64 {
		out := make([]float64, 15)
		for pl := range out {
			for _, v := range x64[pl*42 : (pl+1)*42] {
				out[pl] += v / 42
			}
		}
		return out
	}
	y := GlobalAvgPool2d(nil, x)
	if !SameShape(y, New(3, 5)) {
		t.Fatalf("GlobalAvgPool2d shape %v, want [3 5]", y.shape)
	}
	checkClose(t, "GlobalAvgPool2d", y.data, mean(), nil, 1e-6)
	r := cvRand(rng, 3, 5)
	loss := func() float64 {
		var s float64
		for i, v := range mean() {
			s += v * float64(r.data[i])
		}
		return s
	}
	dx := GlobalAvgPool2dBackward(nil, r, x.shape)
	cvCheckGrad(t, "GlobalAvgPool2d dx", dx.data, x64, loss, nil)
}

func TestMaxPool2dNaN(t *testing.T) {
	x := New(1, 1, 2, 2)
	copy(x.data, []float32{1, float32(math.NaN()), 3, 2})
	y, idx := MaxPool2d(nil, nil, x, PoolParams{KernelH: 2, KernelW: 2})
	if !math.IsNaN(float64(y.data[0])) || idx[0] != 1 {
		t.Fatalf("MaxPool2d with a NaN = %v at %d, want NaN at 1", y.data[0], idx[0])
	}
}

// TestMaxPool2x2 checks the unrolled 2×2/stride-2 path against the
// general loop, value and index, on odd and even planes with ties, NaNs
// and -Inf, where the order of comparisons decides the index.
func TestMaxPool2x2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []float32{0, 1, -1, float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN())}
	for _, shape := range [][]int{{2, 3, 8, 8}, {1, 2, 7, 9}, {3, 1, 2, 2}, {1, 1, 5, 3}} {
		x := New(shape...)
		for i := range x.data {
			if rng.IntN(2) == 0 {
				x.data[i] = specials[rng.IntN(len(specials))]
			} else {
				x.data[i] = float32(rng.IntN(3))
			}
		}
		p := PoolParams{KernelH: 2, KernelW: 2}
		g := newPoolGeom("MaxPool2d", x.shape, p)
		if !g.is2x2() {
			t.Fatalf("%v: geometry %+v not 2x2", shape, g)
		}
		y, idx := MaxPool2d(nil, nil, x, p)
		want, wantIdx := New(y.shape...), make([]int32, len(idx))
		in, on := g.h*g.w, g.oh*g.ow
		for pl := range g.n * g.c {
			g.maxPlane(x.data[pl*in:(pl+1)*in], want.data[pl*on:(pl+1)*on], wantIdx[pl*on:(pl+1)*on])
		}
		for i := range idx {
			same := y.data[i] == want.data[i] || y.data[i] != y.data[i] && want.data[i] != want.data[i]
			if !same || idx[i] != wantIdx[i] {
				t.Fatalf("%v: output %d = %v at %d, general loop %v at %d", shape, i, y.data[i], idx[i], want.data[i], wantIdx[i])
			}
		}
	}
}

// BenchmarkMaxPool2d is SmallCNN's pooling of a batch of 128: 32 channels
// of 28×28, 2×2 at stride 2.
func BenchmarkMaxPool2d(b *testing.B) {
	x := cvRand(rand.New(rand.NewPCG(1, 2)), 128, 32, 28, 28)
	p := PoolParams{KernelH: 2, KernelW: 2}
	y, idx := MaxPool2d(nil, nil, x, p)
	b.ReportAllocs()
	for b.Loop() {
		MaxPool2d(y, idx, x, p)
	}
}

func TestPoolMisuse(t *testing.T) {
	x := New(2, 3, 8, 8)
	p := PoolParams{KernelH: 2, KernelW: 2}
	testutil.CheckPanic(t, func() { MaxPool2d(nil, nil, New(3, 8, 8), p) }, "tensor.MaxPool2d", "[3 8 8]")
	testutil.CheckPanic(t, func() { MaxPool2d(New(2, 3, 3, 3), nil, x, p) }, "tensor.MaxPool2d", "[2 3 3 3]", "[2 3 4 4]")
	testutil.CheckPanic(t, func() { MaxPool2d(nil, make([]int32, 5), x, p) }, "tensor.MaxPool2d", "len(idx) = 5")
	testutil.CheckPanic(t, func() { MaxPool2d(nil, nil, x, PoolParams{KernelH: 2, KernelW: 2, PadH: 2}) }, "tensor.MaxPool2d", "invalid params")
	testutil.CheckPanic(t, func() { AvgPool2d(nil, x, PoolParams{}) }, "tensor.AvgPool2d", "invalid params")
	testutil.CheckPanic(t, func() { AvgPool2d(nil, x, PoolParams{KernelH: 9, KernelW: 9}) }, "tensor.AvgPool2d", "smaller than")
	testutil.CheckPanic(t, func() { AvgPool2dBackward(nil, New(2, 3, 5, 4), x.shape, p) }, "tensor.AvgPool2dBackward", "[2 3 5 4]")
	testutil.CheckPanic(t, func() { MaxPool2dBackward(nil, New(2, 4, 4, 4), nil, x.shape) }, "tensor.MaxPool2dBackward", "[2 4 4 4]")
	testutil.CheckPanic(t, func() { GlobalAvgPool2d(New(2, 4), x) }, "tensor.GlobalAvgPool2d", "[2 4]", "[2 3]")
	testutil.CheckPanic(t, func() { GlobalAvgPool2dBackward(nil, New(2, 4), x.shape) }, "tensor.GlobalAvgPool2dBackward", "[2 4]")
}

func TestPoolNoAlloc(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	rng := rand.New(rand.NewPCG(17, 18))
	x := cvRand(rng, 8, 16, 32, 32)
	p := PoolParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	y, idx := MaxPool2d(nil, nil, x, p)
	dx, g := New(x.shape...), New(8, 16)
	allocs := testing.AllocsPerRun(20, func() {
		MaxPool2d(y, idx, x, p)
		MaxPool2dBackward(dx, y, idx, x.shape)
		AvgPool2d(y, x, p)
		AvgPool2dBackward(dx, y, x.shape, p)
		GlobalAvgPool2d(g, x)
		GlobalAvgPool2dBackward(dx, g, x.shape)
	})
	if allocs != 0 {
		t.Errorf("pooling allocates %v times per round", allocs)
	}
}
