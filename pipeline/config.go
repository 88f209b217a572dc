package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/train"
)

// Score methods a pipeline can prune with. Random pruning of the same size
// is always run as the baseline.
var Methods = []string{"du", "fp", "el2n", "forgetting"}

// Trajectories are the kinds of probability trajectories a seed run can
// record (method.md §3): on PGD-10 inputs after every epoch (the paper's
// default), on clean inputs, or from the training forward pass itself (no
// extra pass: adversarial inputs for PGD-AT and FGSM-RS, clean ones for
// TRADES, in training mode).
var Trajectories = []string{"adv", "clean", "train"}

// Config describes one pruning experiment (method.md §7).
type Config struct {
	Data string `json:"data"` // dataset spec: its training split is the pool, its test split evaluates
	// PoolSize, if positive, makes the pool a random subset of that many
	// training samples (drawn once, with seed 0); indices in the stage
	// files then refer to positions in it.
	PoolSize int `json:"pool_size,omitempty"`

	SeedFrac   float64  `json:"seed_frac"`  // share of the pool scored by seed-subset training
	Scores     []string `json:"scores"`     // methods of Methods to prune with
	Trajectory string   `json:"trajectory"` // one of Trajectories
	Window     int      `json:"window"`     // Dynamic Uncertainty window J

	K         int     `json:"k"`         // neighbours of the extrapolation
	Weighted  bool    `json:"weighted"`  // exp(−d)-weighted mean instead of the plain one
	Metric    string  `json:"metric"`    // "euclidean" or "cosine"
	Normalize bool    `json:"normalize"` // L2-normalize the embeddings
	HoldOut   float64 `json:"hold_out"`  // share of the seed held out to measure extrapolation quality

	Prune         []float64 `json:"prune"` // fractions removed, one experiment each
	ClassBalanced bool      `json:"class_balanced"`
	KeepLow       bool      `json:"keep_low"` // ablation: keep the lowest scores

	// TrueScores maps a score to a file of that score for every pool
	// sample from a full-set run (bulwark score --seed-frac 1); with
	// PoolSize, a file for the whole training split is taken at the pool's
	// samples. Each adds
	// runs pruned by the true scores ("du-true"), which separate what the
	// score is worth from what the extrapolation loses.
	TrueScores map[string]string `json:"true_scores,omitempty"`

	Seeds int  `json:"seeds"` // repetitions, with seeds 0..Seeds-1
	Full  bool `json:"full"`  // also train on the whole pool (same step budget)

	// Train holds the settings of every adversarial training (model,
	// optimizer, --adv, ε, ...); its Epochs is the budget of the trainings
	// on the kept sets, ScoreEpochs that of the seed-subset training.
	Train       train.Config `json:"train"`
	ScoreEpochs int          `json:"score_epochs"`

	EvalN     int `json:"eval_n"`     // test samples attacked (0 = all)
	EvalSteps int `json:"eval_steps"` // PGD steps of the evaluation
	APGDSteps int `json:"apgd_steps"` // APGD-CE and APGD-DLR steps; 0 skips APGD

	Out string `json:"out"` // run directory
}

// DefaultConfig returns the defaults of the paper's setting (method.md).
func DefaultConfig() Config {
	return Config{
		SeedFrac: 0.1, Scores: []string{"du"}, Trajectory: "adv", Window: 10,
		K: 12, Metric: "euclidean", HoldOut: 0.2,
		Prune: []float64{0.5}, Seeds: 1, ScoreEpochs: 20,
		EvalN: 1000, EvalSteps: 20, APGDSteps: 100,
	}
}

// problems collects a config's problems, each naming its flag.
type problems []string

func (ps *problems) add(flag, format string, args ...any) {
	*ps = append(*ps, fmt.Sprintf("--%s: %s", flag, fmt.Sprintf(format, args...)))
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return errors.New(strings.Join(ps, "; "))
}

// CheckScoring validates the settings of the scoring stage: the seed
// share, the scores, the trajectories and the epochs they need.
func (c *Config) CheckScoring() error {
	var ps problems
	c.checkScoring(&ps)
	return ps.err()
}

