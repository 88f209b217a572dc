package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// randT returns a tensor of the given shape, uniform in [lo, hi).
func randT(rng *tensor.RNG, lo, hi float32, shape ...int) *tensor.Tensor {
	return rng.Uniform(tensor.New(shape...), lo, hi)
}

// awayFrom moves every element of t at least margin away from each of the
// points (keeping its side), so finite differences do not cross a kink.
func awayFrom(t *tensor.Tensor, margin float32, points ...float32) *tensor.Tensor {
	d := t.Data()
	for i, v := range d {
		for _, p := range points {
			if v-p >= 0 && v-p < margin {
				v = p + margin + (v - p)
			} else if v-p < 0 && p-v < margin {
				v = p - margin - (p - v)
			}
		}
		d[i] = v
	}
	return t
}

// distinct returns a tensor whose elements are a random permutation of
// evenly spaced values in [-1, 1], so max-pooling has no ties.
func distinct(rng *tensor.RNG, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	n := t.Len()
	for i, p := range rng.Perm(n) {
		t.Data()[i] = -1 + 2*float32(p)/float32(max(n-1, 1))
	}
	return t
}

// gradCheck runs GradCheck and fails the test on an error.
func gradCheck(t *testing.T, name string, f func(tp *Tape, xs []*Var) *Var, inputs []*tensor.Tensor, o GradCheckOptions) {
	t.Helper()
	if err := GradCheck(f, inputs, o); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// wrtVariants lists the Wrt settings to check an n-input op with: all
// inputs, then each one alone.
func wrtVariants(n int) [][]bool {
	vs := [][]bool{nil}
	if n > 1 {
		for i := range n {
			w := make([]bool, n)
			w[i] = true
			vs = append(vs, w)
		}
	}
	return vs
}

func TestGradBinaryBroadcast(t *testing.T) {
	rng := tensor.NewRNG(1)
	pairs := [][2][]int{
		{{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{3}, {2, 3}}, {{2, 1, 4}, {3, 1}},
		{{4, 3, 5}, {1}}, {{1}, {2, 2}}, {{2, 3, 4}, {2, 1, 4}}, {{3, 1}, {1, 5}},
	}
	ops := map[string]func(tp *Tape, a, b *Var) *Var{
		"Add": (*Tape).Add, "Sub": (*Tape).Sub, "Mul": (*Tape).Mul,
	}
	for name, op := range ops {
		for _, p := range pairs {
			for _, wrt := range wrtVariants(2) {
				in := []*tensor.Tensor{randT(rng, -1, 1, p[0]...), randT(rng, -1, 1, p[1]...)}
				gradCheck(t, fmt.Sprintf("%s %v %v wrt %v", name, p[0], p[1], wrt),
					func(tp *Tape, xs []*Var) *Var { return op(tp, xs[0], xs[1]) }, in, GradCheckOptions{Wrt: wrt})
			}
		}
		// The same Var on both sides, then reused downstream.
		in := []*tensor.Tensor{randT(rng, -1, 1, 3, 4)}
		gradCheck(t, name+" x,x", func(tp *Tape, xs []*Var) *Var {
			y := op(tp, xs[0], xs[0])
			return tp.Mul(op(tp, y, xs[0]), y)
		}, in, GradCheckOptions{})
	}
}

func TestGradScalarOps(t *testing.T) {
	rng := tensor.NewRNG(2)
	in := []*tensor.Tensor{randT(rng, -1, 1, 2, 3, 5)}
	gradCheck(t, "AddScalar", func(tp *Tape, xs []*Var) *Var {
		return tp.Mul(tp.AddScalar(xs[0], 0.7), xs[0])
	}, in, GradCheckOptions{})
	gradCheck(t, "MulScalar", func(tp *Tape, xs []*Var) *Var { return tp.MulScalar(xs[0], -1.3) }, in, GradCheckOptions{})
}

func TestGradMatMul(t *testing.T) {
	rng := tensor.NewRNG(3)
	const m, k, n = 3, 4, 5
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			as, bs := []int{m, k}, []int{k, n}
			if ta {
				as = []int{k, m}
			}
			if tb {
				bs = []int{n, k}
			}
			for _, wrt := range wrtVariants(2) {
				in := []*tensor.Tensor{randT(rng, -1, 1, as...), randT(rng, -1, 1, bs...)}
				gradCheck(t, fmt.Sprintf("MatMul transA=%v transB=%v wrt %v", ta, tb, wrt),
					func(tp *Tape, xs []*Var) *Var { return tp.MatMul(xs[0], xs[1], ta, tb) }, in, GradCheckOptions{Wrt: wrt})
			}
		}
	}
}

