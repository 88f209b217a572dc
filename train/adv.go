package train

import (
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// AdvMode is an adversarial training mode (Config.Adv):
//
//	none     standard training
//	pgd      PGD-AT (Madry et al. 2018): minimize CE(f(x'), y), x' from
//	         PGD-Steps with a random start
//	trades   TRADES (Zhang et al. 2019): minimize CE(f(x), y) +
//	         β·KL(softmax f(x) ‖ softmax f(x')), x' from Steps sign steps
//	         on the KL from x + 0.001·N(0, I), in eval mode
//	fgsm-rs  FGSM with a random start (Wong et al. 2020): δ ~ U(−ε, ε),
//	         one step of 1.25ε, projected; with a per-epoch check for
//	         catastrophic overfitting
//
// The empty mode is standard training too.
type AdvMode string

// The adversarial training modes.
const (
	AdvNone   AdvMode = "none"
	AdvPGD    AdvMode = "pgd"
	AdvTRADES AdvMode = "trades"
	AdvFGSMRS AdvMode = "fgsm-rs"
)

// AdvModes lists the modes Config.Adv accepts.
var AdvModes = []AdvMode{AdvNone, AdvPGD, AdvTRADES, AdvFGSMRS}

// adversarial reports whether c trains adversarially.
func (c *Config) adversarial() bool { return c.Adv != "" && c.Adv != AdvNone }

// RecordAttack returns PGD at the training attack's norm, ε, steps and
// step size (PGD-10 at ε/4 without adversarial training), seeded for
// epoch e apart from every attack of the run itself: the attack of the
// seed paper's recording (prune.RecordAdv), reseeded per epoch so that a
// resumed run repeats it.
func (c *Config) RecordAttack(e int) *attack.PGD {
	return &attack.PGD{Norm: c.Norm, Eps: float32(c.Eps), Alpha: c.stepSize(), Steps: c.steps(), Seed: epochSeed(c.Seed, 3, e)}
}

// Defaults of the adversarial settings.
const (
	defaultSteps    = 10
	defaultBeta     = 6
	DefaultValSize  = 1000  // test samples of the robust validation when Config.ValSize is 0
	tradesSigma     = 0.001 // σ of TRADES' random start
	fgsmStepFactor  = 1.25  // FGSM-RS step, in units of ε
	overfitFraction = 0.2   // PGD accuracy below this share of the last epoch's is a collapse
)

// checkAdv validates the adversarial, mixing and recording settings.
func (c *Config) checkAdv(bad func(flag, format string, args ...any)) {
	if c.Adv != "" && !slices.Contains(AdvModes, c.Adv) {
		bad("Adv", "unknown mode %q; want one of %v", c.Adv, AdvModes)
	}
	norm := c.Norm
	if norm != attack.LInf && norm != attack.L2 {
		bad("Norm", "%v: want L∞ or L2", norm)
	}
	switch {
	case !(c.Eps >= 0) || math.IsInf(c.Eps, 0):
		bad("Eps", "%g is not a non-negative number", c.Eps)
	case c.Eps > 1 && norm == attack.LInf:
		bad("Eps", "%g is more than 1, the whole [0,1] range, in L∞", c.Eps)
	case c.Eps == 0 && c.adversarial():
		bad("Eps", "missing: adversarial training ({Adv} %s) needs the radius, e.g. 8/255", c.Adv)
	}
	if !(c.EpsWarmup >= 0) || c.EpsWarmup > float64(c.Epochs) {
		bad("EpsWarmup", "%g epochs: want a number in [0, {Epochs}]", c.EpsWarmup)
	} else if c.EpsWarmup > 0 && !c.adversarial() {
		bad("EpsWarmup", "needs adversarial training ({Adv})")
	}
	if c.Steps < 0 {
		bad("Steps", "%d, want at least 1 (or 0 for the default %d)", c.Steps, defaultSteps)
	}
	if !(c.StepSize >= 0) || math.IsInf(c.StepSize, 0) {
		bad("StepSize", "%g is not a non-negative number", c.StepSize)
	}
	if !(c.Beta >= 0) || math.IsInf(c.Beta, 0) {
		bad("Beta", "%g is not a non-negative number", c.Beta)
	}
	switch c.AdvBN {
	case attack.BNEval:
	case attack.BNTrain:
		if c.Adv == AdvTRADES {
			bad("AdvBN", "TRADES runs its inner attack in eval mode; drop {AdvBN} train")
		}
	default:
		bad("AdvBN", "%v: want eval or train", c.AdvBN)
	}
	if !(c.SyntheticFrac >= 0 && c.SyntheticFrac < 1) {
		bad("SyntheticFrac", "%g is not in (0, 1)", c.SyntheticFrac)
	}
	if c.Synthetic != "" && c.BatchSize < 2 {
		bad("BatchSize", "%d: a mixed batch needs at least 2 samples", c.BatchSize)
	}
	if c.ValSize < 0 {
		bad("ValSize", "%d, want at least 1 (or 0 for the default %d)", c.ValSize, DefaultValSize)
	}
	if c.ValSteps < 0 {
		bad("ValSteps", "%d, want at least 1 (or 0 for the default %d)", c.ValSteps, defaultSteps)
	}
}

// steps returns Steps with its default (1 for FGSM-RS).
func (c *Config) steps() int {
	switch {
	case c.Adv == AdvFGSMRS:
		return 1
	case c.Steps == 0:
		return defaultSteps
	}
	return c.Steps
}

// stepSize returns StepSize with its default: ε/4, or 1.25ε for FGSM-RS.
func (c *Config) stepSize() float32 {
	switch {
	case c.StepSize != 0:
		return float32(c.StepSize)
	case c.Adv == AdvFGSMRS:
		return float32(fgsmStepFactor * c.Eps)
	}
	return float32(c.Eps / 4)
}

// adv is the adversarial side of a Trainer: the inner attack of the
// training loss, the per-epoch robust validation with the best
// checkpoint, and the per-sample recording.
type adv struct {
	t     *Trainer
	norm  attack.Norm
	eps   float32
	bn    attack.BNMode
	inner *attack.PGD // the training attack, reseeded every epoch
	epoch int         // the epoch inner was seeded for
	xadv  *autograd.Var

	// TRADES: the clean softmax [B, classes], computed once per batch.
	tp         *autograd.Tape
	clean      []float32
	cleanCalls int // clean softmax computations (a test seam)

	valIdx      []int                     // the validation slice of the test set
	history     bool                      // best and prevRobust reflect the earlier epochs
	best        float64                   // best validation robust accuracy so far; −1 before any
	bestState   map[string]*tensor.Tensor // its weights, if found in this session
	bestEpoch   int                       // its epoch, 1-based
	prevRobust  float64                   // last epoch's; −1 before any
	warnedNoVal bool
}

// initAdv sets up adversarial training as t.cfg asks; without it t.adv
// stays nil.
func (t *Trainer) initAdv() error {
	cfg := &t.cfg
	if !cfg.adversarial() {
		return nil
	}
	a := &adv{t: t, epoch: -1, best: -1, prevRobust: -1}
	a.norm, a.eps, a.bn = cfg.Norm, float32(cfg.Eps), cfg.AdvBN
	if t.opts.Loss != nil {
		return FieldErrorf("Adv", "%s: the run already has a custom loss ({Loss})", cfg.Adv)
	}
	a.xadv = autograd.Leaf(nil, false)
	a.tp = autograd.NewTape()
	t.loss = a.loss
	if t.test != nil {
		a.valIdx = valSlice(t.test.Len(), cfg.ValSize, cfg.Seed)
	}
	t.adv = a
	return nil
}

// epochSeed derives the seed of an attack run at epoch e from the run's
// seed and a salt; attacks are reseeded every epoch so that a resumed run
// repeats them.
func epochSeed(seed uint64, salt, e int) uint64 {
	return tensor.SplitMix64(seed ^ uint64(salt)<<32 ^ uint64(e))
}

// innerAttack returns the training attack for epoch e.
func (a *adv) innerAttack(e int) *attack.PGD {
	if a.inner != nil && a.epoch == e {
		return a.inner
	}
	cfg := &a.t.cfg
	p := &attack.PGD{Norm: a.norm, Eps: a.eps, Alpha: cfg.stepSize(), Steps: cfg.steps(), BN: a.bn,
		Seed: epochSeed(cfg.Seed, 1, e)}
	if cfg.Adv == AdvTRADES {
		p.Init, p.Sigma, p.BN, p.Objective = attack.InitNormal, tradesSigma, attack.BNEval, a.klObjective
	}
	a.inner, a.epoch = p, e
	return p
}

// perturb returns the inner attack's adversarial version of the step's
// batch, or the attack's error (inputs outside [0,1], say) naming Adv.
func (a *adv) perturb(s *Step) (*autograd.Var, error) {
	p := a.innerAttack(s.Epoch)
	a.rampEps(p, s)
	x, err := p.Perturb(s.Model, s.X.Value, s.Labels)
	if err != nil {
		return nil, WrapField("Adv", err, "%s", a.t.cfg.Adv)
	}
	a.xadv.Value = x
	return a.xadv, nil
}

// rampEps sets the training attack's ε (and its default step size) for
// step s under EpsWarmup: ε·min(1, t/T) with t the steps done so far
// plus one and T the warm-up's length in steps.
func (a *adv) rampEps(p *attack.PGD, s *Step) {
	cfg := &a.t.cfg
	if cfg.EpsWarmup == 0 {
		return
	}
	nb := a.t.batcher.Len()
	f := min(1, float64(s.Epoch*nb+s.Batch+1)/(cfg.EpsWarmup*float64(nb)))
	p.Eps = float32(f * cfg.Eps)
	if cfg.StepSize == 0 {
		p.Alpha = float32(f * float64(cfg.stepSize()))
	}
}

// loss is the LossFunc of adversarial training. PGD-AT and FGSM-RS
// return the adversarial logits (the training accuracy is then robust
// accuracy); TRADES returns the clean ones.
func (a *adv) loss(s *Step) (loss, logits *autograd.Var, err error) {
	ce := autograd.CEOptions{LabelSmoothing: float32(a.t.cfg.LabelSmoothing)}
	if a.t.cfg.Adv != AdvTRADES {
		xadv, err := a.perturb(s)
		if err != nil {
			return nil, nil, err
		}
		logits = s.Model.Forward(s.Tape, xadv)
		return s.Tape.CrossEntropy(logits, s.Labels, ce), logits, nil
	}
	a.cacheClean(s.Model, s.X)
	xadv, err := a.perturb(s)
	if err != nil {
		return nil, nil, err
	}
	logits = s.Model.Forward(s.Tape, s.X)
	kl := s.Tape.KLDiv(logits, s.Model.Forward(s.Tape, xadv), autograd.ReduceMean)
	beta := a.t.cfg.Beta
	if beta == 0 {
		beta = defaultBeta
	}
	return s.Tape.Add(s.Tape.CrossEntropy(logits, s.Labels, ce), s.Tape.MulScalar(kl, float32(beta))), logits, nil
}

// cacheClean computes the softmax of m on x in eval mode, without
// gradients, into a.clean: the fixed P of TRADES' inner KL.
func (a *adv) cacheClean(m nn.Module, x *autograd.Var) {
	a.cleanCalls++
	was := m.Training()
	m.SetTrain(false)
	a.tp.Reset()
	restore := a.tp.NoGrad()
	z := m.Forward(a.tp, x).Value
	restore()
	m.SetTrain(was)
	a.clean = append(a.clean[:0], z.Data()...)
	c := z.Dim(1)
	for i := range z.Dim(0) {
		softmaxRow(a.clean[i*c : (i+1)*c])
	}
	a.tp.Reset()
}

// softmaxRow replaces the logits in row by their softmax.
func softmaxRow(row []float32) {
	lse := tensor.LogSumExpRow(row)
	for j, v := range row {
		row[j] = float32(math.Exp(float64(v) - lse))
	}
}

// klObjective is TRADES' inner objective for sample i:
// KL(P ‖ softmax z) with P the cached clean softmax; ∂/∂z = softmax z − P.
func (a *adv) klObjective(i int, z []float32, _ int, grad []float32) float64 {
	c := len(z)
	p := a.clean[i*c : (i+1)*c]
	lse := tensor.LogSumExpRow(z)
	var kl float64
	for j, v := range z {
		lq := float64(v) - lse
		if p[j] > 0 {
			kl += float64(p[j]) * (math.Log(float64(p[j])) - lq)
		}
		grad[j] = float32(math.Exp(lq) - float64(p[j]))
	}
	return kl
}
