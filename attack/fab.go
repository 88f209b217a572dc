package attack

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// FAB is FAB-T, the targeted Fast Adaptive Boundary attack (Croce & Hein
// 2020, "Minimally distorted adversarial examples with a fast adaptive
// boundary attack") in L∞ or L2, as AutoAttack runs it.
//
// FAB looks for the smallest perturbation that changes the class. Each
// iteration linearizes the boundary between the label y and the target t
// at the current point x⁽ⁱ⁾: with f = z_t − z_y and w = ∇f, the
// hyperplane π = {ξ : f(x⁽ⁱ⁾) + w·(ξ − x⁽ⁱ⁾) = 0}. It projects onto π ∩
// [0,1]^d (the smallest step in the norm) both x⁽ⁱ⁾, giving δ, and the
// clean input x, giving δₒ, and takes the biased step
//
//	x⁽ⁱ⁺¹⁾ = clamp((1 − α)(x⁽ⁱ⁾ + η·δ) + α(x + η·δₒ), 0, 1),
//	α = min(‖δ‖/(‖δ‖ + ‖δₒ‖), α_max),
//
// with the extrapolation η = 1.05 and α_max = 0.1. When x⁽ⁱ⁺¹⁾ is
// misclassified it is recorded if it is the closest such point so far,
// and the iterate steps back towards x: x⁽ⁱ⁺¹⁾ ← x + β(x⁽ⁱ⁺¹⁾ − x), β =
// 0.9. The first run of each target starts at x, later ones (Restarts)
// at a random point at distance ε/2.
//
// As an attack with radius Eps, FAB returns for each sample the closest
// misclassifying point it found if that lies within Eps, else the clean
// input. Targets run one after another on the samples still classified
// correctly, as in APGDT: the target of run k is the class with the
// (k+1)-th largest clean logit other than the label.
type FAB struct {
	Norm Norm    // LInf (the default) or L2
	Eps  float32 // radius of the ball, ≥ 0
	// Steps is the number of iterations per run; 0 means 100.
	Steps int
	// Targets is the number of target classes; 0 means 9, AutoAttack's
	// standard. At most classes − 1 are used.
	Targets int
	// Restarts is the number of runs per target; 0 means 1.
	Restarts int
	// AlphaMax, Eta and Beta are α_max, η and β; 0 means 0.1, 1.05 and 0.9.
	AlphaMax, Eta, Beta float32
	BN                  BNMode // the model's mode during the attack; BNEval by default
	Seed                uint64 // seeds the random restarts

	pt     perTarget
	inner  func(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error)
	obj    Objective
	e      engine
	best   []float32 // the closest misclassifying point per sample
	dist   []float64 // its distance, +Inf if none
	d1, d2 []float32 // the projections of the iterate and of x
	knots  []knot    // projection scratch, one row per sample
	out    []float32
	outT   *tensor.Tensor
	// per-step settings read by RunPart
	alphaMax, eta float64
}

// knot is a coordinate of the projection, sorted by key.
type knot struct {
	key float64
	j   int
}

func (f *FAB) steps() int {
	if f.Steps == 0 {
		return 100
	}
	return f.Steps
}

// orDefault returns v, or def if v is 0.
func orDefault(v float32, def float64) float64 {
	if v == 0 {
		return def
	}
	return float64(v)
}

// Name returns e.g. "FAB-T Linf ε=0.03137", with the iterations, targets
// and restarts when they are not the defaults.
func (f *FAB) Name() string {
	s := fmt.Sprintf("FAB-T %v ε=%.4g", f.Norm, f.Eps)
	if f.steps() != 100 {
		s += fmt.Sprintf(" %d steps", f.steps())
	}
	if t := targetsOr9(f.Targets); t != 9 {
		s += fmt.Sprintf(" %d targets", t)
	}
	if f.Restarts > 1 {
		s += fmt.Sprintf(" ×%d restarts", f.Restarts)
	}
	return s
}

