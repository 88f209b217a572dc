package train

import (
	"fmt"
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/nn"
)

// Schedules lists the learning-rate schedules Config.Schedule accepts.
var Schedules = []string{"constant", "multistep", "cosine", "onecycle"}

// Config is everything that determines a training run. It is stored as
// JSON in every checkpoint, so a resumed run uses the same settings. The
// CLI flags of `bulwark train` map onto these fields one to one.
type Config struct {
	Arch  string  `json:"arch"`  // model name, one of nn.Archs()
	Width float64 `json:"width"` // channel multiplier; 0 means 1
	Data  string  `json:"data"`  // dataset spec (data.Open), for the record
	// Subset is a .npy of training-set indices (bulwark select's kept.npy):
	// train on those samples only. Record indices then count within it.
	Subset string `json:"subset,omitempty"`

	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`

	LR       float64 `json:"lr"`       // peak learning rate
	Schedule string  `json:"schedule"` // one of Schedules; "" means constant
	// Warmup is the number of epochs (fractions allowed) of linear
	// warm-up from 0 to LR. For onecycle it is the rising phase and
	// defaults to 30% of the run.
	Warmup float64 `json:"warmup"`
	// Milestones are the epochs at which multistep multiplies the rate
	// by Gamma; empty means 50% and 75% of Epochs.
	Milestones []int   `json:"milestones,omitempty"`
	Gamma      float64 `json:"gamma"` // multistep factor; 0 means 0.1

	Momentum    float64 `json:"momentum"`
	Nesterov    bool    `json:"nesterov"`
	WeightDecay float64 `json:"weight_decay"`
	// DecayAll applies weight decay to biases and BatchNorm parameters
	// too; by default they are exempt.
	DecayAll bool `json:"decay_all"`

	LabelSmoothing float64 `json:"label_smoothing"`
	EMA            float64 `json:"ema"` // decay of the weight average; 0 is off
	Augment        bool    `json:"augment"`

	// Adversarial training (adv.go); Adv "" or "none" is standard
	// training.
	Adv      string  `json:"adv,omitempty"`       // one of AdvModes
	Eps      float64 `json:"eps,omitempty"`       // radius of the threat model's ball
	Norm     string  `json:"norm,omitempty"`      // "linf" (default) or "l2"
	Steps    int     `json:"steps,omitempty"`     // inner attack steps; 0 means 10 (pgd, trades)
	StepSize float64 `json:"step_size,omitempty"` // inner step; 0 means ε/4 (fgsm-rs: 1.25ε)
	Beta     float64 `json:"beta,omitempty"`      // TRADES weight of the KL term; 0 means 6
	AdvBN    string  `json:"adv_bn,omitempty"`    // BN mode of the inner attack: "eval" (default) or "train"
	// EpsWarmup is the number of epochs (fractions allowed) over which
	// the training attack's ε grows linearly from 0 to Eps, step by step
	// (a curriculum against the early stall of large-ε PGD-AT); the
	// default step size ε/4 follows the ramp, an explicit one does not.
	EpsWarmup float64 `json:"eps_warmup,omitempty"`

	// Synthetic is a dataset spec of a synthetic pool mixed into every
	// batch (SyntheticFrac of it, default 0.8); an epoch is then defined
	// by the real set.
	Synthetic     string  `json:"synthetic,omitempty"`
	SyntheticFrac float64 `json:"synthetic_frac,omitempty"`

	// ValSize is the size of the held-out slice of the test set on which
	// robust accuracy is measured after each epoch of adversarial
	// training (0 means 1000); ValSteps the PGD steps (0 means 10).
	ValSize  int `json:"val_size,omitempty"`
	ValSteps int `json:"val_steps,omitempty"`
	// EvalEvery evaluates (test set, robust validation, best checkpoint)
	// after every EvalEvery-th epoch and after the last only; 0 means 1.
	// On a small training set the per-epoch evaluation can cost a quarter
	// of the run.
	EvalEvery int `json:"eval_every,omitempty"`

	// Per-epoch recording of true-class probabilities (record.go).
	Record      string `json:"record,omitempty"`       // .npy of int64 training-set indices
	RecordAll   bool   `json:"record_all,omitempty"`   // record every training sample
	RecordAdv   bool   `json:"record_adv,omitempty"`   // also on the training attack's PGD inputs
	RecordTrain bool   `json:"record_train,omitempty"` // from the training forward pass instead

	Seed    uint64 `json:"seed"`
	Threads int    `json:"threads"` // kernel threads; 0 leaves the current setting
	Out     string `json:"out"`     // run directory, e.g. runs/NAME
}

// Check validates c, naming the offending field by its CLI flag.
func (c *Config) Check() error {
	var errs []error
	bad := func(flag string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	nonNeg := func(flag string, v float64) {
		if !(v >= 0) || math.IsInf(v, 1) {
			bad(flag, "%g is not a non-negative number", v)
		}
	}
	if !slices.Contains(nn.Archs(), c.Arch) {
		bad("arch", "unknown architecture %q; known: %v", c.Arch, nn.Archs())
	}
	nonNeg("width", c.Width)
	if c.Epochs < 1 {
		bad("epochs", "%d, want at least 1", c.Epochs)
	}
	if c.EvalEvery < 0 {
		bad("eval-every", "%d, want at least 1 (or 0 for every epoch)", c.EvalEvery)
	}
	if c.BatchSize < 1 {
		bad("batch", "%d, want at least 1", c.BatchSize)
	}
	nonNeg("lr", c.LR)
	if c.Schedule != "" && !slices.Contains(Schedules, c.Schedule) {
		bad("schedule", "unknown schedule %q; want one of %v", c.Schedule, Schedules)
	}
	nonNeg("warmup", c.Warmup)
	if c.Warmup > float64(c.Epochs) && c.Epochs >= 1 {
		bad("warmup", "%g epochs, more than the %d of the run", c.Warmup, c.Epochs)
	}
	for i, m := range c.Milestones {
		if m < 1 || i > 0 && m <= c.Milestones[i-1] {
			bad("milestones", "%v: want ascending epochs ≥ 1", c.Milestones)
			break
		}
	}
	if c.Gamma < 0 || c.Gamma > 1 || math.IsNaN(c.Gamma) {
		bad("gamma", "%g is not in [0, 1]", c.Gamma)
	}
	nonNeg("momentum", c.Momentum)
	if c.Nesterov && c.Momentum == 0 {
		bad("nesterov", "needs --momentum > 0")
	}
	nonNeg("wd", c.WeightDecay)
	if !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1) {
		bad("label-smoothing", "%g is not in [0, 1)", c.LabelSmoothing)
	}
	if !(c.EMA >= 0 && c.EMA < 1) {
		bad("ema", "%g is not in [0, 1)", c.EMA)
	}
	if c.Threads < 0 {
		bad("threads", "%d, want at least 1 (or 0 for the default)", c.Threads)
	}
	c.checkAdv(bad)
	if c.Out == "" {
		bad("out", "missing: name the run directory, e.g. runs/NAME")
	}
	if len(errs) > 0 {
		return errs[0] // one clear line: the first problem
	}
	return nil
}
