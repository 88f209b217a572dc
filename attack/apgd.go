package attack

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// APGD is Auto-PGD (Croce & Hein 2020): PGD with momentum and a per-sample
// step size that halves at checkpoints when progress stalls.
//
// From a uniform random start x⁰ and step η = 2ε, each iteration takes
//
//	z = P(xᵏ + η·s(∇f(xᵏ)))
//	xᵏ⁺¹ = P(xᵏ + α·(z − xᵏ) + (1 − α)·(xᵏ − xᵏ⁻¹))
//
// with s the sign (L∞) or the L2-normalized gradient, P the projection onto
// the ε-ball ∩ [0,1], and momentum α = 0.75 (1 on the first step). The
// first checkpoint comes after 0.22·Steps iterations; each interval is
// 0.03·Steps shorter than the last, down to 0.06·Steps. At a checkpoint a
// sample's step is halved and it restarts from its best point if the loss
// increased in at most Rho of the steps since the previous checkpoint, or
// if its best loss did not improve and its step was not halved at the
// previous checkpoint. APGD returns per sample the first misclassifying
// point found or, failing that, the point with the highest loss.
type APGD struct {
	Norm Norm    // LInf (the default) or L2
	Eps  float32 // radius of the ball, ≥ 0
	// Steps is the number of iterations; 0 means 100.
	Steps int
	// Restarts is the number of runs from independent random starts,
	// keeping per sample the best; 0 means 1.
	Restarts int
	// Rho is the fraction of increasing steps below which the step size
	// is halved; 0 means 0.75.
	Rho    float32
	Loss   Loss     // CE (APGD-CE) or DLR (APGD-DLR); CW works too
	Target Targeter // if set, a targeted attack (see PGD.Target)
	// EOT is the number of forward/backward passes whose gradients are
	// averaged at each iteration (expectation over transformation, for
	// randomized models, as AutoAttack's "rand" version uses with 20);
	// the loss and prediction are those of the last pass. 0 means 1.
	EOT  int
	BN   BNMode // the model's mode during the attack; BNEval by default
	Seed uint64 // seeds the random starts

	who     string // the name in errors, if not "attack: APGD"
	anyMiss bool   // targeted, but any misclassification is success

	e                               engine
	best, gbest, out, gsum          []float32
	fbest, fbestLast, fprev, fbestR []float64
	inc                             []int
	reduced, broken                 []bool
	outT                            *tensor.Tensor
}

// apgdMomentum is APGD's momentum α after the first step.
const apgdMomentum = 0.75

// NewAPGDCE returns APGD-CE with the default schedule.
func NewAPGDCE(norm Norm, eps float32) *APGD { return &APGD{Norm: norm, Eps: eps, Loss: CE} }

// NewAPGDDLR returns APGD-DLR with the default schedule.
func NewAPGDDLR(norm Norm, eps float32) *APGD { return &APGD{Norm: norm, Eps: eps, Loss: DLR} }

// NewAPGDWorstCase returns the per-sample worst case of APGD-CE and
// APGD-DLR, named "APGD-CE+DLR": the first two of AutoAttack's four
// attacks (not full AutoAttack, which adds APGD-T, FAB-T and Square).
func NewAPGDWorstCase(norm Norm, eps float32) *WorstCase {
	return NewWorstCase("APGD-CE+DLR", NewAPGDCE(norm, eps), NewAPGDDLR(norm, eps))
}

func (a *APGD) steps() int {
	if a.Steps == 0 {
		return 100
	}
	return a.Steps
}

func (a *APGD) rho() float64 {
	if a.Rho == 0 {
		return 0.75
	}
	return float64(a.Rho)
}

// Name returns e.g. "APGD-CE Linf ε=0.03137", with "-T" when targeted and
// the iterations and restarts when they are not the defaults.
func (a *APGD) Name() string {
	s := fmt.Sprintf("APGD-%v", a.Loss)
	if a.Target != nil {
		s += "-T"
	}
	s += fmt.Sprintf(" %v ε=%.4g", a.Norm, a.Eps)
	if a.steps() != 100 {
		s += fmt.Sprintf(" %d steps", a.steps())
	}
	if a.Restarts > 1 {
		s += fmt.Sprintf(" ×%d restarts", a.Restarts)
	}
	if a.EOT > 1 {
		s += fmt.Sprintf(" EOT %d", a.EOT)
	}
	return s
}

