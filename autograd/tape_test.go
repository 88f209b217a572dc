package autograd

import (
	"math"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

func TestShapePanics(t *testing.T) {
	tp := NewTape()
	v := func(shape ...int) *Var { return Leaf(tensor.New(shape...), true) }
	testutil.CheckPanic(t, func() { tp.Add(v(2, 3), v(4, 3)) }, "autograd.Add", "[2 3]", "[4 3]", "do not broadcast")
	testutil.CheckPanic(t, func() { tp.Mul(v(2, 3), v(2)) }, "autograd.Mul", "[2 3]", "[2]")
	testutil.CheckPanic(t, func() { tp.MatMul(v(2, 3), v(2, 3), false, false) }, "autograd.MatMul", "[2 3]")
	testutil.CheckPanic(t, func() { tp.Linear(v(2, 3), v(4, 5), nil) }, "autograd.Linear", "[2 3]", "[4 5]")
	testutil.CheckPanic(t, func() { tp.Linear(v(2, 3), v(4, 3), v(3)) }, "autograd.Linear", "bias [3]")
	testutil.CheckPanic(t, func() { tp.Conv2d(v(2, 3, 4), v(4, 3, 3, 3), nil, tensor.ConvParams{}) }, "autograd.Conv2d", "[2 3 4]")
	testutil.CheckPanic(t, func() { tp.BatchNorm2d(v(2, 3, 2, 2), v(4), nil, nil, true) }, "autograd.BatchNorm2d", "gamma [4]")
	testutil.CheckPanic(t, func() { tp.CrossEntropy(v(2, 3), []int{0, 3}, CEOptions{}) }, "autograd.CrossEntropy", "label 3", "out of range")
	testutil.CheckPanic(t, func() { tp.CrossEntropy(v(2, 3), []int{0}, CEOptions{}) }, "autograd.CrossEntropy", "1 labels")
	testutil.CheckPanic(t, func() { tp.KLDiv(v(2, 3), v(2, 4), ReduceMean) }, "autograd.KLDiv", "[2 3]", "[2 4]")
	testutil.CheckPanic(t, func() { tp.Softmax(v(2, 3), 2) }, "autograd.Softmax", "axis 2")
	testutil.CheckPanic(t, func() { tp.Backward(tp.Mul(v(2, 3), v(2, 3))) }, "autograd.Backward", "[2 3]")
}

// TestBatchNormRunningStats checks the running statistics against values
// computed by hand: momentum 0.1 and the unbiased batch variance.
func TestBatchNormRunningStats(t *testing.T) {
	// x [2, 2, 1, 2]: channel 0 holds 1, 2, 5, 6 and channel 1 holds
	// -1, -1, 1, 1 (image-major).
	x, _ := tensor.FromSlice([]float32{1, 2, -1, -1, 5, 6, 1, 1}, 2, 2, 1, 2)
	st := &BatchNormState{RunningMean: tensor.New(2), RunningVar: tensor.New(2).Fill(1), Momentum: 0.1, Eps: 1e-5}
	tp := NewTape()
	y := tp.BatchNorm2d(Leaf(x, false), nil, nil, st, true)
	// Channel 0: mean 3.5, biased var 17/4, unbiased 17/3.
	// Channel 1: mean 0, biased var 1, unbiased 4/3.
	wantMean := []float64{0.35, 0}
	wantVar := []float64{0.9 + 0.1*17.0/3, 0.9 + 0.1*4.0/3}
	for c := range 2 {
		if got := float64(st.RunningMean.Data()[c]); math.Abs(got-wantMean[c]) > 1e-6 {
			t.Errorf("running mean[%d] = %v, want %v", c, got, wantMean[c])
		}
		if got := float64(st.RunningVar.Data()[c]); math.Abs(got-wantVar[c]) > 1e-6 {
			t.Errorf("running var[%d] = %v, want %v", c, got, wantVar[c])
		}
	}
	// Normalized with the biased variance.
	want := []float64{-2.5, -1.5, -1, -1, 1.5, 2.5, 1, 1}
	for i, w := range want {
		sd := math.Sqrt(17.0/4 + 1e-5)
		if i%4 >= 2 {
			sd = math.Sqrt(1 + 1e-5)
		}
		if got := float64(y.Value.Data()[i]); math.Abs(got-w/sd) > 1e-5 {
			t.Errorf("train y[%d] = %v, want %v", i, got, w/sd)
		}
	}
	// Eval mode uses (and keeps) the running statistics.
	g, _ := tensor.FromSlice([]float32{2, 3}, 2)
	b, _ := tensor.FromSlice([]float32{0.5, -1}, 2)
	y = tp.BatchNorm2d(Leaf(x, false), Leaf(g, false), Leaf(b, false), st, false)
	for i, v := range x.Data() {
		c := i / 2 % 2
		w := (float64(v)-wantMean[c])/math.Sqrt(wantVar[c]+1e-5)*float64(g.Data()[c]) + float64(b.Data()[c])
		if got := float64(y.Value.Data()[i]); math.Abs(got-w) > 1e-5 {
			t.Errorf("eval y[%d] = %v, want %v", i, got, w)
		}
	}
	if got := float64(st.RunningMean.Data()[0]); math.Abs(got-0.35) > 1e-6 {
		t.Errorf("eval changed the running mean to %v", got)
	}
}

func TestNoGrad(t *testing.T) {
	tp := NewTape()
	w := Leaf(tensor.New(2, 2).Fill(1), true)
	x := Leaf(tensor.New(2, 2).Fill(2), false)
	if !tp.GradEnabled() {
		t.Fatal("new tape has gradients disabled")
	}
	restore := tp.NoGrad()
	inner := tp.NoGrad()
	y := tp.Sum(tp.MatMul(x, w, false, false))
	inner()
	if tp.GradEnabled() || tp.Len() != 0 || y.RequiresGrad() {
		t.Fatalf("under NoGrad: enabled %v, %d ops recorded, output requires grad %v", tp.GradEnabled(), tp.Len(), y.RequiresGrad())
	}
	if got := y.Value.Data()[0]; got != 16 {
		t.Fatalf("NoGrad forward = %v, want 16", got)
	}
	restore()
	if !tp.GradEnabled() {
		t.Fatal("restore did not re-enable gradients")
	}
	// Constants only: nothing is recorded either.
	if tp.Add(x, x); tp.Len() != 0 {
		t.Fatalf("an op on constants recorded %d ops", tp.Len())
	}
	if tp.Add(x, w); tp.Len() != 1 {
		t.Fatalf("an op on a parameter recorded %d ops, want 1", tp.Len())
	}
}

// TestBackwardAccumulates checks that leaves accumulate across Backward
// calls, both on the same graph and across Reset, until ZeroGrad.
func TestBackwardAccumulates(t *testing.T) {
	tp := NewTape()
	xt, _ := tensor.FromSlice([]float32{1, -2, 3}, 3)
	x := Leaf(xt, true)
	step := func() *Var { return tp.Sum(tp.Mul(tp.MulScalar(x, 2), x)) } // Σ 2x², gradient 4x
	check := func(what string, k float32) {
		t.Helper()
		for i, v := range xt.Data() {
			if got := x.Grad.Data()[i]; got != k*4*v {
				t.Fatalf("%s: grad[%d] = %v, want %v", what, i, got, k*4*v)
			}
		}
	}
	loss := step()
	tp.Backward(loss)
	check("first Backward", 1)
	tp.Backward(loss)
	check("same graph again", 2)
	tp.Reset()
	tp.Backward(step())
	check("after Reset", 3)
	x.ZeroGrad()
	tp.Reset()
	tp.Backward(step())
	check("after ZeroGrad", 1)
	if x.Value != xt {
		t.Fatal("Reset replaced a leaf's Value")
	}
}

// TestInputGradientOnly is the attack case: x requires grad, parameters
// are constants. x gets a gradient; the parameters get none.
func TestInputGradientOnly(t *testing.T) {
	rng := tensor.NewRNG(3)
	m := newTinyModel(rng, false)
	tp := NewTape()
	x := Leaf(randT(rng, 0, 1, 2, 3, 6, 6), true)
	loss := tp.CrossEntropy(m.forward(tp, x, true), []int{1, 2}, CEOptions{})
	tp.Backward(loss)
	if x.Grad == nil || tensor.MaxAll(tensor.Abs(nil, x.Grad)) == 0 {
		t.Fatal("input got no gradient")
	}
	for i, p := range m.params() {
		if p.Grad != nil {
			t.Errorf("constant parameter %d got a gradient", i)
		}
	}
	// The training case: parameters, not the data.
	m = newTinyModel(rng, true)
	x = Leaf(x.Value, false)
	tp.Reset()
	tp.Backward(tp.CrossEntropy(m.forward(tp, x, true), []int{1, 2}, CEOptions{}))
	if x.Grad != nil {
		t.Error("constant input got a gradient")
	}
	for i, p := range m.params() {
		if p.Grad == nil {
			t.Errorf("parameter %d got no gradient", i)
		}
	}
}
