package train

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Robust validation: after every EvalEvery-th epoch of adversarial
// training, the model (and its EMA) is attacked on a held-out slice of the
// test set; the best weights are kept, and FGSM-RS runs are checked for
// catastrophic overfitting.

// BestModelFile holds the weights with the best validation robust
// accuracy (the EMA weights when EMA is on).
const BestModelFile = "best_model.safetensors"

// AdvMetrics are the robust-validation figures of an epoch, part of
// Metrics (and of the metrics.jsonl line) in adversarial runs.
// Accuracies are fractions in [0, 1] on the held-out validation slice.
type AdvMetrics struct {
	ValCleanAcc  float64 `json:"val_clean_acc"`
	ValRobustAcc float64 `json:"val_robust_acc"` // under PGD-ValSteps
	// ValFGSMAcc is the accuracy under FGSM (FGSM-RS runs), whose
	// staying high while ValRobustAcc collapses marks catastrophic
	// overfitting.
	ValFGSMAcc *float64 `json:"val_fgsm_acc,omitempty"`
	// EMAValRobustAcc is the EMA model's robust accuracy (with EMA).
	EMAValRobustAcc *float64 `json:"ema_val_robust_acc,omitempty"`
	BestRobustAcc   float64  `json:"best_robust_acc"` // of best_model.safetensors
	// Overfit flags catastrophic overfitting (FGSM-RS).
	Overfit bool    `json:"catastrophic_overfitting,omitempty"`
	ValSec  float64 `json:"val_s"`
}

// String formats m as the suffix of an epoch's line.
func (m *AdvMetrics) String() string {
	s := fmt.Sprintf("  val clean %.2f%%  robust %.2f%%", 100*m.ValCleanAcc, 100*m.ValRobustAcc)
	if m.EMAValRobustAcc != nil {
		s += fmt.Sprintf("  ema robust %.2f%%", 100**m.EMAValRobustAcc)
	}
	if m.Overfit {
		s += "  CATASTROPHIC OVERFITTING"
	}
	return s
}

// valSlice returns the sorted indices of the validation slice: size
// (0 means DefaultValSize) samples of a test set of n drawn with seed.
func valSlice(n, size int, seed uint64) []int {
	if size == 0 {
		size = DefaultValSize
	}
	idx := tensor.NewRNG(seed ^ 0x7a11da7e).Perm(n)[:min(size, n)]
	slices.Sort(idx)
	return idx
}

// advEpochEnd runs after epoch e's evaluation: robust validation (with
// the best checkpoint and the overfitting check). It leaves
// the model in training mode.
func (t *Trainer) advEpochEnd(e int, m *Metrics) error {
	a := t.adv
	if a == nil {
		return nil
	}
	defer t.model.SetTrain(true)
	if t.evalEpoch(e) {
		return a.validate(e, m)
	}
	return nil
}