// schedule returns the length of the first checkpoint interval, how much
// each interval shrinks, and the shortest interval, for n iterations:
// 0.22·n, 0.03·n and 0.06·n, each rounded down and at least 1.
func schedule(n int) (first, shrink, least int) {
	return max(22*n/100, 1), max(3*n/100, 1), max(6*n/100, 1)
}

// checkpoints lists the iterations (counted from 1) after which APGD
// checks its progress, for n iterations.
func checkpoints(n int) []int {
	var cs []int
	first, shrink, least := schedule(n)
	for at, step := first, first; at <= n; at += step {
		cs = append(cs, at)
		step = max(step-shrink, least)
	}
	return cs
}

// Perturb runs the attack; see Attack.
func (a *APGD) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	e := &a.e
	e.who = a.who
	if e.who == "" {
		e.who = "attack: APGD"
	}
	e.s = settings{norm: a.Norm, eps: a.Eps, init: InitUniform, loss: a.Loss, target: a.Target,
		anyMiss: a.anyMiss, bn: a.BN, seed: a.Seed}
	if a.Steps < 0 || a.Restarts < 0 || a.EOT < 0 || !(a.Rho >= 0 && a.Rho <= 1) {
		return nil, fmt.Errorf("%s: steps %d, restarts %d, EOT %d, rho %v: want steps, restarts and EOT ≥ 0 and rho in [0,1]", e.who, a.Steps, a.Restarts, a.EOT, a.Rho)
	}
	if err := e.begin(m, x, y); err != nil {
		return nil, err
	}
	defer e.end(m)
	a.alloc()
	for r := range max(a.Restarts, 1) {
		if err := a.run(m, r == 0); err != nil {
			return nil, err
		}
		if allTrue(a.broken) {
			break
		}
	}
	return e.viewOf(&a.outT, a.out), nil
}

// alloc sizes the buffers for the batch.
func (a *APGD) alloc() {
	e := &a.e
	size := len(e.cur)
	for _, b := range []*[]float32{&a.best, &a.gbest, &a.out, &e.prev, &e.tmp} {
		*b = grow(*b, size)
	}
	for _, b := range []*[]float64{&a.fbest, &a.fbestLast, &a.fprev, &a.fbestR} {
		*b = grow(*b, e.n)
	}
	if a.EOT > 1 {
		a.gsum = grow(a.gsum, size)
	}
	a.inc = grow(a.inc, e.n)
	a.reduced = grow(a.reduced, e.n)
	a.broken = grow(a.broken, e.n)
	e.eta = grow(e.eta, e.n)
}

// run is one APGD run from a random start; first marks the first
// restart, which initializes the output.
func (a *APGD) run(m nn.Module, first bool) error {
	e := &a.e
	e.start()
	copy(e.prev, e.cur)
	if err := a.evalGrad(m); err != nil {
		return err
	}
	if first {
		clear(a.broken)
	}
	for i := range e.n {
		a.fbest[i], a.fbestLast[i], a.fprev[i] = e.obj[i], e.obj[i], e.obj[i]
		copy(e.row(a.best, i), e.row(e.cur, i))
		copy(e.row(a.gbest, i), e.row(e.grad, i))
		e.eta[i] = 2 * e.s.eps
		a.inc[i], a.reduced[i] = 0, false
		a.noteBroken(i)
	}
	interval, shrink, least := schedule(a.steps())
	counter := 0
	for k := range a.steps() {
		e.alpha = apgdMomentum
		if k == 0 {
			e.alpha = 1
		}
		e.run(opAPGD)
		if err := a.evalGrad(m); err != nil {
			return err
		}
		a.track()
		if counter++; counter == interval {
			a.checkpoint(interval)
			counter, interval = 0, max(interval-shrink, least)
		}
	}
	// Samples never misclassified keep the best point over the runs.
	for i := range e.n {
		if !a.broken[i] && (first || a.fbest[i] > a.fbestR[i]) {
			copy(e.row(a.out, i), e.row(a.best, i))
			a.fbestR[i] = a.fbest[i]
		}
	}
	return nil
}

