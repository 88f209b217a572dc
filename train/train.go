package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/optim"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Options are the parts of a run that are not settings: the model and
// data when the caller has them, where output goes, resumption and hooks.
// The zero value is valid.
type Options struct {
	// Model, if set, is the model to train, from its current weights, in
	// place of a new Config.Arch (which may then be empty); a resumed run
	// overwrites its weights from the checkpoint.
	Model nn.FeatureModel
	// Train and Test, if set, replace the sets opened from Config.Data
	// (tests and later pipeline stages pass subsets this way). Test may
	// be nil: then there is no evaluation.
	Train, Test data.Dataset
	// Stdout receives one line per epoch; nil discards them.
	Stdout io.Writer
	// Progress receives a progress bar per epoch; nil disables it.
	Progress io.Writer
	// Resume continues the run in Config.Out from its checkpoint. Without
	// it, a directory that already holds a checkpoint is an error.
	// Config.Out must be set.
	Resume bool
	// Workers is the number of goroutines decoding batches; 0 is the
	// data package's default.
	Workers int
	// Synthetic, if set, is the synthetic pool mixed into every batch in
	// place of the one Config.Synthetic names (the pipeline passes a
	// pruned pool this way); Config.SyntheticFrac applies. The caller
	// keeps ownership.
	Synthetic data.Dataset

	// Loss computes the training loss of a step; nil is cross-entropy
	// with Config.LabelSmoothing. Adversarial training plugs in here.
	Loss LossFunc
	// OnBatch, if set, runs after each step's forward pass and backward
	// pass, before the optimizer step; s.Logits and s.Loss are valid.
	OnBatch func(s *Step) error
	// OnEpochEnd, if set, runs after each epoch's evaluation and before
	// its checkpoint, with the epoch's index t = 0..Epochs-1 and the live
	// (non-EMA) model in training mode. Per-sample recording and
	// validation attacks plug in here; a hook that changes the mode must
	// restore it. An error stops the run.
	OnEpochEnd func(epoch int, model nn.Module) error
}

// LossFunc returns the loss to minimise on a step and the logits from
// which the training accuracy is counted. It records on s.Tape.
type LossFunc func(s *Step) (loss, logits *autograd.Var, err error)

// Step is what a LossFunc and the OnBatch hook see of one training step.
// The Trainer reuses it; do not keep it past the call.
type Step struct {
	Tape    *autograd.Tape
	Model   nn.FeatureModel
	X       *autograd.Var // the batch images [B, C, H, W]
	Labels  []int
	Indices []int // dataset indices of the batch's samples
	Epoch   int   // 0-based
	Batch   int   // 0-based within the epoch
	RNG     *tensor.RNG

	Loss, Logits *autograd.Var // set after the forward pass
}

// crossEntropy is the default LossFunc.
func crossEntropy(smoothing float32) LossFunc {
	return func(s *Step) (loss, logits *autograd.Var, err error) {
		logits = s.Model.Forward(s.Tape, s.X)
		return s.Tape.CrossEntropy(logits, s.Labels, autograd.CEOptions{LabelSmoothing: smoothing}), logits, nil
	}
}

// Trainer runs one training run: build it with New, call Run, then Close.
type Trainer struct {
	cfg  Config
	opts Options
	ncfg nn.Config

	model   nn.FeatureModel
	opt     *optim.SGD
	sched   optim.Schedule
	ema     *optim.EMA // nil without EMA
	rng     *tensor.RNG
	loss    LossFunc
	tp      *autograd.Tape
	batcher batchSource // a *data.Batcher, or a mixed one (adv_mix.go)
	step    Step
	adv     *adv // adversarial training, validation and recording; nil without

	train, test data.Dataset
	owned       []data.Dataset // sets opened here, closed by Close

	epoch   int           // epochs completed
	start   int           // epochs completed before this session (resume)
	steps   int           // optimizer steps taken
	elapsed time.Duration // wall time of earlier sessions of this run
	threads int           // kernel threads before New, restored by Close
	metrics []Metrics
}