func TestGradLinear(t *testing.T) {
	rng := tensor.NewRNG(4)
	for _, wrt := range wrtVariants(3) {
		in := []*tensor.Tensor{randT(rng, -1, 1, 3, 5), randT(rng, -1, 1, 4, 5), randT(rng, -1, 1, 4)}
		gradCheck(t, fmt.Sprintf("Linear wrt %v", wrt), func(tp *Tape, xs []*Var) *Var {
			return tp.Linear(xs[0], xs[1], xs[2])
		}, in, GradCheckOptions{Wrt: wrt})
	}
	in := []*tensor.Tensor{randT(rng, -1, 1, 3, 5), randT(rng, -1, 1, 4, 5)}
	gradCheck(t, "Linear no bias", func(tp *Tape, xs []*Var) *Var {
		return tp.Linear(xs[0], xs[1], nil)
	}, in, GradCheckOptions{})
}

func TestGradConv2d(t *testing.T) {
	rng := tensor.NewRNG(5)
	cases := []struct {
		x, w []int
		p    tensor.ConvParams
		bias bool
	}{
		{[]int{2, 3, 5, 6}, []int{4, 3, 3, 3}, tensor.ConvParams{PadH: 1, PadW: 1}, true},
		{[]int{2, 3, 7, 6}, []int{4, 3, 3, 3}, tensor.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, false},
		{[]int{2, 4, 5, 5}, []int{6, 2, 3, 3}, tensor.ConvParams{PadH: 1, PadW: 1, Groups: 2}, true},
		{[]int{1, 2, 7, 7}, []int{3, 2, 3, 3}, tensor.ConvParams{DilH: 2, DilW: 2, PadH: 1}, true},
		{[]int{3, 5, 4, 3}, []int{2, 5, 1, 1}, tensor.ConvParams{}, false},
		{[]int{2, 2, 6, 5}, []int{3, 2, 2, 3}, tensor.ConvParams{StrideH: 2, PadW: 1}, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("x%v_w%v", c.x, c.w), func(t *testing.T) {
			in := []*tensor.Tensor{randT(rng, -1, 1, c.x...), randT(rng, -1, 1, c.w...)}
			if c.bias {
				in = append(in, randT(rng, -1, 1, c.w[0]))
			}
			conv := func(op func(tp *Tape, x, w, b *Var, p tensor.ConvParams) *Var) func(tp *Tape, xs []*Var) *Var {
				return func(tp *Tape, xs []*Var) *Var {
					var b *Var
					if c.bias {
						b = xs[2]
					}
					return op(tp, xs[0], xs[1], b, c.p)
				}
			}
			for _, wrt := range wrtVariants(len(in)) {
				gradCheck(t, fmt.Sprintf("Conv2d x%v w%v %+v wrt %v", c.x, c.w, c.p, wrt), conv((*Tape).Conv2d), in, GradCheckOptions{Wrt: wrt})
			}
			// Conv2dReLU, away from the kink: x ≥ 0.5 and each output
			// channel's weights and bias of one sign, alternating, so every
			// output is at least 0.25 from zero and both sides are checked.
			in = []*tensor.Tensor{randT(rng, 0.5, 1, c.x...), randT(rng, 0.5, 1, c.w...)}
			if c.bias {
				in = append(in, randT(rng, 0, 0.2, c.w[0]))
			}
			per := len(in[1].Data()) / c.w[0]
			for co := 1; co < c.w[0]; co += 2 {
				kernels.Scale(-1, in[1].Data()[co*per:(co+1)*per])
				if c.bias {
					in[2].Data()[co] = -in[2].Data()[co]
				}
			}
			for _, wrt := range wrtVariants(len(in)) {
				gradCheck(t, fmt.Sprintf("Conv2dReLU x%v w%v %+v wrt %v", c.x, c.w, c.p, wrt), conv((*Tape).Conv2dReLU), in, GradCheckOptions{Wrt: wrt})
			}
		})
	}
}

