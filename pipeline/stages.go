package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/progress"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/tensor"
	"github.com/bulwark-ml/bulwark/train"
)

// The stages of the pipeline (package doc) as functions over plain values; the
// CLI stages and Run wrap them with files.

// DrawSeed returns the seed subset: round(frac·n) of the n pool samples
// (at least one), drawn without replacement with seed, in increasing
// order.
func DrawSeed(n int, frac float64, seed uint64) []int {
	m := max(1, min(n, int(math.Round(frac*float64(n)))))
	idx := tensor.NewRNG(seed ^ 0x5eed5eed).Perm(n)[:m]
	slices.Sort(idx)
	return idx
}

// Confidence names the mean true-class probability over the scoring
// run, the score by which stratified and drop-tail selection find the
// hardest samples; it is computed and extrapolated beside the scores.
const Confidence = "conf"

// ScoreRun computes the importance scores of method (one of Methods, or
// Confidence) for the n samples a scoring run recorded in dir, from the
// trajectories c.Trajectory names (EL2N from the matching el2n_*.npy: the
// mean over the first tenth of the epochs, at least one). With
// c.TruncateBest, only the epochs up to the run's best validation-robust
// epoch count (at least Window+1). Errors name the file.
func ScoreRun(c *Config, dir, method string, n int) ([]float32, error) {
	return scoreTrajectories(c, dir, method, n, nil)
}

// scoreFile names the recorded array a score is computed from.
func (c *Config) scoreFile(method string) string {
	if method != "el2n" {
		return c.ProbsFile()
	}
	if c.Trajectory == "train" {
		return prune.EL2NTrainFile
	}
	return prune.EL2NCleanFile
}

