package pipeline

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/train"
)

// Score methods a pipeline can prune with. Random pruning of the same size
// is always run as the baseline.
var Methods = []string{"du", "fp", "el2n", "forgetting"}

// Trajectories are the kinds of probability trajectories a seed run can
// record (package train, Recording): on PGD inputs after every epoch (the paper's
// default), on clean inputs, or from the training forward pass itself (no
// extra pass: adversarial inputs for PGD-AT and FGSM-RS, clean ones for
// TRADES, in training mode).
var Trajectories = []string{"adv", "clean", "train"}

// Embeddings are the spaces the kNN extrapolation can search: the
// scoring model's own features (the method as first described), the
// features of a model trained without attacks on the base set (or, without
// one, on the seed subset): the stand-in for the seed paper's frozen,
// attack-independent descriptors, and a PCA of the raw pixels.
var Embeddings = []string{"seed", "clean", "pixels"}

// Config describes one pruning experiment (package doc).
type Config struct {
	Data string `json:"data"` // dataset spec: its training split is the pool, its test split evaluates
	// Base, if set, is the seed paper's setting: a dataset spec whose
	// training split is the real set, never pruned, mixed into every
	// training batch (Train.SyntheticFrac of each batch comes from the
	// pool, an epoch is a pass over the base) and scored whole by the
	// seed run; Data is then the (synthetic) pool that is pruned, and
	// Base's test split evaluates.
	Base string `json:"base,omitempty"`
	// PoolSize, if positive, makes the pool a random subset of that many
	// training samples (drawn once, with seed 0); indices in the stage
	// files then refer to positions in it.
	PoolSize int `json:"pool_size,omitempty"`

	SeedFrac   float64  `json:"seed_frac"`  // share of the pool scored by seed-subset training
	Scores     []string `json:"scores"`     // methods of Methods to prune with
	Trajectory string   `json:"trajectory"` // one of Trajectories
	Window     int      `json:"window"`     // Dynamic Uncertainty window J

	// TruncateBest computes the scores from the epochs up to the scoring
	// run's best validation-robust epoch (the seed paper's flag).
	TruncateBest bool `json:"truncate_best,omitempty"`

	// Embed lists the embeddings (of Embeddings) whose extrapolation
	// quality is measured; the first is the one the selection uses.
	Embed []string `json:"embed"`
	// PickEmbed extrapolates in the embedding of Embed whose held-out
	// quality (Spearman on held-out scored pool samples, of the first
	// score) is best, per repetition, instead of the first.
	PickEmbed   bool `json:"pick_embed,omitempty"`
	PCADim      int  `json:"pca_dim"`      // dimensions of the pixels embedding
	CleanEpochs int  `json:"clean_epochs"` // epochs of the clean model; 0: the arms' steps (cleanEpochs)

	K         int     `json:"k"`         // neighbours of the extrapolation
	Weighted  bool    `json:"weighted"`  // exp(−d)-weighted mean instead of the plain one
	Metric    string  `json:"metric"`    // "euclidean" or "cosine"
	Normalize bool    `json:"normalize"` // L2-normalize the embeddings
	HoldOut   float64 `json:"hold_out"`  // share of the seed held out to measure extrapolation quality

	Prune         []float64 `json:"prune"` // fractions removed, one experiment each
	ClassBalanced bool      `json:"class_balanced"`
	KeepLow       bool      `json:"keep_low,omitempty"` // bulwark select only; the pipeline takes Select keep-low
	// Select lists the selection rules (prune.Rules) run at every ratio:
	// the score-driven ones (top, keep-low, stratified) once per score,
	// the others (drop-tail, random-replace) once. Random pruning without
	// replacement always runs: it is the baseline.
	Select []string `json:"select"`
	// Beta is stratified's share of the pool removed first as hardest (by
	// confidence, the mean true-class probability of the scoring run); a
	// negative value takes CCS's schedule by ratio (DefaultBeta).
	Beta   float64 `json:"beta"`
	Tail   float64 `json:"tail"`   // drop-tail's share removed first as lowest confidence
	Strata int     `json:"strata"` // stratified's score strata

	// TrueScores maps a score to a file of that score for every pool
	// sample from a full-set run (bulwark score --seed-frac 1); with
	// PoolSize, a file for the whole training split is taken at the pool's
	// samples. Each adds
	// runs pruned by the true scores ("du-true"), which separate what the
	// score is worth from what the extrapolation loses.
	TrueScores map[string]string `json:"true_scores,omitempty"`

	Seeds int  `json:"seeds"` // repetitions, with seeds 0..Seeds-1
	Full  bool `json:"full"`  // also train on the whole pool (same step budget)
	// BaseOnly also trains on the base set alone (same step budget):
	// the reference that says whether the pool adds anything.
	BaseOnly bool `json:"base_only,omitempty"`

	// Train holds the settings of every adversarial training (model,
	// optimizer, --adv, ε, ...); its Epochs is the budget of the trainings
	// on the kept sets, ScoreEpochs that of the seed-subset training.
	Train       train.Config `json:"train"`
	ScoreEpochs int          `json:"score_epochs"`

	// EvalModel is the weights evaluated: "best" (the best validation-
	// robust checkpoint, the EMA one with Train.EMA, as the seed paper
	// does) or "last". The evaluation slice then leaves out the validation
	// slice.
	EvalModel string `json:"eval_model"`
	EvalN     int    `json:"eval_n"`     // test samples attacked (0 = all)
	EvalSteps int    `json:"eval_steps"` // PGD steps of the evaluation
	APGDSteps int    `json:"apgd_steps"` // APGD-CE and APGD-DLR steps; 0 skips APGD

	Out string `json:"out"` // run directory
}