// TestFusedReLUBitIdentical checks that every fused op ending in a ReLU
// gives the same bits as its two ops, in value and every gradient: with
// all inputs requiring a gradient and with only the first (an attack's
// case, where BatchNorm's backward skips its statistics pass and masks dy
// on its second), in train and eval mode, on planes larger than a block.
func TestFusedReLUBitIdentical(t *testing.T) {
	rng := tensor.NewRNG(6)
	p := tensor.ConvParams{PadH: 1, PadW: 1}
	cases := []struct {
		name            string
		in              []*tensor.Tensor
		fused, composed func(tp *Tape, xs []*Var) *Var
	}{
		{"Conv2dReLU", []*tensor.Tensor{randT(rng, -1, 1, 3, 4, 9, 8), randT(rng, -1, 1, 5, 4, 3, 3), randT(rng, -1, 1, 5)},
			func(tp *Tape, xs []*Var) *Var { return tp.Conv2dReLU(xs[0], xs[1], xs[2], p) },
			func(tp *Tape, xs []*Var) *Var { return tp.Relu(tp.Conv2d(xs[0], xs[1], xs[2], p)) }},
		{"AddReLU", []*tensor.Tensor{randT(rng, -1, 1, 3, 5, 9, 8), randT(rng, -1, 1, 3, 5, 9, 8)},
			func(tp *Tape, xs []*Var) *Var { return tp.AddReLU(xs[0], xs[1]) },
			func(tp *Tape, xs []*Var) *Var { return tp.Relu(tp.Add(xs[0], xs[1])) }},
	}
	for _, train := range []bool{true, false} {
		st := newBNState(rng, 3)
		cases = append(cases, struct {
			name            string
			in              []*tensor.Tensor
			fused, composed func(tp *Tape, xs []*Var) *Var
		}{fmt.Sprintf("BatchNorm2dReLU train=%v", train),
			[]*tensor.Tensor{randT(rng, -1, 2, 4, 3, 20, 30), randT(rng, 0.5, 1.5, 3), randT(rng, -1, 1, 3)},
			func(tp *Tape, xs []*Var) *Var { return tp.BatchNorm2dReLU(xs[0], xs[1], xs[2], st, train) },
			func(tp *Tape, xs []*Var) *Var { return tp.Relu(tp.BatchNorm2d(xs[0], xs[1], xs[2], st, train)) }})
	}
	for _, c := range cases {
		for _, all := range []bool{true, false} {
			run := func(f func(tp *Tape, xs []*Var) *Var) []*tensor.Tensor {
				tp := NewTape()
				xs := make([]*Var, len(c.in))
				for i, x := range c.in {
					xs[i] = Leaf(x.Clone(), all || i == 0)
				}
				y := f(tp, xs)
				r := randT(tensor.NewRNG(9), -1, 1, y.Value.Shape()...) // the same in both runs
				tp.Backward(tp.Add(tp.Sum(tp.Mul(y, Leaf(r, false))), tp.Sum(tp.Mul(y, y))))
				out := []*tensor.Tensor{y.Value.Clone()}
				for _, x := range xs {
					if x.Grad != nil {
						out = append(out, x.Grad)
					}
				}
				return out
			}
			want, got := run(c.composed), run(c.fused)
			if len(got) != len(want) {
				t.Fatalf("%s: %d gradients, the two ops %d", c.name, len(got)-1, len(want)-1)
			}
			for i := range want {
				for j, v := range want[i].Data() {
					if math.Float32bits(got[i].Data()[j]) != math.Float32bits(v) {
						t.Fatalf("%s (all inputs %v): tensor %d (0 = output) [%d]: fused %v, two ops %v", c.name, all, i, j, got[i].Data()[j], v)
					}
				}
			}
		}
	}
}

