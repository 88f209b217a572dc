package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
)

// cvRand returns a tensor of the given shape with N(0, 1) entries.
func cvRand(rng *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.data {
		t.data[i] = float32(rng.NormFloat64())
	}
	return t
}

// cvWiden returns t's data as float64.
func cvWiden(t *Tensor) []float64 {
	out := make([]float64, len(t.data))
	for i, v := range t.data {
		out[i] = float64(v)
	}
	return out
}

// cvCheckGrad compares analytic gradients with central differences of the
// float64 loss f at the coordinates idx of x (all of them if idx is nil).
func cvCheckGrad(t *testing.T, what string, analytic []float32, x []float64, f func() float64, idx []int) {
	t.Helper()
	if idx == nil {
		idx = make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
	}
	for _, i := range idx {
		fd := testutil.CentralDiff(x, i, 1e-3, f)
		if d := math.Abs(float64(analytic[i]) - fd); d > 2e-4*(1+math.Abs(fd)) {
			t.Fatalf("%s: gradient [%d] = %v, finite difference %v", what, i, analytic[i], fd)
		}
	}
}

// cvSample returns up to k distinct indices in [0, n), or nil (meaning
// all) when n ≤ k.
func cvSample(rng *rand.Rand, n, k int) []int {
	if n <= k {
		return nil
	}
	return rng.Perm(n)[:k]
}

// refConv2d is the direct float64 definition of Conv2d. It also returns,
// per output, the sum of the absolute values of its terms, to scale
// tolerances.
func refConv2d(x, w, b []float64, xs, ws []int, p ConvParams) (out, scale []float64) {
	p = p.normalized("ref")
	n, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, cinG, kh, kw := ws[0], ws[1], ws[2], ws[3]
	coutG := cout / p.Groups
	oh := kernels.ConvOutSize(h, kh, p.StrideH, p.PadH, p.DilH)
	ow := kernels.ConvOutSize(wd, kw, p.StrideW, p.PadW, p.DilW)
	out, scale = make([]float64, n*cout*oh*ow), make([]float64, n*cout*oh*ow)
	for b0 := 0; b0 < n; b0++ {
		for co := 0; co < cout; co++ {
			grp := co / coutG
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s, a float64
					if b != nil {
						s, a = b[co], math.Abs(b[co])
					}
					for ci := 0; ci < cinG; ci++ {
						for i := 0; i < kh; i++ {
							for j := 0; j < kw; j++ {
								iy := oy*p.StrideH - p.PadH + i*p.DilH
								ix := ox*p.StrideW - p.PadW + j*p.DilW
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								t := w[((co*cinG+ci)*kh+i)*kw+j] * x[((b0*cin+grp*cinG+ci)*h+iy)*wd+ix]
								s += t
								a += math.Abs(t)
							}
						}
					}
					o := ((b0*cout+co)*oh+oy)*ow + ox
					out[o], scale[o] = s, a
				}
			}
		}
	}
	return out, scale
}

type convCase struct {
	n, cin, h, w, cout, kh, kw int
	p                          ConvParams
	bias                       bool
}

func (c convCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_co%d_k%dx%d_%+v_bias%v", c.n, c.cin, c.h, c.w, c.cout, c.kh, c.kw, c.p, c.bias)
}