func (c *Config) checkScoring(ps *problems) {
	if c.Data == "" {
		ps.add("data", "missing")
	}
	if !(c.SeedFrac > 0 && c.SeedFrac <= 1) {
		ps.add("seed-frac", "%g is not in (0, 1]", c.SeedFrac)
	}
	if c.Train.Subset != "" {
		ps.add("subset", "the pipeline chooses its training sets itself (bulwark score takes --indices)")
	}
	if len(c.Scores) == 0 {
		ps.add("score", "missing; want some of %s", strings.Join(Methods, ","))
	}
	for _, m := range c.Scores {
		if !slices.Contains(Methods, m) {
			ps.add("score", "unknown score %q; want some of %s", m, strings.Join(Methods, ","))
		}
	}
	if !slices.Contains(Trajectories, c.Trajectory) {
		ps.add("trajectory", "%q, want one of %s", c.Trajectory, strings.Join(Trajectories, ", "))
	}
	if c.Window < 2 {
		ps.add("window", "%d, want at least 2", c.Window)
	}
	if c.ScoreEpochs <= c.Window && slices.Contains(c.Scores, "du") {
		ps.add("score-epochs", "%d: Dynamic Uncertainty needs more epochs than its window J=%d (20 or more advisable)", c.ScoreEpochs, c.Window)
	}
	if c.ScoreEpochs < 2 {
		ps.add("score-epochs", "%d, want at least 2", c.ScoreEpochs)
	}
	if c.Train.Adv == "" || c.Train.Adv == "none" {
		ps.add("adv", "missing: scoring trains adversarially (pgd, trades or fgsm-rs)")
	}
	if c.Out == "" {
		ps.add("out", "missing: name the run directory, e.g. runs/NAME")
	}
	// The scoring run's training settings too, so that a bad flag stops
	// the run before anything is recorded in its directory.
	if len(*ps) == 0 {
		tc := c.Recording(c.Train)
		tc.Epochs, tc.Out = c.ScoreEpochs, c.Out
		if err := tc.Check(); err != nil {
			*ps = append(*ps, err.Error())
		}
	}
}

// Recording returns the scoring run's settings: cfg recording every
// (seed) sample's trajectory of kind c.Trajectory.
func (c *Config) Recording(cfg train.Config) train.Config {
	cfg.Record, cfg.RecordAll = "", true
	cfg.RecordAdv, cfg.RecordTrain = c.Trajectory == "adv", c.Trajectory == "train"
	return cfg
}

// ProbsFile returns the name of the recorded trajectories the scores are
// computed from, in the scoring run's directory.
func (c *Config) ProbsFile() string {
	switch c.Trajectory {
	case "adv":
		return train.ProbsAdvFile
	case "train":
		return train.ProbsTrainFile
	}
	return train.ProbsCleanFile
}

// Check validates every setting, naming the offending flags.
func (c *Config) Check() error {
	var ps problems
	c.checkScoring(&ps)
	if c.SeedFrac == 1 {
		ps.add("seed-frac", "1 scores the whole pool, leaving nothing to extrapolate to (bulwark score takes it)")
	}
	if c.K < 1 {
		ps.add("k", "%d, want at least 1", c.K)
	}
	if _, err := prune.ParseMetric(c.Metric); err != nil {
		ps.add("metric", "%v", err)
	}
	if !(c.HoldOut > 0 && c.HoldOut < 1) {
		ps.add("hold-out", "%g is not in (0, 1)", c.HoldOut)
	}
	if len(c.Prune) == 0 {
		ps.add("prune", "missing, e.g. 0.5")
	}
	for _, p := range c.Prune {
		if !(p > 0 && p < 1) {
			ps.add("prune", "%g is not a fraction in (0, 1)", p)
		}
	}
	for m, path := range c.TrueScores {
		if !slices.Contains(Methods, m) || path == "" {
			ps.add("true-scores", "%s=%q: want SCORE=FILE with a score of %s", m, path, strings.Join(Methods, ","))
		}
	}
	if c.PoolSize < 0 {
		ps.add("pool", "%d, want at least 0 (0 = the whole training split)", c.PoolSize)
	}
	if c.Seeds < 1 {
		ps.add("seeds", "%d, want at least 1", c.Seeds)
	}
	if c.Train.Epochs < 1 {
		ps.add("epochs", "%d, want at least 1", c.Train.Epochs)
	}
	if c.EvalN < 0 {
		ps.add("eval-n", "%d, want at least 0", c.EvalN)
	}
	if c.EvalSteps < 1 {
		ps.add("eval-steps", "%d, want at least 1", c.EvalSteps)
	}
	if c.APGDSteps < 0 {
		ps.add("apgd-steps", "%d, want at least 0", c.APGDSteps)
	}
	return ps.err()
}