// TestGradFusedReLU checks BatchNorm2dReLU and AddReLU against finite
// differences away from the kink: BatchNorm's channels are shifted by
// β = ±4, beyond the reach of γ·x̂, so each is wholly on one side, and
// AddReLU's sums are at least 0.2 from zero.
func TestGradFusedReLU(t *testing.T) {
	rng := tensor.NewRNG(8)
	for _, train := range []bool{true, false} {
		st := newBNState(rng, 3)
		in := []*tensor.Tensor{randT(rng, -1, 2, 4, 3, 3, 2), randT(rng, 0.5, 1.5, 3), tensor.New(3).Fill(4)}
		in[2].Data()[1] = -4
		f := func(tp *Tape, xs []*Var) *Var { return tp.BatchNorm2dReLU(xs[0], xs[1], xs[2], st, train) }
		for _, wrt := range wrtVariants(3) {
			gradCheck(t, fmt.Sprintf("BatchNorm2dReLU train=%v wrt %v", train, wrt), f, in, GradCheckOptions{Wrt: wrt})
		}
	}
	in := []*tensor.Tensor{awayFrom(randT(rng, -2, 2, 3, 4, 5), 0.3, 0), randT(rng, -0.1, 0.1, 3, 4, 5)}
	for _, wrt := range wrtVariants(2) {
		gradCheck(t, fmt.Sprintf("AddReLU wrt %v", wrt), func(tp *Tape, xs []*Var) *Var { return tp.AddReLU(xs[0], xs[1]) }, in, GradCheckOptions{Wrt: wrt})
	}
	// One input used twice: the shared gradient must not be masked twice.
	gradCheck(t, "AddReLU(x, x)", func(tp *Tape, xs []*Var) *Var { return tp.AddReLU(xs[0], xs[0]) }, in[:1], GradCheckOptions{})
	testutil.CheckPanic(t, func() { NewTape().AddReLU(Leaf(tensor.New(2, 3), true), Leaf(tensor.New(3, 2), true)) }, "AddReLU", "differ")
}

// newBNState returns running statistics for c channels with random means
// and positive variances.
func newBNState(rng *tensor.RNG, c int) *BatchNormState {
	return &BatchNormState{RunningMean: randT(rng, -0.5, 0.5, c), RunningVar: randT(rng, 0.5, 1.5, c), Momentum: 0.1, Eps: 1e-5}
}

func TestGradBatchNorm2d(t *testing.T) {
	rng := tensor.NewRNG(6)
	const c = 3
	for _, train := range []bool{true, false} {
		st := newBNState(rng, c)
		in := []*tensor.Tensor{randT(rng, -1, 2, 4, c, 3, 2), randT(rng, 0.5, 1.5, c), randT(rng, -1, 1, c)}
		f := func(tp *Tape, xs []*Var) *Var { return tp.BatchNorm2d(xs[0], xs[1], xs[2], st, train) }
		for _, wrt := range wrtVariants(3) {
			gradCheck(t, fmt.Sprintf("BatchNorm2d train=%v wrt %v", train, wrt), f, in, GradCheckOptions{Wrt: wrt})
		}
		gradCheck(t, fmt.Sprintf("BatchNorm2d affine=false train=%v", train), func(tp *Tape, xs []*Var) *Var {
			return tp.BatchNorm2d(xs[0], nil, nil, st, train)
		}, in[:1], GradCheckOptions{})
		// x also feeds another op, so BatchNorm adds to an existing gradient.
		gradCheck(t, fmt.Sprintf("BatchNorm2d accumulate train=%v", train), func(tp *Tape, xs []*Var) *Var {
			return tp.Mul(tp.BatchNorm2d(xs[0], xs[1], xs[2], st, train), xs[0])
		}, in, GradCheckOptions{})
	}
	// Train mode without running statistics, planes larger than a block.
	in := []*tensor.Tensor{randT(rng, -1, 1, 2, 2, 20, 30), randT(rng, 0.5, 1.5, 2), randT(rng, -1, 1, 2)}
	gradCheck(t, "BatchNorm2d large planes", func(tp *Tape, xs []*Var) *Var {
		return tp.BatchNorm2d(xs[0], xs[1], xs[2], nil, true)
	}, in, GradCheckOptions{})
}

func TestGradActivations(t *testing.T) {
	rng := tensor.NewRNG(7)
	x := awayFrom(randT(rng, -2, 2, 3, 4, 5), 0.1, 0)
	gradCheck(t, "Relu", func(tp *Tape, xs []*Var) *Var { return tp.Relu(xs[0]) }, []*tensor.Tensor{x}, GradCheckOptions{})
	gradCheck(t, "Relu accumulate", func(tp *Tape, xs []*Var) *Var {
		return tp.Add(tp.Relu(xs[0]), tp.Relu(xs[0]))
	}, []*tensor.Tensor{x}, GradCheckOptions{})
	gradCheck(t, "SiLU", func(tp *Tape, xs []*Var) *Var { return tp.SiLU(xs[0]) }, []*tensor.Tensor{randT(rng, -3, 3, 4, 7)}, GradCheckOptions{})
	c := awayFrom(randT(rng, -1, 1, 5, 6), 0.05, -0.5, 0.5)
	gradCheck(t, "Clamp", func(tp *Tape, xs []*Var) *Var { return tp.Clamp(xs[0], -0.5, 0.5) }, []*tensor.Tensor{c}, GradCheckOptions{})
}