// DefaultSelect is the selection rule the pipeline runs unless told
// otherwise: the one that measured best in the seed paper's setting on
// Fashion-MNIST (docs/BENCHMARKS.md, "xp500: the pruning arms"). There
// the paper's own rule, top, lost to random pruning at every ratio (at
// 75% beyond its 95% interval), while drop-tail stayed within noise of
// random and ahead of stratified on average over the ratios.
const DefaultSelect = "drop-tail"

// DefaultConfig returns the defaults: the seed paper's where it states
// them and they measured no worse than the alternatives, else the one
// that measured best (DefaultSelect).
func DefaultConfig() Config {
	return Config{
		SeedFrac: 0.1, Scores: []string{"du"}, Trajectory: "adv", Window: 10,
		Embed: []string{"seed"}, PCADim: 64,
		K: 12, Metric: "euclidean", HoldOut: 0.2,
		Prune: []float64{0.5}, Select: []string{DefaultSelect}, Beta: -1, Tail: 0.1, Strata: 50,
		Seeds:     1,
		EvalModel: "best", EvalN: 1000, EvalSteps: 20, APGDSteps: 100,
	}
}

// problems collects a config's problems, each a *train.FieldError naming
// its field (a field of Config, or of train.Config for the training
// settings).
type problems []error

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, &train.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems as one error, or nil.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return joined(ps)
}

// joined is several errors on one line, separated by "; ".
type joined []error