var convCases = []convCase{
	{2, 3, 7, 5, 4, 3, 3, ConvParams{PadH: 1, PadW: 1}, true},
	{2, 3, 8, 7, 5, 3, 3, ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, false},
	{1, 2, 9, 9, 3, 3, 3, ConvParams{PadH: 2, PadW: 2, DilH: 2, DilW: 2}, true},
	{2, 4, 6, 7, 6, 3, 3, ConvParams{PadH: 1, PadW: 1, Groups: 2}, true},
	{3, 8, 6, 5, 4, 3, 3, ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, Groups: 2}, true},
	{3, 3, 5, 5, 2, 1, 1, ConvParams{}, true},                             // 1×1 via im2col
	{2, 4, 32, 32, 6, 1, 1, ConvParams{Groups: 2}, true},                  // 1×1 direct path
	{2, 4, 9, 8, 6, 1, 1, ConvParams{StrideH: 2, StrideW: 2}, false},      // projection
	{2, 3, 7, 8, 2, 2, 3, ConvParams{StrideH: 2, PadH: 1, DilW: 2}, true}, // rectangular
	{5, 2, 32, 32, 3, 3, 3, ConvParams{PadH: 1, PadW: 1}, true},           // several chunks, short last one
	{2, 3, 5, 5, 4, 5, 5, ConvParams{StrideH: 2, StrideW: 2, PadH: 2, PadW: 2}, false},
	{2, 3, 11, 10, 4, 3, 3, ConvParams{StrideH: 3, StrideW: 3, PadH: 1, PadW: 1}, true},                   // 9 phases
	{2, 2, 12, 11, 3, 3, 3, ConvParams{StrideH: 2, StrideW: 2, PadH: 2, PadW: 1, DilH: 2, DilW: 2}, true}, // taps in one phase
	{2, 2, 6, 5, 3, 3, 3, ConvParams{StrideH: 2, StrideW: 3, PadH: 0, PadW: 2}, false},                    // uneven strides
	{2, 2, 5, 6, 3, 2, 2, ConvParams{PadH: 2, PadW: 2}, true},
	{2, 2, 21, 20, 3, 3, 3, ConvParams{StrideH: 9, StrideW: 9, PadH: 1, PadW: 1}, true}, // beyond maxConvStride: im2col                                             // padding > k−1: no flipped form
}

// convThreads are the thread counts the tests run under: the batch is
// split into that many image ranges (uneven ones for odd n), so every
// split and the fixed-order reduction of weight-gradient partials run.
var convThreads = []int{1, 2, 3}

// forConvModes runs f for every case under every thread count.
func forConvModes(t *testing.T, f func(t *testing.T, tc convCase)) {
	for _, threads := range convThreads {
		for _, tc := range convCases {
			t.Run(fmt.Sprintf("threads%d/%v", threads, tc), func(t *testing.T) {
				defer kernels.SetThreads(kernels.SetThreads(threads))
				f(t, tc)
			})
		}
	}
}

func TestConv2dForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	forConvModes(t, func(t *testing.T, tc convCase) {
		x := cvRand(rng, tc.n, tc.cin, tc.h, tc.w)
		w := cvRand(rng, tc.cout, tc.cin/max(tc.p.Groups, 1), tc.kh, tc.kw)
		var b *Tensor
		var b64 []float64
		if tc.bias {
			b = cvRand(rng, tc.cout)
			b64 = cvWiden(b)
		}
		want, scale := refConv2d(cvWiden(x), cvWiden(w), b64, x.shape, w.shape, tc.p)
		got := Conv2d(nil, x, w, b, tc.p)
		checkClose(t, "Conv2d", got.data, want, scale, 1e-5)
		// A caller-provided output full of NaNs is fully overwritten.
		out := New(got.shape...)
		for i := range out.data {
			out.data[i] = float32(math.NaN())
		}
		if Conv2d(out, x, w, b, tc.p) != out {
			t.Fatal("Conv2d did not return the provided output")
		}
		checkClose(t, "Conv2d(out)", out.data, want, scale, 1e-5)
	})
}