// Metrics are one epoch's figures, as printed and as written to
// metrics.jsonl. Accuracies are fractions in [0, 1].
type Metrics struct {
	Epoch      int      `json:"epoch"` // 1-based: epochs completed
	TrainLoss  float64  `json:"train_loss"`
	TrainAcc   float64  `json:"train_acc"`
	TestLoss   *float64 `json:"test_loss,omitempty"`
	TestAcc    *float64 `json:"test_acc,omitempty"`
	EMATestAcc *float64 `json:"ema_test_acc,omitempty"`
	LR         float64  `json:"lr"`        // at the epoch's last step
	ImgPerSec  float64  `json:"img_per_s"` // training throughput
	TrainSec   float64  `json:"train_s"`
	EvalSec    float64  `json:"eval_s"`
	EpochSec   float64  `json:"epoch_s"` // training, evaluation, hooks and checkpoint
	WallSec    float64  `json:"wall_s"`  // since the run started, across resumes
	Steps      int      `json:"steps"`   // optimizer steps since the run started

	*AdvMetrics // robust validation, with adversarial training
}

// File names inside the run directory.
const (
	CheckpointFile = "checkpoint.safetensors"
	ModelFile      = "model.safetensors"
	EMAModelFile   = "model_ema.safetensors"
	MetricsFile    = "metrics.jsonl"
)