// Perturb runs the attack; see Attack.
func (f *FAB) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	const who = "attack: FAB-T"
	if err := (&settings{norm: f.Norm, eps: f.Eps, bn: f.BN}).check(who); err != nil {
		return nil, err
	}
	if f.Steps < 0 || f.Targets < 0 || f.Restarts < 0 {
		return nil, fmt.Errorf("%s: steps %d, targets %d, restarts %d: want values ≥ 0", who, f.Steps, f.Targets, f.Restarts)
	}
	if !(f.AlphaMax >= 0 && f.AlphaMax <= 1) || !(f.Eta >= 0) || !(f.Beta >= 0 && f.Beta <= 1) || math.IsInf(float64(f.Eta), 0) {
		return nil, fmt.Errorf("%s: α_max %v, η %v, β %v: want α_max and β in [0,1] and a finite η ≥ 0", who, f.AlphaMax, f.Eta, f.Beta)
	}
	if f.inner == nil {
		f.inner, f.obj = f.single, f.objective
	}
	f.alphaMax, f.eta = orDefault(f.AlphaMax, 0.1), orDefault(f.Eta, 1.05)
	return f.pt.run(who, m, x, y, targetsOr9(f.Targets), f.BN, &f.e, f.inner)
}

// objective is z_t − z_y, whose gradient gives the linearized boundary.
func (f *FAB) objective(i int, z []float32, y int, grad []float32) float64 {
	t := f.e.tgt[i]
	clear(grad[:len(z)])
	grad[t]++
	grad[y]--
	return float64(z[t]) - float64(z[y])
}

// single runs FAB with one target per sample (the current run's) on a
// batch of correctly classified samples.
func (f *FAB) single(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	e := &f.e
	e.who = "attack: FAB-T"
	e.s = settings{norm: f.Norm, eps: f.Eps, init: InitNone, custom: f.obj, target: f.pt.target,
		anyMiss: true, bn: f.BN, seed: f.Seed}
	if err := e.begin(m, x, y); err != nil {
		return nil, err
	}
	defer e.end(m)
	size := len(e.cur)
	for _, b := range []*[]float32{&f.best, &f.d1, &f.d2, &f.out} {
		*b = grow(*b, size)
	}
	f.knots = grow(f.knots, size)
	f.dist = grow(f.dist, e.n)
	for i := range f.dist {
		f.dist[i] = math.Inf(1)
	}
	beta := float32(orDefault(f.Beta, 0.9))
	for r := range max(f.Restarts, 1) {
		f.start(r > 0)
		for range f.steps() {
			if err := e.eval(m, true); err != nil {
				return nil, err
			}
			f.e.parts = max(1, min(kernels.Threads(), e.n))
			kernels.Run(f, f.e.parts)
			if err := e.eval(m, false); err != nil {
				return nil, err
			}
			for i, fooled := range e.fooled {
				if !fooled {
					continue
				}
				xs, x0 := e.row(e.cur, i), e.row(e.x0, i)
				if d := f.distance(xs, x0); d < f.dist[i] {
					f.dist[i] = d
					copy(e.row(f.best, i), xs)
				}
				for j, v := range xs {
					xs[j] = x0[j] + beta*(v-x0[j])
				}
			}
		}
	}
	eps := float64(f.Eps)
	for i := range e.n {
		src := e.row(e.x0, i)
		if f.dist[i] <= eps {
			src = e.row(f.best, i)
		}
		copy(e.row(f.out, i), src)
	}
	return e.viewOf(&f.outT, f.out), nil
}

// start puts the iterate at x or, for a restart, at x plus a random
// perturbation of norm ε/2 (clamped to [0,1]).
func (f *FAB) start(random bool) {
	e := &f.e
	copy(e.cur, e.x0)
	if !random {
		return
	}
	for i := range e.n {
		d := e.row(e.noise, i)
		if e.s.norm == LInf {
			e.sampleRNG(i).FillUniform(d, -1, 1)
		} else {
			e.sampleRNG(i).FillNormal(d, 0, 1)
		}
		var nrm float64
		if e.s.norm == LInf {
			for _, v := range d {
				nrm = max(nrm, math.Abs(float64(v)))
			}
		} else {
			nrm = norm2(d)
		}
		if nrm == 0 {
			continue
		}
		s := float32(0.5 * float64(e.s.eps) / nrm)
		xs := e.row(e.cur, i)
		for j, v := range d {
			xs[j] = min(max(xs[j]+s*v, 0), 1)
		}
	}
	e.draws++
}

// distance returns ‖a − b‖ in the attack's norm, in float64.
func (f *FAB) distance(a, b []float32) float64 {
	if f.e.s.norm == L2 {
		return dist2(a, b)
	}
	b = b[:len(a)]
	var d float64
	for j, v := range a {
		d = max(d, math.Abs(float64(v)-float64(b[j])))
	}
	return d
}

