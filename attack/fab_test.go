package attack

import (
	"math"
	"testing"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestProjHyperplane checks the box-constrained projection against its
// optimality conditions on random problems: the step stays in the box,
// reaches the hyperplane when it can (else goes to the nearest corner),
// and has the form of the minimizer: d_j = σ·sign(w_j)·min(s, u_j) in
// L∞ and d_j = clamp(λ·w_j, −p_j, 1 − p_j) in L2, for one s or λ.
func TestProjHyperplane(t *testing.T) {
	rng := tensor.NewRNG(9)
	const dim = 12
	for trial := range 400 {
		p := rng.Uniform(tensor.New(dim), 0, 1).Data()
		w := rng.Normal(tensor.New(dim), 0, 1).Data()
		w[trial%dim] = 0 // a coordinate the hyperplane ignores
		r := float64(rng.Float32()*6 - 3)
		if trial%7 == 0 {
			r = 0
		}
		for _, norm := range []Norm{LInf, L2} {
			d := make([]float32, dim)
			projHyperplane(d, p, w, r, norm, make([]knot, dim))
			var wd, reach float64 // w·d, and the most w·d the box allows
			sign := 1.0
			if r < 0 {
				sign = -1
			}
			for j := range d {
				if v := p[j] + d[j]; v < 0 || v > 1 {
					t.Fatalf("%v trial %d: p+d = %v outside [0,1]", norm, trial, v)
				}
				wd += float64(w[j]) * float64(d[j])
				if float64(w[j])*sign > 0 {
					reach += math.Abs(float64(w[j])) * (1 - float64(p[j]))
				} else {
					reach += math.Abs(float64(w[j])) * float64(p[j])
				}
			}
			if math.Abs(r) <= reach*(1-1e-6) {
				if math.Abs(wd-r) > 1e-5*(1+math.Abs(r)) {
					t.Fatalf("%v trial %d: w·d = %v, want %v", norm, trial, wd, r)
				}
			} else if math.Abs(math.Abs(wd)-reach) > 1e-5*(1+reach) {
				t.Fatalf("%v trial %d: infeasible, |w·d| = %v, want the box's most %v", norm, trial, wd, reach)
			}
			// The minimizer's form: find s (or λ) from the largest
			// unsaturated coordinate and check every coordinate.
			var s float64
			for j := range d {
				a := math.Abs(float64(d[j]))
				if norm == L2 && w[j] != 0 {
					a /= math.Abs(float64(w[j]))
				}
				s = max(s, a)
			}
			for j := range d {
				up := float64(w[j])*sign > 0
				room := float64(p[j])
				if up {
					room = 1 - float64(p[j])
				}
				c := 1.0
				if norm == L2 {
					c = math.Abs(float64(w[j]))
				}
				want := 0.0
				if w[j] != 0 {
					want = min(s*c, room)
					if !up {
						want = -want
					}
				}
				if math.Abs(float64(d[j])-want) > 1e-5 {
					t.Fatalf("%v trial %d: d[%d] = %v, want %v (s = %v)", norm, trial, j, d[j], want, s)
				}
			}
		}
	}
}

// linearNet is a 2-class linear model on 1×4×4 images: z_0 = 0, z_1 =
// w·x + b.
func linearNet(w []float32, b float32) nn.Module {
	fc := nn.NewLinear(tensor.NewRNG(1), len(w), 2, true)
	wd := fc.Weight.Value.Data()
	clear(wd)
	copy(wd[len(w):], w)
	fc.Bias.Value.Data()[0], fc.Bias.Value.Data()[1] = 0, b
	return nn.NewSequential().Append("flatten", &nn.Flatten{}).Append("fc", fc)
}

// TestFABLinearMinimal: on a linear 2-class model the smallest
// perturbations that reach the decision boundary are |w·x + b|/‖w‖₂ in
// L2 and |w·x + b|/‖w‖₁ in L∞ (when the box [0,1] does not bind, as here).
// FAB with a large ε finds adversarial examples within 1e-3 of them.
func TestFABLinearMinimal(t *testing.T) {
	rng := tensor.NewRNG(3)
	const dim = 16
	w := rng.Normal(tensor.New(dim), 0, 1).Data()
	var n1, n2 float64
	for _, v := range w {
		n1 += math.Abs(float64(v))
		n2 += float64(v) * float64(v)
	}
	n2 = math.Sqrt(n2)
	var b float32
	for _, v := range w {
		b -= 0.5 * v
	}
	m := linearNet(w, b)
	m.SetTrain(false)
	// Samples in [0.3, 0.7] at L2 distance 0.02 to 0.12 from the
	// boundary, labelled by the model.
	const n = 16
	x := tensor.New(n, 1, 4, 4)
	y := make([]int, n)
	margin := make([]float64, n)
	for i := 0; i < n; {
		xs := x.Data()[i*dim : (i+1)*dim]
		copy(xs, rng.Uniform(tensor.New(dim), 0.3, 0.7).Data())
		f := float64(b)
		for j, v := range xs {
			f += float64(w[j]) * float64(v)
		}
		if d := math.Abs(f) / n2; d < 0.02 || d > 0.12 {
			continue
		}
		margin[i] = math.Abs(f)
		if f > 0 {
			y[i] = 1
		}
		i++
	}
	for _, c := range []struct {
		norm Norm
		eps  float32
		den  float64
	}{{L2, 5, n2}, {LInf, 1, n1}} {
		t.Run(c.norm.String(), func(t *testing.T) {
			fab := &FAB{Norm: c.norm, Eps: c.eps, Steps: 100}
			adv, err := fab.Perturb(m, x, y)
			if err != nil {
				t.Fatal(err)
			}
			checkBall(t, fab.Name(), c.norm, c.eps, x, adv)
			if got := countClass(t, m, adv, y); got != 0 {
				t.Errorf("%s: %d of %d samples still correct", fab.Name(), got, n)
			}
			var worst float64
			for i := range n {
				want := margin[i] / c.den
				d := make([]float32, dim)
				for j := range d {
					d[j] = adv.Data()[i*dim+j] - x.Data()[i*dim+j]
				}
				got := normIn(c.norm, d)
				if got < want-1e-6 || got > want+1e-3 {
					t.Errorf("%v sample %d: FAB moved %.6f, the minimal perturbation is %.6f", c.norm, i, got, want)
				}
				worst = max(worst, got-want)
			}
			t.Logf("%s: largest excess over the minimal perturbation %.2e", fab.Name(), worst)
		})
	}
}