// validate measures the robust accuracy of the model (and of the EMA
// model) on the validation slice, keeps the best weights and warns of
// catastrophic overfitting.
func (a *adv) validate(e int, m *Metrics) error {
	t := a.t
	if len(a.valIdx) == 0 {
		if !a.warnedNoVal && t.opts.Stdout != nil {
			fmt.Fprintf(t.opts.Stdout, "note: %s has no test set: no robust validation, best checkpoint or overfitting check\n", t.dataName())
		}
		a.warnedNoVal = true
		return nil
	}
	if err := a.loadHistory(e); err != nil {
		return err
	}
	start := time.Now()
	am := &AdvMetrics{}
	attacks := []attack.Attack{a.valAttack(e)}
	if t.cfg.Adv == AdvFGSMRS {
		attacks = append(attacks, &attack.FGSM{Eps: a.eps})
	}
	eo := attack.EvalOptions{BatchSize: t.cfg.BatchSize, Workers: t.opts.Workers, Indices: a.valIdx}
	r, err := attack.Evaluate(t.model, t.test, eo, attacks...)
	if err != nil {
		return WrapField("Data", err, "%s: robust validation", t.dataName())
	}
	am.ValCleanAcc, am.ValRobustAcc = r.CleanAcc(), r.RobustAcc(0)
	sel := am.ValRobustAcc
	if len(attacks) > 1 {
		f := r.RobustAcc(1)
		am.ValFGSMAcc = &f
	}
	if t.ema != nil {
		t.ema.Apply()
		er, err := attack.Evaluate(t.model, t.test, eo, a.valAttack(e))
		t.ema.Restore()
		if err != nil {
			return WrapField("Data", err, "%s: robust validation of the EMA model", t.dataName())
		}
		acc := er.RobustAcc(0)
		am.EMAValRobustAcc, sel = &acc, acc
	}
	if sel > a.best {
		a.best = sel
		if err := a.saveBest(e, sel); err != nil {
			return err
		}
	}
	am.BestRobustAcc = a.best
	if t.cfg.Adv == AdvFGSMRS {
		am.Overfit = overfitting(a.prevRobust, am.ValRobustAcc, *am.ValFGSMAcc)
		if am.Overfit && t.opts.Stdout != nil {
			fmt.Fprintf(t.opts.Stdout, "WARNING: catastrophic overfitting at epoch %d: PGD accuracy %.2f%% (previous epoch %.2f%%) while FGSM accuracy is %.2f%%; lower ε or the step size, or train with PGD\n",
				e+1, 100*am.ValRobustAcc, 100*max(a.prevRobust, 0), 100**am.ValFGSMAcc)
		}
	}
	a.prevRobust = am.ValRobustAcc
	am.ValSec = time.Since(start).Seconds()
	m.AdvMetrics = am
	return nil
}

// valAttack returns the validation attack of epoch e: PGD-ValSteps with
// a random start and the attack package's default step, in eval mode.
func (a *adv) valAttack(e int) *attack.PGD {
	return &attack.PGD{Norm: a.norm, Eps: a.eps, Steps: a.t.cfg.ValSteps, Seed: epochSeed(a.t.cfg.Seed, 2, e)}
}

// overfitting reports catastrophic overfitting: PGD accuracy collapsing
// to below overfitFraction of the previous epoch's, or to about zero
// while FGSM accuracy stays high.
func overfitting(prev, pgd, fgsm float64) bool {
	collapsed := prev >= 0.05 && pgd < overfitFraction*prev
	zero := pgd < 0.02 && fgsm > 0.3
	return collapsed || zero
}

// saveBest keeps the model (or, with EMA, the averaged) weights as the
// best, in memory and, with a run directory, in BestModelFile with the
// epoch and accuracy in its metadata.
func (a *adv) saveBest(e int, acc float64) error {
	t := a.t
	ts := cloneState(nn.StateMap(nn.StateDict(t.model)))
	if t.ema != nil {
		ts = t.ema.State()
	}
	a.bestState, a.bestEpoch = ts, e+1
	if t.cfg.Out == "" {
		return nil
	}
	meta, err := t.modelMeta()
	if err != nil {
		return err
	}
	meta["epoch"] = strconv.Itoa(e + 1)
	meta["val_robust_acc"] = strconv.FormatFloat(acc, 'g', -1, 64)
	return nn.SaveState(filepath.Join(t.cfg.Out, BestModelFile), ts, meta)
}

// loadHistory restores, once, the best and previous robust accuracies of
// the epochs before e from metrics.jsonl (a resumed run).
func (a *adv) loadHistory(e int) error {
	if a.history {
		return nil
	}
	a.history = true
	if a.t.start == 0 {
		return nil // no earlier session
	}
	ms, err := ReadMetrics(filepath.Join(a.t.cfg.Out, MetricsFile))
	if err != nil {
		return WrapField("Resume", err, "")
	}
	for _, m := range ms {
		if m.Epoch > e || m.AdvMetrics == nil {
			continue
		}
		a.best = max(a.best, m.BestRobustAcc)
		a.prevRobust = m.ValRobustAcc
	}
	return nil
}