func (j joined) Error() string {
	s := make([]string, len(j))
	for i, e := range j {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (j joined) Unwrap() []error { return j }

// CheckScoring validates the settings of the scoring stage: the seed
// share, the scores, the trajectories and the epochs they need.
func (c *Config) CheckScoring() error {
	var ps problems
	c.checkScoring(&ps)
	return ps.err()
}

func (c *Config) checkScoring(ps *problems) {
	if c.Data == "" {
		ps.add("Data", "missing")
	}
	if !(c.SeedFrac > 0 && c.SeedFrac <= 1) {
		ps.add("SeedFrac", "%g is not in (0, 1]", c.SeedFrac)
	}
	if c.Train.Subset != "" {
		ps.add("Subset", "the pipeline chooses its training sets itself (bulwark score takes the indices to score)")
	}
	if len(c.Scores) == 0 {
		ps.add("Scores", "missing; want some of %s", strings.Join(Methods, ","))
	}
	for _, m := range c.Scores {
		if !slices.Contains(Methods, m) {
			ps.add("Scores", "unknown score %q; want some of %s", m, strings.Join(Methods, ","))
		}
	}
	if !slices.Contains(Trajectories, c.Trajectory) {
		ps.add("Trajectory", "%q, want one of %s", c.Trajectory, strings.Join(Trajectories, ", "))
	}
	if c.Window < 2 {
		ps.add("Window", "%d, want at least 2", c.Window)
	}
	if c.ScoreEpochs != 0 && c.ScoreEpochs <= c.Window && slices.Contains(c.Scores, "du") {
		ps.add("ScoreEpochs", "%d: Dynamic Uncertainty needs more epochs than its window J=%d (20 or more advisable)", c.ScoreEpochs, c.Window)
	}
	if c.ScoreEpochs < 0 || c.ScoreEpochs == 1 {
		ps.add("ScoreEpochs", "%d, want at least 2 (or 0 for the default)", c.ScoreEpochs)
	}
	if c.Train.Adv == "" || c.Train.Adv == "none" {
		ps.add("Adv", "missing: scoring trains adversarially (pgd, trades or fgsm-rs)")
	}
	if c.Out == "" {
		ps.add("Out", "missing: name the run directory, e.g. runs/NAME")
	}
	// The scoring run's training settings too, so that a bad flag stops
	// the run before anything is recorded in its directory.
	if len(*ps) == 0 {
		tc := c.Train
		tc.Epochs, tc.Out = max(c.ScoreEpochs, 2*c.Window), c.Out
		if err := tc.Check(); err != nil {
			*ps = append(*ps, err)
		}
	}
}

// ruleNames lists the rules --select takes.
func ruleNames() string {
	var out []string
	for _, r := range prune.Rules {
		if r != prune.RuleRandom {
			out = append(out, string(r))
		}
	}
	return strings.Join(out, ", ")
}

// DefaultBeta is CCS's schedule of the hardest share removed before
// stratified sampling (Zheng et al. 2023, CIFAR-10: none up to 70%
// pruning, 10% at 70–80%, 30% at 90%), as a function of the prune ratio.
func DefaultBeta(ratio float64) float64 {
	switch {
	case ratio < 0.7:
		return 0
	case ratio < 0.85:
		return 0.1
	}
	return 0.3
}

// beta returns stratified's β at ratio p.
func (c *Config) beta(p float64) float64 {
	if c.Beta < 0 {
		return DefaultBeta(p)
	}
	return c.Beta
}

// Recording returns what the scoring run records: every trained sample's
// trajectory of kind c.Trajectory (TrainRun completes the rest).
func (c *Config) Recording() *prune.RecorderOptions {
	kind := prune.RecordClean
	switch c.Trajectory {
	case "adv":
		kind = prune.RecordAdv
	case "train":
		kind = prune.RecordTrain
	}
	return &prune.RecorderOptions{Kind: kind}
}

// ProbsFile returns the name of the recorded trajectories the scores are
// computed from, in the scoring run's directory.
func (c *Config) ProbsFile() string {
	switch c.Trajectory {
	case "adv":
		return prune.ProbsAdvFile
	case "train":
		return prune.ProbsTrainFile
	}
	return prune.ProbsCleanFile
}

// Check validates every setting; its error joins a *train.FieldError per
// problem.
func (c *Config) Check() error {
	var ps problems
	c.checkScoring(&ps)
	if c.SeedFrac == 1 {
		ps.add("SeedFrac", "1 scores the whole pool, leaving nothing to extrapolate to (bulwark score takes it)")
	}
	if c.K < 1 {
		ps.add("K", "%d, want at least 1", c.K)
	}
	if _, err := prune.ParseMetric(c.Metric); err != nil {
		ps.add("Metric", "%v", err)
	}
	if !(c.HoldOut > 0 && c.HoldOut < 1) {
		ps.add("HoldOut", "%g is not in (0, 1)", c.HoldOut)
	}
	if len(c.Prune) == 0 {
		ps.add("Prune", "missing, e.g. 0.5")
	}
	for _, p := range c.Prune {
		if !(p > 0 && p < 1) {
			ps.add("Prune", "%g is not a fraction in (0, 1)", p)
		}
	}
	for m, path := range c.TrueScores {
		if !slices.Contains(Methods, m) || path == "" {
			ps.add("TrueScores", "%s=%q: want SCORE=FILE with a score of %s", m, path, strings.Join(Methods, ","))
		}
	}
	for _, e := range c.Embed {
		if !slices.Contains(Embeddings, e) {
			ps.add("Embed", "unknown embedding %q; want some of %s", e, strings.Join(Embeddings, ","))
		}
	}
	if len(c.Embed) == 0 {
		ps.add("Embed", "missing; want some of %s", strings.Join(Embeddings, ","))
	}
	if c.PCADim < 1 {
		ps.add("PCADim", "%d, want at least 1", c.PCADim)
	}
	if c.CleanEpochs < 0 {
		ps.add("CleanEpochs", "%d, want 0 (the arms' steps) or more", c.CleanEpochs)
	}
	if c.KeepLow {
		ps.add("KeepLow", "the pipeline takes {Select} keep-low")
	}
	if len(c.Select) == 0 {
		ps.add("Select", "missing; want some of %s", ruleNames())
	}
	for _, r := range c.Select {
		if _, err := prune.ParseRule(r); err != nil || r == string(prune.RuleRandom) {
			ps.add("Select", "%q: want some of %s (random always runs)", r, ruleNames())
		}
	}
	if !(c.Beta < 1) || math.IsNaN(c.Beta) {
		ps.add("Beta", "%g is not below 1 (negative: CCS's schedule)", c.Beta)
	}
	if !(c.Tail >= 0 && c.Tail < 1) {
		ps.add("Tail", "%g is not in [0, 1)", c.Tail)
	}
	if c.Strata < 1 {
		ps.add("Strata", "%d, want at least 1", c.Strata)
	}
	if c.EvalModel != "best" && c.EvalModel != "last" {
		ps.add("EvalModel", "%q, want best or last", c.EvalModel)
	}
	if c.BaseOnly && c.Base == "" {
		ps.add("BaseOnly", "needs {Base}")
	}
	if c.Base != "" && c.PoolSize > 0 {
		ps.add("PoolSize", "with {Base} the pool is {Data}'s whole training split")
	}
	if c.PoolSize < 0 {
		ps.add("PoolSize", "%d, want at least 0 (0 = the whole training split)", c.PoolSize)
	}
	if c.Seeds < 1 {
		ps.add("Seeds", "%d, want at least 1", c.Seeds)
	}
	if c.Train.Epochs < 1 {
		ps.add("Epochs", "%d, want at least 1", c.Train.Epochs)
	}
	if c.EvalN < 0 {
		ps.add("EvalN", "%d, want at least 0", c.EvalN)
	}
	if c.EvalSteps < 1 {
		ps.add("EvalSteps", "%d, want at least 1", c.EvalSteps)
	}
	if c.APGDSteps < 0 {
		ps.add("APGDSteps", "%d, want at least 0", c.APGDSteps)
	}
	return ps.err()
}