// TestReluNaN checks that a NaN born inside a network survives Relu (as in
// PyTorch) rather than being mapped to 0, with -0 kept and negatives (-Inf
// too) made +0, and that the backward pass masks dy by output > 0: dy
// where x > 0, +0 elsewhere, a NaN x included. It runs on every kernel
// implementation.
func TestReluNaN(t *testing.T) {
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, testReluNaN)
}

func testReluNaN(t *testing.T) {
	nan := math.Float32frombits(0x7fc0beef)
	negZero := float32(math.Copysign(0, -1))
	inf := float32(math.Inf(1))
	vals := []float32{nan, negZero, 0, -2, 3, inf, -inf}
	x := tensor.New(5, len(vals)) // 35 elements: SIMD loops and scalar tail
	for i := range x.Data() {
		x.Data()[i] = vals[i%len(vals)]
	}
	tp := NewTape()
	xv := Leaf(x, true)
	y := tp.Relu(xv)
	dy := tensor.New(x.Shape()...).Fill(0.5)
	tp.BackwardFrom(y, dy)
	for i, v := range x.Data() {
		wantY, wantG := math.Float32bits(v), float32(0)
		if v < 0 {
			wantY = 0
		}
		if v > 0 {
			wantG = 0.5
		}
		if got := math.Float32bits(y.Value.Data()[i]); got != wantY {
			t.Errorf("Relu(%v)[%d] = %#08x, want %#08x", v, i, got, wantY)
		}
		if got := xv.Grad.Data()[i]; math.Float32bits(got) != math.Float32bits(wantG) {
			t.Errorf("Relu grad at x=%v [%d] = %v, want %v", v, i, got, wantG)
		}
	}
}