// evalGrad evaluates cur with its gradient, averaged over EOT passes.
func (a *APGD) evalGrad(m nn.Module) error {
	e := &a.e
	if a.EOT <= 1 {
		return e.eval(m, true)
	}
	clear(a.gsum)
	for range a.EOT {
		if err := e.eval(m, true); err != nil {
			return err
		}
		for j, g := range e.grad {
			a.gsum[j] += g
		}
	}
	inv := 1 / float32(a.EOT)
	for j, g := range a.gsum {
		e.grad[j] = g * inv
	}
	return nil
}

// noteBroken records cur as sample i's output if it is the sample's first
// misclassifying point.
func (a *APGD) noteBroken(i int) {
	e := &a.e
	if e.fooled[i] && !a.broken[i] {
		copy(e.row(a.out, i), e.row(e.cur, i))
		a.broken[i] = true
	}
}

// track updates the per-sample statistics after an iteration.
func (a *APGD) track() {
	e := &a.e
	for i, f := range e.obj {
		if f > a.fprev[i] {
			a.inc[i]++
		}
		a.fprev[i] = f
		if f > a.fbest[i] {
			a.fbest[i] = f
			copy(e.row(a.best, i), e.row(e.cur, i))
			copy(e.row(a.gbest, i), e.row(e.grad, i))
		}
		a.noteBroken(i)
	}
}

// checkpoint applies the step-size rule at the end of an interval of the
// given length.
func (a *APGD) checkpoint(interval int) {
	e := &a.e
	limit := a.rho() * float64(interval)
	for i := range e.n {
		halve := float64(a.inc[i]) <= limit || (!a.reduced[i] && a.fbest[i] <= a.fbestLast[i])
		if halve {
			e.eta[i] /= 2
			copy(e.row(e.cur, i), e.row(a.best, i))
			copy(e.row(e.prev, i), e.row(a.best, i))
			copy(e.row(e.grad, i), e.row(a.gbest, i))
			a.fprev[i] = a.fbest[i]
		}
		a.reduced[i], a.fbestLast[i], a.inc[i] = halve, a.fbest[i], 0
	}
}

// apgdStep takes sample i's APGD step with step size eta[i] and momentum
// alpha, moving cur to the new iterate and prev to the old one.
func (e *engine) apgdStep(i int) {
	xs, g, pv := e.row(e.cur, i), e.row(e.grad, i), e.row(e.prev, i)
	eta, a := e.eta[i], e.alpha
	if e.s.norm == LInf {
		lo, hi := e.row(e.lo, i), e.row(e.hi, i)
		g, pv, lo, hi = g[:len(xs)], pv[:len(xs)], lo[:len(xs)], hi[:len(xs)]
		for j, v := range xs {
			z := v
			switch {
			case g[j] > 0:
				z += eta
			case g[j] < 0:
				z -= eta
			}
			z = min(max(z, lo[j]), hi[j])
			xn := v + a*(z-v) + (1-a)*(v-pv[j])
			pv[j] = v
			xs[j] = min(max(xn, lo[j]), hi[j])
		}
		return
	}
	x0, z := e.row(e.x0, i), e.row(e.tmp, i)
	copy(z, xs)
	if n := norm2(g); n > 0 {
		axpyTo(z, xs, float32(float64(eta)/n), g)
	}
	projL2(z, x0, e.s.eps)
	pv, z = pv[:len(xs)], z[:len(xs)]
	for j, v := range xs {
		xn := v + a*(z[j]-v) + (1-a)*(v-pv[j])
		pv[j] = v
		xs[j] = xn
	}
	projL2(xs, x0, e.s.eps)
}
