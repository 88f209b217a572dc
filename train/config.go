package train

import (
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/nn"
)

// Schedule is a learning-rate schedule (Config.Schedule); the empty one
// is constant.
type Schedule string

// The learning-rate schedules.
const (
	Constant  Schedule = "constant"
	MultiStep Schedule = "multistep" // ×Gamma at each of Milestones
	Cosine    Schedule = "cosine"    // cosine decay to 0 over the run
	OneCycle  Schedule = "onecycle"  // linear up over Warmup, then cosine down
)

// Schedules lists the schedules Config.Schedule accepts.
var Schedules = []Schedule{Constant, MultiStep, Cosine, OneCycle}

// Config is everything that determines a training run. It is stored as
// JSON in every checkpoint, so a resumed run uses the same settings.
// Errors about a setting are FieldErrors naming its field; the flags of
// `bulwark train` map onto the fields one to one.
type Config struct {
	// Arch is the model's name, one of nn.Archs(); it may be empty when
	// Options.Model is the model to train.
	Arch  string  `json:"arch"`
	Width float64 `json:"width"` // channel multiplier; 0 means 1
	Data  string  `json:"data"`  // dataset spec (data.Open), for the record
	// Subset is a .npy of training-set indices (bulwark select's kept.npy):
	// train on those samples only; Step.Indices then count within it.
	Subset string `json:"subset,omitempty"`

	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`

	LR       float64  `json:"lr"`       // peak learning rate
	Schedule Schedule `json:"schedule"` // one of Schedules; "" means constant
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
	Adv      AdvMode       `json:"adv,omitempty"`       // one of AdvModes
	Eps      float64       `json:"eps,omitempty"`       // radius of the threat model's ball
	Norm     attack.Norm   `json:"norm"`                // the threat model's norm: L∞ (default) or L2
	Steps    int           `json:"steps,omitempty"`     // inner attack steps; 0 means 10 (pgd, trades)
	StepSize float64       `json:"step_size,omitempty"` // inner step; 0 means ε/4 (fgsm-rs: 1.25ε)
	Beta     float64       `json:"beta,omitempty"`      // TRADES weight of the KL term; 0 means 6
	AdvBN    attack.BNMode `json:"adv_bn"`              // BN mode of the inner attack: BNEval (default) or BNTrain
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

	// Recording notes the per-sample recording that hooks on this run
	// make (a prune.Recorder; bulwark train's --record flags). Its JSON
	// fields sit here, among the settings every weights file lists.
	Recording

	Seed    uint64 `json:"seed"`
	Threads int    `json:"threads"` // kernel threads; 0 leaves the current setting
	// Out is the run directory (e.g. runs/NAME) for the checkpoint, the
	// weights, the metrics and the recordings. Empty keeps everything in
	// memory: the run cannot then be resumed, record or write a best
	// checkpoint file (Result has the best weights).
	Out string `json:"out"`
}

// Recording describes a per-sample recording of a run's trajectories
// (package prune's Recorder, attached to Options.OnBatch and OnEpochEnd)
// for the record: train itself acts on none of it, and a resumed run may
// differ in it, since the recorder checks its own files. It keeps the
// JSON names bulwark train has always stored for its --record flags, so
// weight files describe a recorded run as they did when train recorded.
type Recording struct {
	Record      string `json:"record,omitempty"`       // .npy of int64 training-set indices recorded
	RecordAll   bool   `json:"record_all,omitempty"`   // every training sample recorded
	RecordAdv   bool   `json:"record_adv,omitempty"`   // also on the training attack's inputs (prune.RecordAdv)
	RecordTrain bool   `json:"record_train,omitempty"` // from the training pass instead (prune.RecordTrain)
}

// Check validates c. Its error is a *FieldError naming the first
// setting at fault.
func (c *Config) Check() error {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, FieldErrorf(field, format, args...))
	}
	nonNeg := func(field string, v float64) {
		if !(v >= 0) || math.IsInf(v, 1) {
			bad(field, "%g is not a non-negative number", v)
		}
	}
	if c.Arch != "" && !slices.Contains(nn.Archs(), c.Arch) {
		bad("Arch", "unknown architecture %q; known: %v", c.Arch, nn.Archs())
	}
	nonNeg("Width", c.Width)
	if c.Epochs < 1 {
		bad("Epochs", "%d, want at least 1", c.Epochs)
	}
	if c.EvalEvery < 0 {
		bad("EvalEvery", "%d, want at least 1 (or 0 for every epoch)", c.EvalEvery)
	}
	if c.BatchSize < 1 {
		bad("BatchSize", "%d, want at least 1", c.BatchSize)
	}
	nonNeg("LR", c.LR)
	if c.Schedule != "" && !slices.Contains(Schedules, c.Schedule) {
		bad("Schedule", "unknown schedule %q; want one of %v", c.Schedule, Schedules)
	}
	nonNeg("Warmup", c.Warmup)
	if c.Warmup > float64(c.Epochs) && c.Epochs >= 1 {
		bad("Warmup", "%g epochs, more than the %d of the run", c.Warmup, c.Epochs)
	}
	for i, m := range c.Milestones {
		if m < 1 || i > 0 && m <= c.Milestones[i-1] {
			bad("Milestones", "%v: want ascending epochs ≥ 1", c.Milestones)
			break
		}
	}
	if c.Gamma < 0 || c.Gamma > 1 || math.IsNaN(c.Gamma) {
		bad("Gamma", "%g is not in [0, 1]", c.Gamma)
	}
	nonNeg("Momentum", c.Momentum)
	if c.Nesterov && c.Momentum == 0 {
		bad("Nesterov", "needs {Momentum} > 0")
	}
	nonNeg("WeightDecay", c.WeightDecay)
	if !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1) {
		bad("LabelSmoothing", "%g is not in [0, 1)", c.LabelSmoothing)
	}
	if !(c.EMA >= 0 && c.EMA < 1) {
		bad("EMA", "%g is not in [0, 1)", c.EMA)
	}
	if c.Threads < 0 {
		bad("Threads", "%d, want at least 1 (or 0 for the default)", c.Threads)
	}
	c.checkAdv(bad)
	if len(errs) > 0 {
		return errs[0] // one clear line: the first problem
	}
	return nil
}