func TestGradPooling(t *testing.T) {
	rng := tensor.NewRNG(8)
	params := []struct {
		x []int
		p tensor.PoolParams
	}{
		{[]int{2, 3, 4, 6}, tensor.PoolParams{KernelH: 2, KernelW: 2}},
		{[]int{1, 2, 5, 5}, tensor.PoolParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
		{[]int{2, 1, 5, 4}, tensor.PoolParams{KernelH: 3, KernelW: 2, StrideH: 1, StrideW: 1}},
	}
	for _, c := range params {
		t.Run(fmt.Sprint(c.x), func(t *testing.T) {
			gradCheck(t, fmt.Sprintf("MaxPool2d %v %+v", c.x, c.p), func(tp *Tape, xs []*Var) *Var {
				return tp.MaxPool2d(xs[0], c.p)
			}, []*tensor.Tensor{distinct(rng, c.x...)}, GradCheckOptions{Eps: 1e-3})
			gradCheck(t, fmt.Sprintf("AvgPool2d %v %+v", c.x, c.p), func(tp *Tape, xs []*Var) *Var {
				return tp.AvgPool2d(xs[0], c.p)
			}, []*tensor.Tensor{randT(rng, -1, 1, c.x...)}, GradCheckOptions{})
		})
	}
	gradCheck(t, "GlobalAvgPool2d", func(tp *Tape, xs []*Var) *Var {
		return tp.GlobalAvgPool2d(xs[0])
	}, []*tensor.Tensor{randT(rng, -1, 1, 2, 3, 4, 5)}, GradCheckOptions{})
}

func TestGradShapes(t *testing.T) {
	rng := tensor.NewRNG(9)
	in := []*tensor.Tensor{randT(rng, -1, 1, 2, 3, 2, 2), randT(rng, -1, 1, 2, 12)}
	gradCheck(t, "Flatten", func(tp *Tape, xs []*Var) *Var {
		return tp.Mul(tp.Flatten(xs[0]), xs[1])
	}, in, GradCheckOptions{})
	gradCheck(t, "Reshape", func(tp *Tape, xs []*Var) *Var {
		return tp.Mul(tp.Reshape(xs[0], -1, 4), tp.Reshape(xs[1], 6, 4))
	}, in, GradCheckOptions{})
	gradCheck(t, "Reshape of a leaf used twice", func(tp *Tape, xs []*Var) *Var {
		return tp.Add(tp.Reshape(xs[1], 24), tp.Reshape(xs[1], 24))
	}, in, GradCheckOptions{Wrt: []bool{false, true}})
}

func TestGradSoftmax(t *testing.T) {
	rng := tensor.NewRNG(10)
	in := []*tensor.Tensor{randT(rng, -2, 2, 2, 3, 4)}
	for _, axis := range []int{0, 1, 2, -1} {
		gradCheck(t, fmt.Sprintf("Softmax axis %d", axis), func(tp *Tape, xs []*Var) *Var {
			return tp.Softmax(xs[0], axis)
		}, in, GradCheckOptions{})
		gradCheck(t, fmt.Sprintf("LogSoftmax axis %d", axis), func(tp *Tape, xs []*Var) *Var {
			return tp.LogSoftmax(xs[0], axis)
		}, in, GradCheckOptions{})
	}
}

func TestGradLosses(t *testing.T) {
	rng := tensor.NewRNG(11)
	labels := []int{2, 0, 4, 1}
	for _, r := range []Reduction{ReduceMean, ReduceSum, ReduceNone} {
		for _, ls := range []float32{0, 0.1} {
			gradCheck(t, fmt.Sprintf("CrossEntropy r=%d ls=%v", r, ls), func(tp *Tape, xs []*Var) *Var {
				return tp.CrossEntropy(xs[0], labels, CEOptions{Reduction: r, LabelSmoothing: ls})
			}, []*tensor.Tensor{randT(rng, -3, 3, 4, 5)}, GradCheckOptions{})
		}
		in := []*tensor.Tensor{randT(rng, -2, 2, 4, 5), randT(rng, -2, 2, 4, 5)}
		for _, wrt := range wrtVariants(2) {
			gradCheck(t, fmt.Sprintf("KLDiv r=%d wrt %v", r, wrt), func(tp *Tape, xs []*Var) *Var {
				return tp.KLDiv(xs[0], xs[1], r)
			}, in, GradCheckOptions{Wrt: wrt})
		}
	}
	in := []*tensor.Tensor{randT(rng, -1, 1, 3, 5, 2)}
	gradCheck(t, "Sum", func(tp *Tape, xs []*Var) *Var { return tp.Sum(tp.Mul(xs[0], xs[0])) }, in, GradCheckOptions{})
	gradCheck(t, "Mean", func(tp *Tape, xs []*Var) *Var { return tp.Mean(tp.Mul(xs[0], xs[0])) }, in, GradCheckOptions{})
}

// TestCrossEntropyValues compares CrossEntropy with a float64 reference,
// for every reduction, with and without label smoothing, on large logits.
func TestCrossEntropyValues(t *testing.T) {
	rng := tensor.NewRNG(12)
	const n, c = 5, 7
	z := randT(rng, -30, 30, n, c)
	labels := []int{0, 6, 3, 3, 1}
	for _, ls := range []float32{0, 0.2} {
		ref := make([]float64, n)
		for i := range n {
			row := z.Data()[i*c : (i+1)*c]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - m)
			}
			lse := m + math.Log(s)
			for k, v := range row {
				w := float64(ls) / c
				if k == labels[i] {
					w += 1 - float64(ls)
				}
				ref[i] -= w * (float64(v) - lse)
			}
		}
		var sum float64
		for _, v := range ref {
			sum += v
		}
		tp := NewTape()
		x := Leaf(z, false)
		check := func(what string, got, want float64) {
			if !testutil.Near(got, want, 1e-5) {
				t.Errorf("ls=%v %s: got %v, want %v", ls, what, got, want)
			}
		}
		none := tp.CrossEntropy(x, labels, CEOptions{Reduction: ReduceNone, LabelSmoothing: ls}).Value
		if s := none.Shape(); len(s) != 1 || s[0] != n {
			t.Fatalf("ReduceNone shape %v, want [%d]", s, n)
		}
		for i := range n {
			check(fmt.Sprintf("sample %d", i), float64(none.Data()[i]), ref[i])
		}
		check("sum", float64(tp.CrossEntropy(x, labels, CEOptions{Reduction: ReduceSum, LabelSmoothing: ls}).Value.Data()[0]), sum)
		check("mean", float64(tp.CrossEntropy(x, labels, CEOptions{LabelSmoothing: ls}).Value.Data()[0]), sum/n)
	}
}