// TestConv2dReLU checks that the fused Conv2dReLU is bit for bit Relu of
// Conv2d on every path (implicit GEMM, im2col, direct 1×1, groups), NaN
// inputs included, and leaves nothing of a NaN-filled output behind.
func TestConv2dReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	forConvModes(t, func(t *testing.T, tc convCase) {
		x := cvRand(rng, tc.n, tc.cin, tc.h, tc.w)
		x.data[len(x.data)/2] = float32(math.NaN())
		w := cvRand(rng, tc.cout, tc.cin/max(tc.p.Groups, 1), tc.kh, tc.kw)
		var b *Tensor
		if tc.bias {
			b = cvRand(rng, tc.cout)
		}
		want := Relu(nil, Conv2d(nil, x, w, b, tc.p))
		out := New(want.shape...)
		for i := range out.data {
			out.data[i] = float32(math.NaN())
		}
		got := Conv2dReLU(out, x, w, b, tc.p)
		for i, v := range want.data {
			if math.Float32bits(got.data[i]) != math.Float32bits(v) {
				t.Fatalf("element %d: Conv2dReLU %v, Relu(Conv2d) %v", i, got.data[i], v)
			}
		}
		// The run's ReLU flag does not leak into the next plain Conv2d.
		plain := Conv2d(nil, x, w, b, tc.p)
		if !slices.ContainsFunc(plain.data, func(v float32) bool { return v < 0 }) {
			t.Fatal("a Conv2d after Conv2dReLU was rectified")
		}
	})
}

// TestConv2dBackward checks dx, dw and db against central differences of
// the float64 loss L = Σ out·r.
func TestConv2dBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	forConvModes(t, func(t *testing.T, tc convCase) {
		x := cvRand(rng, tc.n, tc.cin, tc.h, tc.w)
		w := cvRand(rng, tc.cout, tc.cin/max(tc.p.Groups, 1), tc.kh, tc.kw)
		b := cvRand(rng, tc.cout)
		x64, w64, b64 := cvWiden(x), cvWiden(w), cvWiden(b)
		y := Conv2d(nil, x, w, b, tc.p)
		r := cvRand(rng, y.shape...)
		r64 := cvWiden(r)
		loss := func() float64 {
			out, _ := refConv2d(x64, w64, b64, x.shape, w.shape, tc.p)
			var s float64
			for i, v := range out {
				s += v * r64[i]
			}
			return s
		}
		dx := Conv2dBackwardInput(nil, r, w, x.shape, tc.p)
		dw := Conv2dBackwardWeight(nil, r, x, w.shape, tc.p)
		db := Conv2dBackwardBias(nil, r)
		cvCheckGrad(t, "dx", dx.data, x64, loss, cvSample(rng, len(x64), 40))
		cvCheckGrad(t, "dw", dw.data, w64, loss, cvSample(rng, len(w64), 40))
		cvCheckGrad(t, "db", db.data, b64, loss, nil)

		// Provided outputs full of NaNs are overwritten, not read.
		dx2, dw2 := New(dx.shape...), New(dw.shape...)
		for i := range dx2.data {
			dx2.data[i] = float32(math.NaN())
		}
		for i := range dw2.data {
			dw2.data[i] = float32(math.NaN())
		}
		Conv2dBackwardInput(dx2, r, w, x.shape, tc.p)
		Conv2dBackwardWeight(dw2, r, x, w.shape, tc.p)
		for i := range dx.data {
			if dx.data[i] != dx2.data[i] {
				t.Fatalf("dx with provided output differs at %d", i)
			}
		}
		// Deterministic, and the accumulating variant adds.
		for i := range dw.data {
			if dw.data[i] != dw2.data[i] {
				t.Fatalf("dw not deterministic at %d: %v then %v", i, dw.data[i], dw2.data[i])
			}
		}
		acc := cvRand(rng, dw.shape...)
		want := cvWiden(acc)
		for i := range want {
			want[i] += float64(dw.data[i])
		}
		Conv2dBackwardWeightAcc(acc, r, x, tc.p)
		checkClose(t, "Conv2dBackwardWeightAcc", acc.data, want, nil, 1e-5)
	})
}

func TestConv2dEmptyBatch(t *testing.T) {
	x, w := New(0, 3, 8, 8), New(4, 3, 3, 3)
	p := ConvParams{PadH: 1, PadW: 1}
	if y := Conv2d(nil, x, w, nil, p); !SameShape(y, New(0, 4, 8, 8)) {
		t.Fatalf("Conv2d of an empty batch has shape %v", y.shape)
	}
	dw := New(4, 3, 3, 3)
	dw.data[0] = 5
	Conv2dBackwardWeight(dw, New(0, 4, 8, 8), x, w.shape, p)
	if dw.data[0] != 0 {
		t.Fatal("Conv2dBackwardWeight of an empty batch did not zero the gradient")
	}
}

