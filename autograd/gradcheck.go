package autograd

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/tensor"
)

// GradCheckOptions configure GradCheck. Zero fields mean the defaults.
type GradCheckOptions struct {
	// Eps is the relative finite-difference step: element x moves by
	// Eps·max(1, |x|). Default 1e-2.
	Eps float64
	// Tol bounds the relative error ‖g_a − g_n‖/max(‖g_a‖, ‖g_n‖) of each
	// input's gradient. Default 1e-3.
	Tol float64
	// Seed seeds the random weights r of the checked scalar Σ r·f.
	Seed uint64
	// Wrt selects the inputs to check (nil: all). Unselected inputs are
	// constant leaves, so ops are also checked with gradients wanted for
	// only some of their inputs.
	Wrt []bool
}

// GradCheck compares the gradients that Backward computes for f with
// finite differences. It wraps each input (a copy) as a leaf, evaluates
// L = Σ r·f(xs) for fixed random weights r, and compares each checked
// input's analytic gradient with the central difference
// (8·(L(x+h) − L(x−h)) − (L(x+2h) − L(x−2h)))/(12h) (error O(h⁴)),
// where L is accumulated in float64 over the float32 forward pass. It
// returns an error naming the first input whose relative error exceeds
// the tolerance and its worst element. Choose inputs away from the kinks
// of relu, max-pooling and clamp (at least 2h away).
//
// f is called 1 + 4·(checked elements) times on one tape, Reset between
// calls; apart from side effects such as running statistics, it must
// compute the same function every time.
func GradCheck(f func(tp *Tape, xs []*Var) *Var, inputs []*tensor.Tensor, o GradCheckOptions) error {
	if o.Eps == 0 {
		o.Eps = 1e-2
	}
	if o.Tol == 0 {
		o.Tol = 1e-3
	}
	if o.Wrt != nil && len(o.Wrt) != len(inputs) {
		return fmt.Errorf("autograd.GradCheck: %d Wrt flags for %d inputs", len(o.Wrt), len(inputs))
	}
	check := func(i int) bool { return o.Wrt == nil || o.Wrt[i] }
	tp := NewTape()
	xs := make([]*Var, len(inputs))
	for i, t := range inputs {
		xs[i] = Leaf(t.Clone(), check(i))
	}

	y := f(tp, xs)
	if !y.RequiresGrad() {
		return fmt.Errorf("autograd.GradCheck: output %v does not require grad", y.Value.Shape())
	}
	r := tensor.NewRNG(o.Seed+1).Uniform(tensor.New(y.Value.Shape()...), -1, 1)
	tp.BackwardFrom(y, r)
	analytic := make([][]float32, len(xs))
	for i, x := range xs {
		if x.Grad != nil {
			analytic[i] = x.Grad.Clone().Data()
		}
	}

	loss := func() float64 {
		tp.Reset()
		restore := tp.NoGrad()
		defer restore()
		yd, rd := f(tp, xs).Value.Data(), r.Data()
		var s float64
		for k, v := range yd {
			s += float64(rd[k]) * float64(v)
		}
		return s
	}
	at := func(x []float32, k int, v float64) float64 {
		x[k] = float32(v)
		return loss()
	}
	for i, x := range xs {
		if !check(i) {
			continue
		}
		xd := x.Value.Data()
		num := make([]float64, len(xd))
		for k, v := range xd {
			x0 := float64(v)
			h := o.Eps * max(1, math.Abs(x0))
			// The steps actually taken, after rounding to float32.
			h1 := float64(float32(x0+h)) - x0
			lp1, lm1 := at(xd, k, x0+h1), at(xd, k, x0-h1)
			lp2, lm2 := at(xd, k, x0+2*h1), at(xd, k, x0-2*h1)
			xd[k] = v
			num[k] = (8*(lp1-lm1) - (lp2 - lm2)) / (12 * h1)
		}
		if err := compareGrad(i, x.Value.Shape(), analytic[i], num, o.Tol); err != nil {
			return err
		}
	}
	return nil
}

// compareGrad checks the relative error of an analytic gradient (nil: no
// gradient reached the input, taken as zeros) against a numeric one.
func compareGrad(input int, shape []int, ana []float32, num []float64, tol float64) error {
	var diff, na, nn, worst float64
	wk := -1
	for k, g := range num {
		var a float64
		if ana != nil {
			a = float64(ana[k])
		}
		d := a - g
		diff += d * d
		na += a * a
		nn += g * g
		if math.Abs(d) > worst || wk < 0 {
			worst, wk = math.Abs(d), k
		}
	}
	rel := math.Sqrt(diff) / max(math.Sqrt(na), math.Sqrt(nn), 1e-30)
	if math.IsNaN(rel) || rel > tol {
		var a float64
		if ana != nil && wk >= 0 {
			a = float64(ana[wk])
		}
		var g float64
		if wk >= 0 {
			g = num[wk]
		}
		return fmt.Errorf("autograd.GradCheck: input %d %v: relative error %.3g > %.3g; worst element %d: analytic %.6g, numeric %.6g",
			input, shape, rel, tol, wk, a, g)
	}
	return nil
}