// RunPart takes the FAB step of part p of the samples (for kernels.Run).
func (f *FAB) RunPart(p int) {
	e := &f.e
	for i := p * e.n / e.parts; i < (p+1)*e.n/e.parts; i++ {
		f.step(i)
	}
}

// step moves sample i's iterate by the biased projection step.
func (f *FAB) step(i int) {
	e := &f.e
	xs, x0, w := e.row(e.cur, i), e.row(e.x0, i), e.row(e.grad, i)
	d1, d2, ks := e.row(f.d1, i), e.row(f.d2, i), f.knots[i*e.chw:(i+1)*e.chw]
	df := e.obj[i]
	// The hyperplane is w·ξ = w·x⁽ⁱ⁾ − df: from the iterate the step must
	// change w·ξ by −df, from x by w·(x⁽ⁱ⁾ − x) − df.
	var wx float64
	for j, g := range w {
		wx += float64(g) * (float64(xs[j]) - float64(x0[j]))
	}
	projHyperplane(d1, xs, w, -df, e.s.norm, ks)
	projHyperplane(d2, x0, w, wx-df, e.s.norm, ks)
	a1, a2 := max(normIn(e.s.norm, d1), 1e-8), max(normIn(e.s.norm, d2), 1e-8)
	alpha := float32(min(a1/(a1+a2), f.alphaMax))
	eta := float32(f.eta)
	for j, v := range xs {
		xn := (1-alpha)*(v+eta*d1[j]) + alpha*(x0[j]+eta*d2[j])
		xs[j] = min(max(xn, 0), 1)
	}
}

// normIn returns ‖d‖∞ or ‖d‖₂, in float64.
func normIn(norm Norm, d []float32) float64 {
	if norm == L2 {
		return norm2(d)
	}
	var m float64
	for _, v := range d {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// projHyperplane writes into d the smallest step (in L∞ or L2) from p
// such that w·d = r and p + d ∈ [0,1]^len(p); if no step in the box
// reaches the hyperplane, the step to the box corner that comes closest.
//
// With σ = sign(r) and u_j the room coordinate j has to move in the
// direction σ·sign(w_j), the solution is d_j = σ·sign(w_j)·min(s·c_j,
// u_j) with c_j = 1 (L∞) or |w_j| (L2), for the smallest s ≥ 0 at which
// G(s) = Σ |w_j|·min(s·c_j, u_j) reaches |r|. G is piecewise linear in s
// with knots at u_j/c_j, so s is found by sorting the knots (ks is
// scratch of len(p)).
func projHyperplane(d, p, w []float32, r float64, norm Norm, ks []knot) {
	sign := 1.0
	if r < 0 {
		sign, r = -1, -r
	}
	// room and rate of coordinate j.
	coord := func(j int) (a, room, c float64) {
		a = math.Abs(float64(w[j]))
		if float64(w[j])*sign > 0 {
			room = 1 - float64(p[j])
		} else {
			room = float64(p[j])
		}
		c = 1
		if norm == L2 {
			c = a
		}
		return a, room, c
	}
	m, slope, least := 0, 0.0, math.Inf(1)
	for j, v := range w[:len(p)] {
		if v == 0 {
			continue
		}
		a, room, c := coord(j)
		ks[m] = knot{room / c, j}
		m++
		slope += a * c
		least = min(least, room/c)
	}
	s := math.Inf(1)
	switch {
	case r == 0:
		s = 0
	case m > 0 && r <= least*slope:
		s = r / slope // no coordinate reaches the box
	case m > 0:
		ks := ks[:m]
		slices.SortFunc(ks, func(a, b knot) int { return cmp.Compare(a.key, b.key) })
		var acc float64 // Σ a_j·u_j over the saturated coordinates
		for _, k := range ks {
			if acc+k.key*slope >= r {
				s = k.key
				if slope > 0 {
					s = min((r-acc)/slope, k.key)
				}
				break
			}
			a, room, c := coord(k.j)
			acc += a * room
			slope -= a * c
		}
	}
	for j := range d {
		if w[j] == 0 {
			d[j] = 0
			continue
		}
		_, room, c := coord(j)
		v := min(s*c, room)
		if float64(w[j])*sign < 0 {
			v = -v
		}
		d[j] = float32(v)
	}
}