// New prepares the run described by cfg: it opens the data, builds the
// model, optimizer, schedule and EMA, and with opts.Resume restores them
// from the checkpoint in cfg.Out. Errors name the flag or file at fault.
func New(cfg Config, opts Options) (*Trainer, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	t := &Trainer{cfg: cfg, opts: opts, train: opts.Train, test: opts.Test, threads: -1}
	if err := t.init(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// init is New after the config check; on error the caller closes t.
func (t *Trainer) init() (err error) {
	cfg, opts := t.cfg, t.opts
	if t.train == nil {
		if cfg.Data == "" {
			return FieldErrorf("Data", "missing: name a dataset, or pass the sets in Options.Train and Options.Test")
		}
		tr, te, err := data.Open(cfg.Data)
		if err != nil {
			return WrapField("Data", err, "")
		}
		t.train, t.test = tr, te
		t.owned = append(t.owned, tr)
		if te != nil {
			t.owned = append(t.owned, te)
		}
	}
	if cfg.Subset != "" {
		idx, err := data.ReadIndices(cfg.Subset, t.train.Len())
		if err != nil {
			return WrapField("Subset", err, "")
		}
		if t.train, err = data.Subset(t.train, idx); err != nil {
			return WrapField("Subset", err, "")
		}
	}
	c, h, w := t.train.Shape()
	if t.test != nil {
		if tc, th, tw := t.test.Shape(); tc != c || th != h || tw != w {
			return FieldErrorf("Data", "%s: training images are %d×%d×%d but test images %d×%d×%d", t.dataName(), c, h, w, tc, th, tw)
		}
	}
	if h != w {
		return FieldErrorf("Data", "%s: images are %d×%d, want square ones", t.dataName(), h, w)
	}
	t.ncfg = nn.Config{InChannels: c, NumClasses: t.train.Classes(), Width: cfg.Width, ImageSize: h, Seed: cfg.Seed}
	switch {
	case opts.Model != nil:
		t.model = opts.Model
		if a, ok := opts.Model.(interface{ Arch() string }); ok && t.cfg.Arch == "" {
			t.cfg.Arch = a.Arch() // for the weights' metadata
		}
	case cfg.Arch == "":
		return FieldErrorf("Arch", "missing: name an architecture (one of %v) or pass the model in Options.Model", nn.Archs())
	default:
		if t.model, err = nn.New(cfg.Arch, t.ncfg); err != nil {
			return WrapField("Arch", err, "%s", cfg.Arch)
		}
	}
	params := t.model.Params()
	sgd := optim.SGDConfig{LR: float32(cfg.LR), Momentum: float32(cfg.Momentum), Nesterov: cfg.Nesterov, WeightDecay: float32(cfg.WeightDecay)}
	if !cfg.DecayAll {
		sgd.NoDecay = optim.BiasAndNorm
	}
	if t.opt, err = optim.NewSGD(params, sgd); err != nil {
		return err
	}
	if cfg.EMA > 0 {
		if t.ema, err = optim.NewEMA(params, t.model.Buffers(), optim.EMAConfig{Decay: float32(cfg.EMA), Warmup: true}); err != nil {
			return WrapField("EMA", err, "")
		}
	}
	n := t.train.Len()
	if n == 0 {
		return FieldErrorf("Data", "%s: the training set is empty", t.dataName())
	}
	bc := data.Config{BatchSize: cfg.BatchSize, Shuffle: true, Seed: cfg.Seed, Workers: opts.Workers, Prefetch: true,
		NoSingleton: true} // BatchNorm cannot normalize a batch of one; no sample is skipped
	if cfg.Augment {
		bc.CropPad, bc.Flip = augmentPad(h), true
	}
	if t.batcher, err = t.newBatcher(bc); err != nil {
		return err
	}
	if t.sched, err = cfg.schedule(t.batcher.Len()); err != nil {
		return err
	}
	t.rng = tensor.NewRNG(cfg.Seed ^ 0x7a1e5eed)
	t.loss = opts.Loss
	if t.loss == nil {
		t.loss = crossEntropy(float32(cfg.LabelSmoothing))
	}
	if err := t.initAdv(); err != nil {
		return err
	}
	t.tp = autograd.NewTape()
	t.step = Step{Tape: t.tp, Model: t.model, X: autograd.Leaf(nil, false), RNG: t.rng}
	if cfg.Threads > 0 {
		t.threads = kernels.SetThreads(cfg.Threads)
	}
	if cfg.Out == "" {
		if opts.Resume {
			return FieldErrorf("Resume", "needs {Out}, the run directory holding the checkpoint")
		}
		return nil
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return WrapField("Out", err, "")
	}
	ckpt := filepath.Join(cfg.Out, CheckpointFile)
	if opts.Resume {
		if err := t.resume(ckpt); err != nil {
			return err
		}
		t.start = t.epoch
	} else if _, err := os.Stat(ckpt); err == nil {
		return FieldErrorf("Out", "%s already holds a run (%s); resume it ({Resume}) or choose another directory", cfg.Out, CheckpointFile)
	}
	return nil
}

// dataName names the training data in messages: Config.Data, or "the
// training set" when the caller passed it.
func (t *Trainer) dataName() string {
	if t.cfg.Data != "" {
		return t.cfg.Data
	}
	return "the training set"
}

// synthName names the synthetic pool in messages.
func (t *Trainer) synthName() string {
	if t.opts.Synthetic == nil && t.cfg.Synthetic != "" {
		return t.cfg.Synthetic
	}
	return "the synthetic pool"
}

// augmentPad is the random-crop padding for images of side h: 4 for
// 32×32 CIFAR, proportionally less for smaller images (3 for 28×28).
func augmentPad(h int) int { return max(1, h/8) }

// Samples returns the dataset that Step.Indices index: the training set
// (after Config.Subset), or with a synthetic pool the real set followed by
// the pool (data.Concat): the index space of a per-sample recording
// (package prune's Recorder).
func (t *Trainer) Samples() (data.Dataset, error) {
	if mb, ok := t.batcher.(*mixBatcher); ok {
		return data.Concat(t.train, mb.pool)
	}
	return t.train, nil
}

// Model returns the model being trained.
func (t *Trainer) Model() nn.FeatureModel { return t.model }

// ModelConfig returns the nn.Config the model was built with.
func (t *Trainer) ModelConfig() nn.Config { return t.ncfg }

// Epoch returns the number of epochs completed.
func (t *Trainer) Epoch() int { return t.epoch }

// RNG returns the run's random stream, which is saved in checkpoints;
// loss functions and hooks that need randomness draw from it so a resumed
// run repeats them.
func (t *Trainer) RNG() *tensor.RNG { return t.rng }

// Metrics returns the figures of the epochs run by this Trainer.
func (t *Trainer) Metrics() []Metrics { return t.metrics }

// Close releases the data sets opened by New and the batcher's goroutines
// and restores the kernel thread count.
func (t *Trainer) Close() error {
	if t.batcher != nil {
		t.batcher.Close()
		t.batcher = nil
	}
	var errs []error
	for _, ds := range t.owned {
		errs = append(errs, data.Close(ds))
	}
	t.owned = nil
	if t.threads >= 0 {
		kernels.SetThreads(t.threads)
		t.threads = -1
	}
	return errors.Join(errs...)
}

// Run trains the remaining epochs, evaluating, calling the hook and
// writing a checkpoint, the model and a metrics line after each. It stops
// early, with ctx's error, when ctx is cancelled (the last checkpoint
// stays valid), and with an error naming the epoch and batch when the loss
// is NaN or infinite.
func (t *Trainer) Run(ctx context.Context) error {
	for t.epoch < t.cfg.Epochs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := t.runEpoch(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Run trains a model as cfg says, on the data opts passes or cfg.Data
// names, and returns it with its history: New, Trainer.Run, Result and
// Close in one call. On an error after training started, the Result of
// the epochs done is returned beside it.
func Run(ctx context.Context, cfg Config, opts Options) (*Result, error) {
	t, err := New(cfg, opts)
	if err != nil {
		return nil, err
	}
	err = t.Run(ctx)
	res, rerr := t.Result()
	if cerr := t.Close(); err == nil {
		err = errors.Join(rerr, cerr)
	}
	return res, err
}

// runEpoch trains epoch t.epoch, then evaluates and saves.
func (t *Trainer) runEpoch(ctx context.Context) error {
	e := t.epoch
	start := time.Now()
	t.model.SetTrain(true)
	t.batcher.Reset(e)
	bar := newProgress(t.opts.Progress, t.batcher.Len(), e+1, t.cfg.Epochs)
	var lossSum float64
	var correct, seen int
	for b := 0; t.batcher.Next(); b++ {
		if err := ctx.Err(); err != nil {
			bar.finish()
			return err
		}
		batch := t.batcher.Batch()
		loss, ok, err := t.trainStep(batch, e, b)
		if err != nil {
			bar.finish()
			return err
		}
		n := len(batch.Labels)
		lossSum += loss * float64(n)
		correct += ok
		seen += n
		bar.update(b+1, lossSum/float64(seen), float64(correct)/float64(seen), float64(seen)/time.Since(start).Seconds())
	}
	bar.finish()
	if err := t.batcher.Err(); err != nil {
		return WrapField("Data", err, "%s: epoch %d", t.dataName(), e+1)
	}
	trainSec := time.Since(start).Seconds()
	m := Metrics{
		Epoch: e + 1, TrainLoss: lossSum / float64(seen), TrainAcc: float64(correct) / float64(seen),
		LR: float64(t.opt.LR()), ImgPerSec: float64(seen) / trainSec, TrainSec: trainSec,
	}
	evalStart := time.Now()
	if t.test != nil && t.evalEpoch(e) {
		r, err := t.evaluate()
		if err != nil {
			return err
		}
		loss, acc := r.CleanLoss(), r.CleanAcc()
		m.TestLoss, m.TestAcc = &loss, &acc
		if t.ema != nil {
			t.ema.Apply()
			r, err := t.evaluate()
			t.ema.Restore()
			if err != nil {
				return err
			}
			emaAcc := r.CleanAcc()
			m.EMATestAcc = &emaAcc
		}
	}
	if err := t.advEpochEnd(e, &m); err != nil {
		return err
	}
	m.EvalSec = time.Since(evalStart).Seconds()
	if t.opts.OnEpochEnd != nil {
		if err := t.opts.OnEpochEnd(e, t.model); err != nil {
			return fmt.Errorf("train: epoch %d: hook: %w", e+1, err)
		}
		t.model.SetTrain(true)
	}
	t.epoch++
	m.EpochSec = time.Since(start).Seconds()
	t.elapsed += time.Since(start)
	m.WallSec, m.Steps = t.elapsed.Seconds(), t.steps
	// Metrics first: a run killed before the checkpoint lands redoes the
	// epoch, and resume drops the line of the epoch it redoes.
	if t.cfg.Out != "" {
		if err := appendMetrics(filepath.Join(t.cfg.Out, MetricsFile), m); err != nil {
			return err
		}
		if err := t.save(); err != nil {
			return err
		}
	}
	t.metrics = append(t.metrics, m)
	if t.opts.Stdout != nil {
		fmt.Fprintln(t.opts.Stdout, m.String(t.cfg.Epochs))
	}
	return nil
}

// evalEpoch reports whether epoch e (0-based) ends with an evaluation:
// every EvalEvery-th epoch and the last.
func (t *Trainer) evalEpoch(e int) bool {
	return (e+1)%max(t.cfg.EvalEvery, 1) == 0 || e+1 == t.cfg.Epochs
}

// evaluate runs the model in evaluation mode over the test set, restoring
// training mode afterwards.
func (t *Trainer) evaluate() (attack.Result, error) {
	r, err := attack.Evaluate(t.model, t.test, attack.EvalOptions{BatchSize: t.cfg.BatchSize, Workers: t.opts.Workers})
	t.model.SetTrain(true)
	if err != nil {
		return r, WrapField("Data", err, "%s: evaluating", t.dataName())
	}
	return r, nil
}

// trainStep runs one optimizer step on batch b of epoch e and returns the
// batch's mean loss and its number of correct predictions.
func (t *Trainer) trainStep(batch *data.Batch, e, b int) (loss float64, correct int, err error) {
	tp := t.tp
	tp.Reset()
	t.opt.SetLR(t.sched.LR(t.steps))
	t.opt.ZeroGrad()
	s := &t.step
	s.X.Value = batch.X
	s.Labels, s.Indices, s.Epoch, s.Batch = batch.Labels, batch.Indices, e, b
	if s.Loss, s.Logits, err = t.loss(s); err != nil {
		return 0, 0, fmt.Errorf("train: epoch %d, batch %d: %w", e+1, b+1, err)
	}
	loss = float64(s.Loss.Value.Data()[0])
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, fmt.Errorf("train: loss is %v at epoch %d, batch %d (of %d); lower the learning rate or check the data", loss, e+1, b+1, t.batcher.Len())
	}
	tp.Backward(s.Loss)
	if t.opts.OnBatch != nil {
		if err := t.opts.OnBatch(s); err != nil {
			return 0, 0, fmt.Errorf("train: epoch %d, batch %d: hook: %w", e+1, b+1, err)
		}
	}
	t.opt.Step()
	if t.ema != nil {
		t.ema.Update()
	}
	t.steps++
	return loss, countCorrect(s.Logits.Value, s.Labels), nil
}

// countCorrect returns how many rows of logits [N, C] have their maximum
// at the label (the first maximum on ties, as argmax does).
func countCorrect(logits *tensor.Tensor, labels []int) int {
	c := logits.Dim(1)
	z := logits.Data()
	n := 0
	for i, y := range labels {
		if tensor.ArgmaxRow(z[i*c:(i+1)*c]) == y {
			n++
		}
	}
	return n
}

// String formats m as the line printed after each of epochs epochs.
func (m Metrics) String(epochs int) string {
	s := fmt.Sprintf("epoch %d/%d  loss %.4f  train acc %.2f%%", m.Epoch, epochs, m.TrainLoss, 100*m.TrainAcc)
	if m.TestAcc != nil {
		s += fmt.Sprintf("  test loss %.4f  test acc %.2f%%", *m.TestLoss, 100**m.TestAcc)
	}
	if m.EMATestAcc != nil {
		s += fmt.Sprintf("  ema acc %.2f%%", 100**m.EMATestAcc)
	}
	if m.AdvMetrics != nil {
		s += m.AdvMetrics.String()
	}
	return s + fmt.Sprintf("  lr %.4g  %.0f img/s  %.1fs (wall %.1fs)", m.LR, m.ImgPerSec, m.EpochSec, m.WallSec)
}