func TestConv2dMisuse(t *testing.T) {
	x, w := New(2, 3, 8, 8), New(4, 3, 3, 3)
	p := ConvParams{PadH: 1, PadW: 1}
	testutil.CheckPanic(t, func() { Conv2d(nil, x, New(4, 5, 3, 3), nil, p) },
		"tensor.Conv2d", "[2 3 8 8]", "[4 5 3 3]", "channels 3 != 5")
	testutil.CheckPanic(t, func() { Conv2d(New(2, 4, 7, 8), x, w, nil, p) }, "tensor.Conv2d", "[2 4 7 8]", "[2 4 8 8]")
	testutil.CheckPanic(t, func() { Conv2d(nil, x, w, New(5), p) }, "tensor.Conv2d", "bias [5]")
	testutil.CheckPanic(t, func() { Conv2d(nil, x, w, nil, ConvParams{StrideH: -1}) }, "tensor.Conv2d", "invalid params")
	testutil.CheckPanic(t, func() { Conv2d(nil, x, New(4, 1, 3, 3), nil, ConvParams{Groups: 2}) }, "tensor.Conv2d", "groups 2")
	testutil.CheckPanic(t, func() { Conv2d(nil, x, New(4, 3, 9, 9), nil, ConvParams{}) }, "tensor.Conv2d", "larger than padded input")
	testutil.CheckPanic(t, func() { Conv2d(nil, New(3, 8, 8), w, nil, p) }, "tensor.Conv2d", "rank-4")
	testutil.CheckPanic(t, func() { Conv2dBackwardInput(nil, New(2, 4, 4, 4), w, x.shape, p) },
		"tensor.Conv2dBackwardInput", "dy has shape [2 4 4 4], want [2 4 8 8]")
	testutil.CheckPanic(t, func() { Conv2dBackwardWeight(nil, New(2, 4, 8, 8), x, []int{4, 2, 3, 3}, p) },
		"tensor.Conv2dBackwardWeight", "channels 3 != 2")
	testutil.CheckPanic(t, func() { Conv2dBackwardWeight(New(4, 3, 1, 1), New(2, 4, 8, 8), x, w.shape, p) },
		"tensor.Conv2dBackwardWeight", "out has shape [4 3 1 1]")
	testutil.CheckPanic(t, func() { Conv2dBackwardBias(New(3), New(2, 4, 8, 8)) }, "tensor.Conv2dBackwardBias", "[3]", "[4]")
}

// TestConv2dNoAlloc checks that steady-state calls with provided outputs
// do not allocate, on both the im2col and the direct 1×1 paths.
func TestConv2dNoAlloc(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []convCase{
		{4, 8, 16, 16, 16, 3, 3, ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, true},
		{2, 8, 32, 32, 8, 1, 1, ConvParams{}, true},
	} {
		t.Run(tc.String(), func(t *testing.T) {
			x := cvRand(rng, tc.n, tc.cin, tc.h, tc.w)
			w := cvRand(rng, tc.cout, tc.cin, tc.kh, tc.kw)
			b := cvRand(rng, tc.cout)
			y := Conv2d(nil, x, w, b, tc.p)
			dx, dw, db := New(x.shape...), New(w.shape...), New(tc.cout)
			allocs := testing.AllocsPerRun(20, func() {
				Conv2d(y, x, w, b, tc.p)
				Conv2dBackwardInput(dx, y, w, x.shape, tc.p)
				Conv2dBackwardWeight(dw, y, x, w.shape, tc.p)
				Conv2dBackwardBias(db, y)
			})
			if allocs != 0 {
				t.Errorf("%v: %v allocations per forward+backward", tc, allocs)
			}
		})
	}
}
