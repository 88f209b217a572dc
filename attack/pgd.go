package attack

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// PGD is projected gradient ascent (Madry et al. 2018) in L∞ or L2. Each
// step moves x by Alpha along sign(∇ₓL) (L∞) or ∇ₓL/‖∇ₓL‖₂ (L2) and
// projects onto the ε-ball around the clean input intersected with [0,1].
//
// With one run and no early stop, PGD returns the last iterate, as Madry's
// recipe does. With restarts, it keeps per sample the run whose final
// point misclassifies first or, if none does, has the highest loss; with
// EarlyStop, a sample stops moving as soon as it is misclassified (for
// evaluation: it is then already counted as broken).
type PGD struct {
	Norm  Norm    // LInf (the default) or L2
	Eps   float32 // radius of the ball, ≥ 0
	Alpha float32 // step size; 0 means 2.5·Eps/Steps
	Steps int     // gradient steps; 0 means 10
	// Restarts is the number of runs from independent random starts; 0
	// means 1.
	Restarts int
	Init     Init    // starting point; InitUniform by default
	Sigma    float32 // σ of InitNormal
	Loss     Loss    // CE by default
	// Objective, if set, replaces Loss (and Target's loss): PGD then
	// maximizes it.
	Objective Objective
	// Target, if set, makes the attack targeted: it drives each sample
	// towards the class Target picks, and a sample counts as broken when
	// it is classified as its target.
	Target    Targeter
	EarlyStop bool   // stop each sample's updates once it is misclassified
	BN        BNMode // the model's mode during the attack; BNEval by default
	Seed      uint64 // seeds the random starts

	who        string // the name in errors, if not "attack: PGD"
	e          engine
	best       []float32
	bestObj    []float64
	bestFooled []bool
	bestT      *tensor.Tensor
}

// steps returns Steps with its default.
func (p *PGD) steps() int {
	if p.Steps == 0 {
		return 10
	}
	return p.Steps
}

// alpha returns Alpha with its default.
func (p *PGD) alpha() float32 {
	if p.Alpha == 0 {
		return 2.5 * p.Eps / float32(p.steps())
	}
	return p.Alpha
}

// Name returns e.g. "PGD-20 Linf ε=0.03137 α=0.007843" with the loss,
// restarts and targeting when they are not the defaults.
func (p *PGD) Name() string {
	s := fmt.Sprintf("PGD-%d %v ε=%.4g α=%.4g", p.steps(), p.Norm, p.Eps, p.alpha())
	return s + suffix(p.Loss, p.Objective != nil, p.Target != nil, p.Restarts)
}

// suffix names the non-default loss, targeting and restarts of an attack.
func suffix(l Loss, custom, targeted bool, restarts int) string {
	s := ""
	switch {
	case custom:
		s += " custom-loss"
	case l != CE:
		s += " " + l.String()
	}
	if targeted {
		s += " targeted"
	}
	if restarts > 1 {
		s += fmt.Sprintf(" ×%d restarts", restarts)
	}
	return s
}

// Perturb runs the attack; see Attack.
func (p *PGD) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	e := &p.e
	e.who = p.who
	if e.who == "" {
		e.who = "attack: PGD"
	}
	e.s = settings{norm: p.Norm, eps: p.Eps, init: p.Init, sigma: p.Sigma, loss: p.Loss,
		custom: p.Objective, target: p.Target, bn: p.BN, seed: p.Seed}
	if p.Steps < 0 || p.Restarts < 0 || !(p.Alpha >= 0) {
		return nil, fmt.Errorf("%s: steps %d, restarts %d, step size %v: want values ≥ 0", e.who, p.Steps, p.Restarts, p.Alpha)
	}
	if err := e.begin(m, x, y); err != nil {
		return nil, err
	}
	defer e.end(m)
	restarts := max(p.Restarts, 1)
	// keep says whether to evaluate each run's final point and keep the
	// best per sample, rather than return the last iterate.
	keep := restarts > 1 || p.EarlyStop
	if keep {
		p.best = grow(p.best, len(e.cur))
		p.bestObj = grow(p.bestObj, e.n)
		p.bestFooled = grow(p.bestFooled, e.n)
	}
	e.alpha = p.alpha()
	for r := range restarts {
		e.start()
		if r > 0 && p.EarlyStop {
			// Samples broken by an earlier run stay as they are.
			copy(e.active, p.bestFooled)
			for i := range e.active {
				e.active[i] = !e.active[i]
			}
		}
		for range p.steps() {
			if err := e.eval(m, true); err != nil {
				return nil, err
			}
			if p.EarlyStop {
				for i, f := range e.fooled {
					e.active[i] = e.active[i] && !f
				}
			}
			e.run(opPGD)
		}
		if !keep {
			return e.curT, nil
		}
		if err := e.eval(m, false); err != nil {
			return nil, err
		}
		p.merge(r == 0)
		if p.EarlyStop && allTrue(p.bestFooled) {
			break
		}
	}
	return e.viewOf(&p.bestT, p.best), nil
}

// merge folds this run's final points into the best ones: a sample keeps
// its first misclassifying point, otherwise the one with the highest loss.
func (p *PGD) merge(first bool) {
	e := &p.e
	for i := range e.n {
		take := first
		if !take && !p.bestFooled[i] {
			take = e.fooled[i] || e.obj[i] > p.bestObj[i]
		}
		if take {
			copy(e.row(p.best, i), e.row(e.cur, i))
			p.bestObj[i], p.bestFooled[i] = e.obj[i], e.fooled[i]
		}
	}
}

func allTrue(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}

// FGSM is the fast gradient sign method (Goodfellow et al. 2015):
// x' = clamp(x + ε·sign(∇ₓL), 0, 1), one step from the clean input in L∞.
type FGSM struct {
	Eps    float32  // the step, and the L∞ radius
	Loss   Loss     // CE by default
	Target Targeter // if set, a targeted step (see PGD.Target)
	BN     BNMode   // the model's mode during the attack; BNEval by default

	p PGD
}

// Name returns e.g. "FGSM Linf ε=0.03137".
func (f *FGSM) Name() string {
	return fmt.Sprintf("FGSM Linf ε=%.4g", f.Eps) + suffix(f.Loss, false, f.Target != nil, 0)
}

// Perturb runs the attack; see Attack.
func (f *FGSM) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	p := &f.p
	p.Norm, p.Eps, p.Alpha, p.Steps, p.Init = LInf, f.Eps, f.Eps, 1, InitNone
	p.Loss, p.Target, p.BN, p.who = f.Loss, f.Target, f.BN, "attack: FGSM"
	return p.Perturb(m, x, y)
}
