package attack

import (
	"math"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestCWMasksWithInf: with all logits negative, masking the true class
// with 0 instead of −∞ would make the margin 0 − z_y.
func TestCWMasksWithInf(t *testing.T) {
	z := []float32{-5, -3, -10}
	g := make([]float32, 3)
	if v := CW.Eval(z, 1, g); v != -2 {
		t.Errorf("CW margin = %v, want max(-5, -10) - (-3) = -2", v)
	}
	if !slices.Equal(g, []float32{1, -1, 0}) {
		t.Errorf("CW gradient = %v, want [1 -1 0]", g)
	}
	if v := CW.Eval([]float32{-1, -4}, 0, nil); v != -3 {
		t.Errorf("CW margin = %v, want -3", v)
	}
}

func TestDLRHandValues(t *testing.T) {
	z := []float32{3, 1, 0.5, -1}
	// y = 1: −(1 − 3)/(3 − 0.5) = 0.8.
	if v := DLR.Eval(z, 1, nil); !testutil.Near(v, 0.8, 1e-12) {
		t.Errorf("DLR(y=1) = %v, want 0.8", v)
	}
	// y = 0 (correctly classified): −(3 − 1)/(3 − 0.5) = −0.8.
	if v := DLR.Eval(z, 0, nil); !testutil.Near(v, -0.8, 1e-12) {
		t.Errorf("DLR(y=0) = %v, want -0.8", v)
	}
	// Shift and scale invariance.
	zs := []float32{3*4 + 7, 1*4 + 7, 0.5*4 + 7, -1*4 + 7}
	if v := DLR.Eval(zs, 1, nil); !testutil.Near(v, 0.8, 1e-6) {
		t.Errorf("DLR of 4z+7 = %v, want 0.8", v)
	}
	// Targeted, y = 1, t = 3: −(1 − (−1))/(3 − (0.5 − 1)/2) = −2/3.25.
	g := make([]float32, 4)
	if v := objective(DLR, z, 1, 3, g); !testutil.Near(v, -2/3.25, 1e-12) {
		t.Errorf("targeted DLR = %v, want %v", v, -2/3.25)
	}
	if v := CE.Eval([]float32{0, 0}, 0, nil); !testutil.Near(v, math.Ln2, 1e-12) {
		t.Errorf("CE(0, 0) = %v, want ln 2", v)
	}
	// Targeted CE and CW are the negated losses at the target.
	if v := objective(CW, z, 1, 3, g); v != -(3 - -1) {
		t.Errorf("targeted CW = %v, want z_t − max_{i≠t} z_i = -4", v)
	}
}

// TestLossGradients compares every objective's gradient with central
// differences on logits with distinct values.
func TestLossGradients(t *testing.T) {
	rng := tensor.NewRNG(3)
	z := tensor.New(6)
	for trial := range 20 {
		rng.Normal(z, 0, 2)
		zd := z.Data()
		y, tgt := trial%6, (trial+2)%6
		for _, l := range []Loss{CE, CW, DLR} {
			for _, target := range []int{-1, tgt} {
				g := make([]float32, 6)
				objective(l, zd, y, target, g)
				for j := range zd {
					const h = 1e-3
					zp, zm := slices.Clone(zd), slices.Clone(zd)
					zp[j] += h
					zm[j] -= h
					num := (objective(l, zp, y, target, make([]float32, 6)) - objective(l, zm, y, target, make([]float32, 6))) / (2 * h)
					if math.Abs(num-float64(g[j])) > 2e-3*(1+math.Abs(num)) {
						t.Errorf("%v target %d: ∂/∂z[%d] = %v, numerically %v (z = %v, y = %d)", l, target, j, g[j], num, zd, y)
					}
				}
			}
		}
	}
}

func TestTop4(t *testing.T) {
	if p := top4([]float32{1, 5, 3, 5, 0, 4}); p != [4]int{1, 3, 5, 2} {
		t.Errorf("top4 = %v, want [1 3 5 2]", p)
	}
	if p := top4([]float32{2, 7}); p != [4]int{1, 0, -1, -1} {
		t.Errorf("top4 = %v, want [1 0 -1 -1]", p)
	}
}

func TestProjL2(t *testing.T) {
	rng := tensor.NewRNG(4)
	x0 := rng.Uniform(tensor.New(300), 0, 1).Data()
	for _, eps := range []float32{0, 1e-3, 0.5, 3} {
		for trial := range 20 {
			x := rng.Normal(tensor.New(300), 0, float32(trial)*0.2).Data()
			for j := range x {
				x[j] += x0[j]
			}
			projL2(x, x0, eps)
			if d := dist2(x, x0); d > float64(eps) {
				t.Fatalf("ε = %v: ‖x − x0‖ = %.12g after projection", eps, d)
			}
			for j, v := range x {
				if v < 0 || v > 1 {
					t.Fatalf("ε = %v: x[%d] = %v outside [0,1]", eps, j, v)
				}
			}
		}
	}
	// Without clamping, the projection is the radial scaling.
	c := []float32{0.5, 0.5, 0.5, 0.5}
	x := []float32{0.5 + 0.3, 0.5 - 0.4, 0.5, 0.5}
	projL2(x, c, 0.25)
	want := []float32{0.5 + 0.15, 0.5 - 0.2, 0.5, 0.5}
	for j := range x {
		if math.Abs(float64(x[j]-want[j])) > 1e-6 {
			t.Fatalf("projL2 = %v, want %v", x, want)
		}
	}
	// Inside the ball: unchanged.
	x = []float32{0.55, 0.5, 0.5, 0.45}
	projL2(x, c, 0.25)
	if !slices.Equal(x, []float32{0.55, 0.5, 0.5, 0.45}) {
		t.Errorf("a point inside the ball moved to %v", x)
	}
}

// TestLinfBoundsExact: the L∞ box is within ε of x in float64 for awkward
// values.
func TestLinfBoundsExact(t *testing.T) {
	rng := tensor.NewRNG(5)
	x := rng.Uniform(tensor.New(1, 1, 100, 100), 0, 1)
	for _, eps := range []float32{8.0 / 255, 0.3, 1e-7, 0, 1} {
		e := engine{s: settings{norm: LInf, eps: eps}}
		e.resize(x)
		copy(e.x0, x.Data())
		e.bounds()
		for i, v := range e.x0 {
			if float64(v)-float64(e.lo[i]) > float64(eps) || float64(e.hi[i])-float64(v) > float64(eps) ||
				e.lo[i] < 0 || e.hi[i] > 1 || e.lo[i] > v || e.hi[i] < v {
				t.Fatalf("ε = %v: x = %v, box [%v, %v]", eps, v, e.lo[i], e.hi[i])
			}
		}
	}
}

// TestCEExtremeLogits: the cross-entropy shares tensor.LogSumExpRow, so
// large logits do not overflow (exp(1000) would) and a −Inf logit gets
// probability 0. (The loss is log Σ exp(z) − z_y in float64, so it has
// about 2^-52·|z| of absolute error: fine for any logits a model gives.)
func TestCEExtremeLogits(t *testing.T) {
	ninf := float32(math.Inf(-1))
	for _, c := range []struct {
		z        []float32
		y        int
		loss     float64
		gradient []float32
		tol      float64
	}{
		{[]float32{1000, 1000}, 1, math.Ln2, []float32{0.5, -0.5}, 1e-12},
		{[]float32{1e6, 1e6, 1e6, 1e6}, 0, math.Log(4), []float32{-0.75, 0.25, 0.25, 0.25}, 1e-9},
		{[]float32{ninf, 0, 0}, 2, math.Ln2, []float32{0, 0.5, -0.5}, 1e-12},
	} {
		g := make([]float32, len(c.z))
		if v := CE.Eval(c.z, c.y, g); !testutil.Near(v, c.loss, c.tol) {
			t.Errorf("CE(%v, %d) = %v, want %v", c.z, c.y, v, c.loss)
		}
		if !slices.Equal(g, c.gradient) {
			t.Errorf("CE(%v, %d) gradient %v, want %v", c.z, c.y, g, c.gradient)
		}
	}
}
