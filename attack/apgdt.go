package attack

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// APGDT is APGD-T, the targeted APGD of AutoAttack (Croce & Hein 2020):
// APGD on the targeted DLR loss −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2 +
// 1e−12), run once for each of Targets target classes: the classes with
// the largest clean logits other than the label, in order. Each run
// attacks only the samples no earlier run has misclassified, and a sample
// counts as broken as soon as one run misclassifies it (as any class, not
// only the target). Samples misclassified on their clean input are
// returned as they are. The runs are APGD's (same schedule, checkpoints
// and momentum); the model needs at least 4 classes.
type APGDT struct {
	Norm Norm    // LInf (the default) or L2
	Eps  float32 // radius of the ball, ≥ 0
	// Steps is the number of iterations of each run; 0 means 100.
	Steps int
	// Targets is the number of target classes; 0 means 9, AutoAttack's
	// standard. At most classes − 1 are used.
	Targets int
	// Restarts is the number of APGD runs per target; 0 means 1.
	Restarts int
	Rho      float32 // as APGD.Rho; 0 means 0.75
	EOT      int     // as APGD.EOT; 0 means 1
	BN       BNMode  // the model's mode during the attack; BNEval by default
	Seed     uint64  // seeds the random starts

	run   APGD
	pt    perTarget
	inner func(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error)
}

// targetsOr9 returns a Targets setting with its default, 9.
func targetsOr9(n int) int {
	if n == 0 {
		return 9
	}
	return n
}

// Name returns e.g. "APGD-T Linf ε=0.03137", with the iterations, targets
// and restarts when they are not the defaults.
func (a *APGDT) Name() string {
	s := fmt.Sprintf("APGD-T %v ε=%.4g", a.Norm, a.Eps)
	if a.Steps != 0 && a.Steps != 100 {
		s += fmt.Sprintf(" %d steps", a.Steps)
	}
	if t := targetsOr9(a.Targets); t != 9 {
		s += fmt.Sprintf(" %d targets", t)
	}
	if a.Restarts > 1 {
		s += fmt.Sprintf(" ×%d restarts", a.Restarts)
	}
	if a.EOT > 1 {
		s += fmt.Sprintf(" EOT %d", a.EOT)
	}
	return s
}

// Perturb runs the attack; see Attack.
func (a *APGDT) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	const who = "attack: APGD-T"
	if a.Targets < 0 {
		return nil, fmt.Errorf("%s: targets %d, want ≥ 0", who, a.Targets)
	}
	r := &a.run
	r.Norm, r.Eps, r.Steps, r.Restarts, r.Rho, r.EOT = a.Norm, a.Eps, a.Steps, a.Restarts, a.Rho, a.EOT
	r.Loss, r.BN, r.Seed, r.who, r.anyMiss = DLR, a.BN, a.Seed, who, true
	if r.Target == nil {
		r.Target = a.pt.target
		a.inner = r.Perturb
	}
	// Check the settings before the clean pass.
	if err := (&settings{norm: a.Norm, eps: a.Eps, loss: DLR, bn: a.BN}).check(who); err != nil {
		return nil, err
	}
	if a.Steps < 0 || a.Restarts < 0 || a.EOT < 0 || !(a.Rho >= 0 && a.Rho <= 1) {
		return nil, fmt.Errorf("%s: steps %d, restarts %d, EOT %d, rho %v: want steps, restarts and EOT ≥ 0 and rho in [0,1]", who, a.Steps, a.Restarts, a.EOT, a.Rho)
	}
	return a.pt.run(who, m, x, y, targetsOr9(a.Targets), a.BN, &a.run.e, a.inner)
}

// perTarget runs a targeted attack once per target class, as AutoAttack's
// APGD-T and FAB-T do: in run k (from 0), each sample's target is the
// class with the (k+1)-th largest clean logit other than its label; each
// run attacks only the samples still classified correctly, and its
// misclassifying outputs are kept.
type perTarget struct {
	pr     predictor
	sub    subBatch
	robust []bool
	ranked []int // per sample, its k first target classes
	k      int   // targets per sample
	rank   int   // the current run
	out    []float32
	outT   *tensor.Tensor
	keys   []int // the samples' keys (Evaluate's), or nil
	gkeys  []int // the gathered samples' keys
}

// target is the Targeter of the inner attack: it reads the current run's
// targets of the gathered samples.
func (p *perTarget) target(dst, _ []int, _ int) {
	for j, i := range p.sub.idx {
		dst[j] = p.ranked[i*p.k+p.rank]
	}
}

// run checks the batch, ranks the targets by the clean logits (computed
// in the mode bn asks for) and calls inner once per target on the samples
// still classified correctly, giving e (inner's engine) the keys of those
// samples and the run's rank as its salt.
func (p *perTarget) run(who string, m nn.Module, x *tensor.Tensor, y []int, targets int, bn BNMode,
	e *engine, inner func(nn.Module, *tensor.Tensor, []int) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	if err := checkInput(who, x, y); err != nil {
		return nil, err
	}
	was := m.Training()
	defer m.SetTrain(was)
	setMode(m, bn)
	n := len(y)
	p.robust = grow(p.robust, n)
	p.out = grow(p.out, x.Len())
	copy(p.out, x.Data())
	err := p.pr.correct(m, x, y, p.robust, func(z []float32, c int) {
		p.k = max(min(targets, c-1), 0)
		p.ranked = grow(p.ranked, n*p.k)
		for i, l := range y {
			rankOthers(p.ranked[i*p.k:(i+1)*p.k], z[i*c:(i+1)*c], l)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", who, err)
	}
	for p.rank = 0; p.rank < p.k; p.rank++ {
		xs, ys := p.sub.gather(x, y, p.robust)
		if len(ys) == 0 {
			break
		}
		p.gkeys = gatherKeys(p.gkeys, p.keys, p.sub.idx)
		e.keys, e.salt = p.gkeys, uint64(p.rank+1)
		adv, err := inner(m, xs, ys)
		if err != nil {
			return nil, err
		}
		if err := p.pr.correct(m, adv, ys, p.sub.ok, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", who, err)
		}
		// Only misclassifying outputs replace the clean input.
		for j, ok := range p.sub.ok {
			if !ok {
				i, chw := p.sub.idx[j], adv.Len()/len(ys)
				copy(p.out[i*chw:(i+1)*chw], adv.Data()[j*chw:(j+1)*chw])
				p.robust[i] = false
			}
		}
	}
	return view(&p.outT, p.out, [4]int{n, x.Dim(1), x.Dim(2), x.Dim(3)}), nil
}

// rankOthers writes into dst the len(dst) classes other than y with the
// largest logits z, largest first (the lower index first on ties).
func rankOthers(dst []int, z []float32, y int) {
	for k := range dst {
		best := -1
		for c, v := range z {
			if c == y || (best >= 0 && v <= z[best]) || taken(dst[:k], c) {
				continue
			}
			best = c
		}
		dst[k] = best
	}
}

func taken(s []int, c int) bool {
	for _, v := range s {
		if v == c {
			return true
		}
	}
	return false
}

// setMode puts m in the mode bn asks for (BNKeep leaves it).
func setMode(m nn.Module, bn BNMode) {
	switch bn {
	case BNEval:
		m.SetTrain(false)
	case BNTrain:
		m.SetTrain(true)
	}
}