// scoreTrajectories is ScoreRun taking the trajectories from rec, the run's
// recorder, when it holds them (the run trained in this process), else
// from the files.
func scoreTrajectories(c *Config, dir, method string, n int, rec *prune.Recorder) ([]float32, error) {
	path := filepath.Join(dir, c.scoreFile(method))
	var tr prune.Trajectories
	ok := false
	if rec != nil {
		tr, ok = rec.Array(c.scoreFile(method))
		ok = ok && tr.K > 0
	}
	if !ok {
		var err error
		if tr, err = ReadTrajectories(path); err != nil {
			return nil, err
		}
	}
	if tr.N != n {
		return nil, fmt.Errorf("%s: %d samples, but the seed subset has %d", path, tr.N, n)
	}
	var err error
	if c.TruncateBest {
		k, err := BestEpoch(dir)
		if err != nil {
			return nil, err
		}
		if tr, err = tr.Truncate(min(tr.K, max(k, c.Window+1))); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var v []float32
	switch method {
	case Confidence:
		v, err = prune.Confidence(tr)
	case "du":
		v, err = prune.DynamicUncertainty(tr, c.Window)
	case "fp":
		v, err = prune.FrequencyScore(tr)
	case "el2n":
		v, err = prune.EL2NEarly(tr, max(1, tr.K/10))
	case "forgetting":
		var correct []bool
		if correct, err = prune.CorrectFromProbs(tr); err == nil {
			v, err = prune.Forgetting(correct, tr.K, tr.N)
		}
	default:
		err = fmt.Errorf("unknown score %q", method)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// BestEpoch returns the epoch (1-based) of the best validation robust
// accuracy (the EMA model's, with EMA) of the adversarial run in dir, the
// first of equals; the last epoch if the run validated none.
func BestEpoch(dir string) (int, error) {
	ms, err := readMetrics(dir)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, fmt.Errorf("%s: no epochs in %s", dir, train.MetricsFile)
	}
	best, acc := ms[len(ms)-1].Epoch, -1.0
	for _, m := range ms {
		if v, ok := valRobust(m); ok && v > acc {
			best, acc = m.Epoch, v
		}
	}
	return best, nil
}

// valRobust returns an epoch's validation robust accuracy (the EMA
// model's, with EMA), if the epoch was validated.
func valRobust(m train.Metrics) (float64, bool) {
	if m.AdvMetrics == nil {
		return 0, false
	}
	if m.EMAValRobustAcc != nil {
		return *m.EMAValRobustAcc, true
	}
	return m.ValRobustAcc, true
}

// ReadTrajectories reads a K×n probability file written by the training
// recorder.
func ReadTrajectories(path string) (prune.Trajectories, error) {
	p, shape, err := data.ReadNpy[float32](path)
	if err != nil {
		return prune.Trajectories{}, err
	}
	if len(shape) != 2 {
		return prune.Trajectories{}, fmt.Errorf("%s: shape %v, want epochs × samples", path, shape)
	}
	return prune.Trajectories{K: shape[0], N: shape[1], P: p}, nil
}

// TrainSets are the data of one training run.
type TrainSets struct {
	Train data.Dataset // the training set; with Synthetic, the real set an epoch passes over
	// Synthetic, if set, is mixed into every batch (the share
	// train.Config.SyntheticFrac of it).
	Synthetic data.Dataset
	Test      data.Dataset // validation and evaluation; may be nil
	// Record, if set, records the trained samples' trajectories into the
	// run directory (a prune.Recorder over Train then Synthetic, with the
	// training attack's settings for RecordAdv, resumed with the run).
	Record *prune.RecorderOptions
}

// Trained is what TrainRun returns of a run.
type Trained struct {
	// Metrics has every epoch's metrics, earlier sessions' included.
	Metrics []train.Metrics
	// Recorder, if the run trained with TrainSets.Record in this call,
	// holds every epoch's trajectories in memory.
	Recorder *prune.Recorder
	// Result, if the run trained in this call, holds the model and its
	// EMA and best weights in memory, so that nothing is read back.
	Result *train.Result
}

// TrainRun trains cfg on sets in the run directory cfg.Out. A directory
// holding a finished run (FinishedRun with its final model) is left as it
// is; one holding an unfinished run is resumed.
func TrainRun(ctx context.Context, cfg train.Config, sets TrainSets, stdout, bars io.Writer) (Trained, error) {
	if ms := FinishedRun(cfg.Out, cfg.Epochs); ms != nil && exists(filepath.Join(cfg.Out, train.ModelFile)) {
		return Trained{Metrics: ms}, nil
	}
	opts := train.Options{Train: sets.Train, Synthetic: sets.Synthetic, Test: sets.Test, Stdout: stdout, Progress: bars}
	if exists(filepath.Join(cfg.Out, train.CheckpointFile)) {
		done, err := finishedEpochs(cfg.Out)
		if err != nil {
			return Trained{}, err
		}
		if done >= cfg.Epochs {
			ms, err := readMetrics(cfg.Out)
			return Trained{Metrics: ms}, err
		}
		opts.Resume = true
	}
	var rec *prune.Recorder
	if sets.Record != nil {
		ro := *sets.Record
		// The run's settings note the recording, for its weight files.
		cfg.Recording = train.Recording{RecordAll: ro.Indices == nil, RecordAdv: ro.Kind == prune.RecordAdv, RecordTrain: ro.Kind == prune.RecordTrain}
		var err error
		if ro.Data, err = prune.RecordData(sets.Train, sets.Synthetic); err != nil {
			return Trained{}, err
		}
		ro.Dir, ro.BatchSize = cfg.Out, cfg.BatchSize
		ro.Attack = func(e int) attack.Attack { return cfg.RecordAttack(e) }
		if rec, err = prune.NewRecorder(ro); err != nil {
			return Trained{}, err
		}
		rec.Attach(&opts)
	}
	res, err := train.Run(ctx, cfg, opts)
	if err != nil {
		return Trained{}, err
	}
	t := Trained{Metrics: res.Metrics, Recorder: rec, Result: res}
	if opts.Resume {
		t.Metrics, err = readMetrics(cfg.Out) // with the epochs of earlier sessions
	}
	return t, err
}

// FinishedRun returns the metrics of the run in dir if its metrics.jsonl
// records all of its epochs, else nil. A finished run's metrics and
// final model are all later stages read of it, so a run directory kept
// without its checkpoints (experiments/results) still counts as done.
func FinishedRun(dir string, epochs int) []train.Metrics {
	path := filepath.Join(dir, train.MetricsFile)
	if !exists(path) {
		return nil
	}
	ms, err := train.ReadMetrics(path)
	if err != nil || len(ms) == 0 || ms[len(ms)-1].Epoch < epochs {
		return nil
	}
	return ms
}

// finishedEpochs returns the epochs the checkpoint in dir has completed.
func finishedEpochs(dir string) (int, error) {
	w, err := nn.ReadWeights(filepath.Join(dir, train.CheckpointFile))
	if err != nil {
		return 0, err
	}
	return w.Epoch, nil
}

// readMetrics reads the metrics.jsonl of a run directory.
func readMetrics(dir string) ([]train.Metrics, error) {
	return train.ReadMetrics(filepath.Join(dir, train.MetricsFile))
}

// trainSeconds returns the wall time of a run from its metrics (across
// resumes).
func trainSeconds(ms []train.Metrics) float64 {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].WallSec
}

// EvalResult holds the accuracies of one model on the evaluation slice.
type EvalResult struct {
	N       int     `json:"n"`
	Clean   float64 `json:"clean"`
	PGD     float64 `json:"pgd"`                // PGD-EvalSteps
	APGDCE  float64 `json:"apgd_ce,omitempty"`  // APGD-CE
	APGDDLR float64 `json:"apgd_dlr,omitempty"` // APGD-DLR
	Worst   float64 `json:"worst"`              // per-sample worst case over the attacks
	Seconds float64 `json:"seconds"`
	Model   string  `json:"model,omitempty"` // the weights evaluated: "best, epoch 12, EMA", "last epoch"
}

// Evaluate measures clean accuracy and robust accuracy under PGD and, if
// apgdSteps > 0, APGD-CE and APGD-DLR (L∞ or L2 as norm, radius eps) on
// the samples idx of test (all if nil), with a progress bar on bars
// (none if nil).
func evaluate(model nn.FeatureModel, test data.Dataset, idx []int, norm attack.Norm, eps float32, pgdSteps, apgdSteps int, seed uint64, bars io.Writer) (EvalResult, error) {
	attacks := []attack.Attack{&attack.PGD{Norm: norm, Eps: eps, Steps: pgdSteps, Seed: seed}}
	if apgdSteps > 0 {
		attacks = append(attacks,
			&attack.APGD{Norm: norm, Eps: eps, Steps: apgdSteps, Loss: attack.CE, Seed: seed},
			&attack.APGD{Norm: norm, Eps: eps, Steps: apgdSteps, Loss: attack.DLR, Seed: seed})
	}
	total := len(idx)
	if idx == nil {
		total = test.Len()
	}
	b := progress.New(bars, total, "evaluate")
	defer b.Finish()
	done := 0
	onBatch := func(eb *attack.EvalBatch) error {
		done += len(eb.Labels)
		b.Set(done, total)
		return nil
	}
	start := time.Now()
	r, err := attack.Evaluate(model, test, attack.EvalOptions{Indices: idx, OnBatch: onBatch}, attacks...)
	if err != nil {
		return EvalResult{}, err
	}
	e := EvalResult{N: r.N, Clean: r.CleanAcc(), PGD: r.RobustAcc(0), Worst: r.WorstAcc(),
		Seconds: time.Since(start).Seconds()}
	if apgdSteps > 0 {
		e.APGDCE, e.APGDDLR = r.RobustAcc(1), r.RobustAcc(2)
	}
	return e, nil
}

// LoadModel builds the model saved in a weights file for images of ds.
func LoadModel(path string, ds data.Dataset) (nn.FeatureModel, error) {
	m, _, err := nn.Load(path, ImageOptions(ds))
	return m, err
}

// ImageOptions are the nn.LoadOptions of a model for images of ds.
func ImageOptions(ds data.Dataset) nn.LoadOptions {
	c, h, _ := ds.Shape()
	return nn.LoadOptions{InChannels: c, ImageSize: h}
}

// Predict returns, for every sample of ds, the softmax probability that
// model (in eval mode, clean inputs) gives its true class and whether
// its prediction is right (the first maximum is the label).
func Predict(model nn.FeatureModel, ds data.Dataset) (ptrue []float32, correct []bool, err error) {
	nc, ok := model.(interface{ NumClasses() int })
	if !ok {
		return nil, nil, errors.New("the model does not report its number of classes")
	}
	classes := nc.NumClasses()
	logits := make([]float32, ds.Len()*classes)
	if _, err := attack.Evaluate(model, ds, attack.EvalOptions{Logits: logits}); err != nil {
		return nil, nil, err
	}
	ptrue, correct = make([]float32, ds.Len()), make([]bool, ds.Len())
	for i := range ptrue {
		z := logits[i*classes : (i+1)*classes]
		ptrue[i], _ = prune.TrueProbEL2N(z, ds.Label(i))
		correct[i] = tensor.ArgmaxRow(z) == ds.Label(i)
	}
	return ptrue, correct, nil
}

// Embed embeds every sample of ds (prune.Embed) with a progress bar on
// bars (none if nil).
func Embed(model nn.FeatureModel, ds data.Dataset, o prune.EmbedOptions, bars io.Writer) ([]float32, int, error) {
	b := progress.New(bars, ds.Len(), "embed")
	o.Progress = b.Set
	defer b.Finish()
	return prune.Embed(model, ds, nil, o)
}

// errStage wraps a stage's error with the stage's name.
func errStage(stage string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%s: %w", stage, err)
}
