package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/internal/atomicfile"
	"gonum.org/v1/gonum/stat/distuv"
)

// Report is what a pipeline run found: report.json holds it whole, and
// report.md and the plots present it.
type Report struct {
	Config  Config                `json:"config"`
	Seeds   []SeedReport          `json:"seeds"`
	Runs    map[string]RunSummary `json:"runs"`    // per training run, over the seeds
	Quality map[string]QualitySum `json:"quality"` // per score, over the seeds
	// TrueQuality is the extrapolation's quality against --true-scores,
	// over the seeds that measured it.
	TrueQuality map[string]QualitySum `json:"true_quality,omitempty"`
	// EmbedQuality is the held-out quality of every score in every
	// measured embedding, keyed "EMBEDDING/SCORE".
	EmbedQuality map[string]QualitySum `json:"embed_quality,omitempty"`
	// Pool is the share of pool samples the clean model misclassifies,
	// PoolCleanAcc that model's accuracy on real test samples.
	Pool         Stat            `json:"pool_misclassified"`
	PoolCleanAcc Stat            `json:"pool_clean_acc"`
	Stages       map[string]Stat `json:"stages"`   // wall seconds per stage, over the seeds
	PeakMiB      map[string]Stat `json:"peak_mib"` // peak resident memory (MiB) per stage, over the seeds
	// Paired compares runs seed by seed: every score's run against the
	// random run at the same ratio and, with the full pool, every pruned
	// run against the full one.
	Paired []Paired `json:"paired"`
}

// Paired is run A against run B over the seeds both finished. The runs of
// one seed share the training seed and the evaluation samples, so the
// per-seed differences cancel what the seeds share and are a sharper
// comparison than the two runs' separate means ± std.
type Paired struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Clean Stat   `json:"clean"` // A − B, fractions
	PGD   Stat   `json:"pgd"`
	Worst Stat   `json:"worst"`
	Wins  int    `json:"wins"` // seeds where A's worst-case accuracy is above B's
}

// SeedReport is one repetition.
type SeedReport struct {
	Seed        uint64                   `json:"seed"`
	Partial     bool                     `json:"partial,omitempty"` // unfinished: only its evaluated runs (Run's Finished)
	SeedSize    int                      `json:"seed_size"`
	ScoreEpochs int                      `json:"score_epochs"`       // of the scoring run
	Embedding   string                   `json:"embedding"`          // the one the scores were extrapolated in
	Stages      map[string]float64       `json:"stages"`             // wall seconds
	PeakMiB     map[string]float64       `json:"peak_mib,omitempty"` // peak resident memory of each stage
	Quality     map[string]QualityReport `json:"quality"`
	// TrueQuality is the extrapolation's quality against --true-scores on
	// the pool samples outside the seed.
	TrueQuality map[string]QualityReport `json:"true_quality,omitempty"`
	// EmbedQuality is the held-out quality in every measured embedding,
	// keyed "EMBEDDING/SCORE".
	EmbedQuality map[string]QualityReport `json:"embed_quality,omitempty"`
	Runs         map[string]RunReport     `json:"runs"`
	KeptSets     map[string]Composition   `json:"kept_sets"` // per training run: what its samples are
	Pool         *PoolQuality             `json:"pool,omitempty"`
}

// PoolQuality describes the pool by the clean model (trained without
// attacks on the base set): how many of its samples are off-class or
// ambiguous, as generated pools' are.
type PoolQuality struct {
	N             int     `json:"n"`
	Misclassified float64 `json:"misclassified"` // share the clean model gets wrong
	MeanPTrue     float64 `json:"mean_ptrue"`    // its mean true-class probability
	// CleanAcc is the clean model's accuracy on the validation slice of
	// the real test set: the error rate the pool's is to be read against.
	CleanAcc float64 `json:"clean_acc"`
}

// Composition describes a training set by the seed model's clean
// true-class probabilities of its samples: whether a score kept the
// typical or the hard ones.
type Composition struct {
	MeanPTrue float64 `json:"mean_ptrue"` // mean probability of the true class
	Hard      float64 `json:"hard"`       // share with a true-class probability below 0.5
	Unique    int     `json:"unique"`     // distinct samples (random-replace repeats some)
	// Ambiguous is the share the clean model (trained without attacks
	// on the base set) misclassifies: off-class or ambiguous samples.
	Ambiguous float64 `json:"ambiguous,omitempty"`
	// Strength is the mean deformation strength of a synthetic pool's
	// samples (1 without a long tail).
	Strength float64 `json:"strength,omitempty"`
}

// RunReport is one training run and its evaluation.
type RunReport struct {
	Kept         int          `json:"kept"`
	Epochs       int          `json:"epochs"`
	Steps        int          `json:"steps"`
	TrainSeconds float64      `json:"train_seconds"`
	Eval         EvalResult   `json:"eval"`
	Curve        []CurvePoint `json:"curve,omitempty"` // validation robust accuracy during training
	ttr          float64      // time to robustness (timeToRobustness)
}

// CurvePoint is a run's validation robust accuracy (the EMA model's,
// with EMA) after some steps.
type CurvePoint struct {
	Steps  int     `json:"steps"`
	Robust float64 `json:"robust"`
}

// QualityReport measures an extrapolation against true scores on
// held-out seed samples (package doc, step 4). A correlation is NaN (null in
// JSON) when either side is constant, as forgetting counts can be.
type QualityReport struct {
	HeldOut       int `json:"held_out"`
	Pearson       Num `json:"pearson"`
	Spearman      Num `json:"spearman"`
	ClassMean     Num `json:"class_mean_spearman"` // baseline: the class's mean seed score
	ClassMeanP    Num `json:"class_mean_pearson"`
	Shuffled      Num `json:"shuffled_spearman"` // baseline: kNN on shuffled embeddings
	ShuffledP     Num `json:"shuffled_pearson"`
	VarianceRatio Num `json:"variance_ratio"` // Var(Ŝ)/Var(S)
	// SeedSpearman compares the seed scores with true scores from another
	// run on the seed samples themselves (QualityAgainst only).
	SeedSpearman Num `json:"seed_spearman,omitempty"`
}

// Num is a float64 that JSON encodes NaN as null (and decodes back).
type Num float64

func (x Num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(x))
}

func (x *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*x = Num(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(x))
}

// Stat is a mean and a sample standard deviation over seeds; NaN values
// (undefined correlations) are left out and counted in NaN.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
	NaN  int     `json:"nan,omitempty"`
	// Lo and Hi bound the 95% Student-t confidence interval of the mean
	// (N ≥ 2): for paired differences, the interval a claim must clear.
	Lo float64 `json:"lo,omitempty"`
	Hi float64 `json:"hi,omitempty"`
}

func stat(v []float64) Stat {
	var s Stat
	for _, x := range v {
		if math.IsNaN(x) {
			s.NaN++
			continue
		}
		s.Mean += x
		s.N++
	}
	if s.N == 0 {
		return s
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range v {
			if !math.IsNaN(x) {
				ss += (x - s.Mean) * (x - s.Mean)
			}
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(s.N - 1)}.Quantile(0.975)
		h := t * s.Std / math.Sqrt(float64(s.N))
		s.Lo, s.Hi = s.Mean-h, s.Mean+h
	}
	return s
}

// ci formats a difference of fractions in signed points with its 95%
// interval.
func (s Stat) ci() string {
	if s.N < 2 {
		return s.diff()
	}
	return fmt.Sprintf("%+.2f [%+.2f, %+.2f]", 100*s.Mean, 100*s.Lo, 100*s.Hi)
}

// pct formats a fraction's Stat as percent mean ± std.
func (s Stat) pct() string { return s.format("%.*f", 100, 2) }

// diff formats a difference of fractions in signed points.
func (s Stat) diff() string { return s.format("%+.*f", 100, 2) }

// num formats a Stat with the given precision.
func (s Stat) num(prec int) string { return s.format("%.*f", 1, prec) }

// format writes the mean by verb (with its precision argument), and the
// std when there are several values.
func (s Stat) format(verb string, scale float64, prec int) string {
	switch {
	case s.N == 0:
		return "n/a"
	case s.N > 1:
		return fmt.Sprintf(verb+" ± %.*f", prec, scale*s.Mean, prec, scale*s.Std)
	}
	return fmt.Sprintf(verb, prec, scale*s.Mean)
}

// RunSummary aggregates one training run over the seeds.
type RunSummary struct {
	Method    string  `json:"method"` // score, "random" or "full"
	Prune     float64 `json:"prune"`  // fraction removed (0 for full)
	Kept      Stat    `json:"kept"`
	Unique    Stat    `json:"unique"` // distinct kept samples
	Epochs    int     `json:"epochs"`
	Steps     int     `json:"steps"`
	Clean     Stat    `json:"clean"`
	PGD       Stat    `json:"pgd"`
	APGDCE    Stat    `json:"apgd_ce"`
	APGDDL    Stat    `json:"apgd_dlr"`
	Worst     Stat    `json:"worst"`
	Train     Stat    `json:"train_seconds"`
	PTrue     Stat    `json:"mean_ptrue"` // of the training set, by the seed model
	Hard      Stat    `json:"hard"`       // share of the training set with p_true < 0.5
	Ambiguous Stat    `json:"ambiguous"`  // share of the kept pool the clean model misclassifies
	Strength  Stat    `json:"strength"`   // mean deformation strength of the kept pool
	// TTR, time to robustness, is the steps after which the run's
	// validation robust accuracy first came within 1 point of the full
	// pool's final one (same seed); NaN where it never did.
	TTR Stat `json:"time_to_robustness"`
}

// QualitySum aggregates a score's extrapolation quality over the seeds.
type QualitySum struct {
	Spearman, Pearson, ClassMean, Shuffled, VarianceRatio Stat
	SeedSpearman                                          Stat `json:",omitzero"` // against --true-scores only
}

// pruned formats the fraction the run removed ("—" for the full pool).
func (r RunSummary) pruned() string {
	if r.Method == fullRun || r.Method == baseRun {
		return "—"
	}
	return fmt.Sprintf("%g%%", 100*r.Prune)
}

// summarize fills the aggregates from the seeds.
func (rep *Report) summarize() {
	rep.Runs, rep.Quality, rep.Stages = map[string]RunSummary{}, map[string]QualitySum{}, map[string]Stat{}
	for i := range rep.Seeds {
		rep.Seeds[i].timeToRobustness()
	}
	collect := func(f func(SeedReport) (float64, bool)) Stat {
		var v []float64
		for _, s := range rep.Seeds {
			if x, ok := f(s); ok {
				v = append(v, x)
			}
		}
		return stat(v)
	}
	for _, name := range rep.Config.runNames() {
		get := func(f func(RunReport) float64) Stat {
			return collect(func(s SeedReport) (float64, bool) {
				r, ok := s.Runs[name]
				return f(r), ok
			})
		}
		rs := RunSummary{Method: name, Kept: get(func(r RunReport) float64 { return float64(r.Kept) }),
			TTR:   get(func(r RunReport) float64 { return r.ttr }),
			Clean: get(func(r RunReport) float64 { return r.Eval.Clean }), PGD: get(func(r RunReport) float64 { return r.Eval.PGD }),
			APGDCE: get(func(r RunReport) float64 { return r.Eval.APGDCE }), APGDDL: get(func(r RunReport) float64 { return r.Eval.APGDDLR }),
			Worst: get(func(r RunReport) float64 { return r.Eval.Worst }), Train: get(func(r RunReport) float64 { return r.TrainSeconds })}
		comp := func(f func(Composition) float64) Stat {
			return collect(func(s SeedReport) (float64, bool) {
				k, ok := s.KeptSets[name]
				return f(k), ok
			})
		}
		rs.PTrue = comp(func(k Composition) float64 { return k.MeanPTrue })
		rs.Hard = comp(func(k Composition) float64 { return k.Hard })
		rs.Unique = comp(func(k Composition) float64 { return float64(k.Unique) })
		rs.Ambiguous = comp(func(k Composition) float64 { return k.Ambiguous })
		rs.Strength = comp(func(k Composition) float64 { return k.Strength })
		if m, p, ok := strings.Cut(name, "_p"); ok {
			rs.Method = m
			fmt.Sscan(p, &rs.Prune)
		}
		for _, s := range rep.Seeds {
			if r, ok := s.Runs[name]; ok {
				rs.Epochs, rs.Steps = r.Epochs, r.Steps
			}
		}
		rep.Runs[name] = rs
	}
	sumQuality := func(m string, of func(SeedReport) map[string]QualityReport) (QualitySum, bool) {
		get := func(f func(QualityReport) Num) Stat {
			return collect(func(s SeedReport) (float64, bool) {
				q, ok := of(s)[m]
				return float64(f(q)), ok
			})
		}
		q := QualitySum{Spearman: get(func(q QualityReport) Num { return q.Spearman }),
			Pearson: get(func(q QualityReport) Num { return q.Pearson }), ClassMean: get(func(q QualityReport) Num { return q.ClassMean }),
			Shuffled: get(func(q QualityReport) Num { return q.Shuffled }), VarianceRatio: get(func(q QualityReport) Num { return q.VarianceRatio }),
			SeedSpearman: get(func(q QualityReport) Num { return q.SeedSpearman })}
		return q, q.Spearman.N+q.Spearman.NaN > 0
	}
	rep.TrueQuality, rep.EmbedQuality = map[string]QualitySum{}, map[string]QualitySum{}
	for _, m := range rep.Config.Scores {
		rep.Quality[m], _ = sumQuality(m, func(s SeedReport) map[string]QualityReport { return s.Quality })
		for _, e := range rep.Config.Embed {
			key := e + "/" + m
			if q, ok := sumQuality(key, func(s SeedReport) map[string]QualityReport { return s.EmbedQuality }); ok {
				rep.EmbedQuality[key] = q
			}
			if q, ok := sumQuality(key, func(s SeedReport) map[string]QualityReport { return s.TrueQuality }); ok {
				rep.TrueQuality[key] = q
			}
		}
	}
	rep.Pool = collect(func(s SeedReport) (float64, bool) {
		if s.Pool == nil {
			return 0, false
		}
		return s.Pool.Misclassified, true
	})
	rep.PoolCleanAcc = collect(func(s SeedReport) (float64, bool) {
		if s.Pool == nil {
			return 0, false
		}
		return s.Pool.CleanAcc, true
	})
	rep.Paired = nil
	for _, a := range rep.Config.runNames() {
		m, p, _ := strings.Cut(a, "_p")
		if m != "random" && a != fullRun && a != baseRun {
			rep.Paired = append(rep.Paired, rep.pair(a, "random_p"+p))
		}
		if score, ok := strings.CutSuffix(m, trueSuffix); ok && slices.Contains(rep.Config.Scores, score) {
			rep.Paired = append(rep.Paired, rep.pair(score+"_p"+p, a))
		}
		if rep.Config.Full && a != fullRun {
			rep.Paired = append(rep.Paired, rep.pair(a, fullRun))
		}
	}
	keep := rep.Paired[:0]
	for _, p := range rep.Paired {
		if p.Worst.N > 0 {
			keep = append(keep, p)
		}
	}
	rep.Paired = keep
	names := map[string]bool{}
	for _, s := range rep.Seeds {
		for k := range s.Stages {
			names[k] = true
		}
	}
	rep.PeakMiB = map[string]Stat{}
	for k := range names {
		rep.Stages[k] = collect(func(s SeedReport) (float64, bool) { v, ok := s.Stages[k]; return v, ok })
		rep.PeakMiB[k] = collect(func(s SeedReport) (float64, bool) { v, ok := s.PeakMiB[k]; return v, ok })
	}
}

// pair compares runs a and b seed by seed.
func (rep *Report) pair(a, b string) Paired {
	var clean, pgd, worst []float64
	pr := Paired{A: a, B: b}
	for _, s := range rep.Seeds {
		ra, okA := s.Runs[a]
		rb, okB := s.Runs[b]
		if !okA || !okB {
			continue
		}
		clean = append(clean, ra.Eval.Clean-rb.Eval.Clean)
		pgd = append(pgd, ra.Eval.PGD-rb.Eval.PGD)
		worst = append(worst, ra.Eval.Worst-rb.Eval.Worst)
		if ra.Eval.Worst > rb.Eval.Worst {
			pr.Wins++
		}
	}
	pr.Clean, pr.PGD, pr.Worst = stat(clean), stat(pgd), stat(worst)
	return pr
}

// runNames lists the training runs of c in presentation order: by prune
// ratio, the arms; then the full pool and the base set alone.
func (c *Config) runNames() []string {
	var out []string
	for _, p := range c.Prune {
		for _, a := range c.arms() {
			out = append(out, runName(a.name, p))
		}
	}
	if c.Full {
		out = append(out, fullRun)
	}
	if c.BaseOnly {
		out = append(out, baseRun)
	}
	return out
}

// timeToRobustness sets every run's ttr from its validation curve and
// the full run's final validation robust accuracy (NaN without one).
func (s *SeedReport) timeToRobustness() {
	target := math.NaN()
	if f, ok := s.Runs[fullRun]; ok && len(f.Curve) > 0 {
		target = f.Curve[len(f.Curve)-1].Robust - 0.01
	}
	for name, r := range s.Runs {
		r.ttr = math.NaN()
		for _, p := range r.Curve {
			if p.Robust >= target {
				r.ttr = float64(p.Steps)
				break
			}
		}
		s.Runs[name] = r
	}
}

// Table writes the final table: method, kept samples, steps, clean and
// robust accuracy, time to robustness, training time.
func (rep *Report) Table(w io.Writer) {
	c := rep.Config
	fmt.Fprintf(w, "| method | pruned | kept | steps | clean %% | PGD-%d %% |", c.EvalSteps)
	if c.APGDSteps > 0 {
		fmt.Fprint(w, " APGD-CE % | APGD-DLR % |")
	}
	fmt.Fprint(w, " worst % | steps to full −1 pt | train s |\n|---|---|---|---|---|---|")
	if c.APGDSteps > 0 {
		fmt.Fprint(w, "---|---|")
	}
	fmt.Fprintln(w, "---|---|---|")
	for _, name := range rep.Config.runNames() {
		r, ok := rep.Runs[name]
		if !ok || r.Worst.N == 0 {
			continue
		}
		kept := r.Kept.num(0)
		if r.Unique.N > 0 && r.Unique.Mean < r.Kept.Mean {
			kept += fmt.Sprintf(" (%s unique)", r.Unique.num(0))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s |", rep.label(r), r.pruned(), kept, r.Steps, r.Clean.pct(), r.PGD.pct())
		if c.APGDSteps > 0 {
			fmt.Fprintf(w, " %s | %s |", r.APGDCE.pct(), r.APGDDL.pct())
		}
		ttr := r.TTR.num(0)
		if r.TTR.NaN > 0 {
			ttr += fmt.Sprintf(" (not reached in %d)", r.TTR.NaN)
		}
		fmt.Fprintf(w, " %s | %s | %s |\n", r.Worst.pct(), ttr, r.Train.num(0))
	}
}

// label names run r's method, with the number of seeds it has if that is
// fewer than the report's (runs added later with --true-scores).
func (rep *Report) label(r RunSummary) string {
	if r.Worst.N < len(rep.Seeds) {
		return fmt.Sprintf("%s (%d of %d seeds)", r.Method, r.Worst.N, len(rep.Seeds))
	}
	return r.Method
}

// seedsDone says which repetitions the report covers.
func (rep *Report) seedsDone() string {
	seeds := make([]string, len(rep.Seeds))
	for i, s := range rep.Seeds {
		seeds[i] = strconv.FormatUint(s.Seed, 10)
	}
	out := fmt.Sprintf("%d seed(s) (%s)", len(rep.Seeds), strings.Join(seeds, ", "))
	var partial []string
	for _, s := range rep.Seeds {
		if s.Partial {
			partial = append(partial, fmt.Sprintf("%d (%d of %d runs)", s.Seed, len(s.Runs), len(rep.Config.runNames())))
		}
	}
	if len(partial) > 0 {
		out += "; not finished, with the runs evaluated so far: " + strings.Join(partial, ", ")
	}
	if len(rep.Seeds) < rep.Config.Seeds {
		out += fmt.Sprintf("; the other %d of the %d repetitions had not finished", rep.Config.Seeds-len(rep.Seeds), rep.Config.Seeds)
	}
	return out
}

// markdown writes report.md.
func (rep *Report) markdown(w io.Writer, plots []string) {
	c := rep.Config
	t := c.Train
	fmt.Fprintf(w, "# Pruning report: %s\n\n", c.Data)
	if c.Base != "" {
		fmt.Fprintf(w, "The seed paper's setting: the base set %s is never pruned and is mixed into every batch "+
			"(%g%% of each batch from the pool, an epoch is a pass over the base set, so every run trains for the same steps); "+
			"the pool %s is pruned. The scoring run trains on the base set and the seed subset and scores both; "+
			"the kNN reference set is everything scored.\n\n", c.Base, 100*t.SyntheticShare(), c.Data)
	}
	fmt.Fprintf(w, "Seed subset %g%% of the pool, scored by %s adversarial training (%d epochs, %s trajectories); "+
		"scores %s extrapolated by %d-NN (%s%s); %v of the pool pruned%s; %s.\n\n",
		100*c.SeedFrac, t.Arch, rep.scoreEpochs(), c.Trajectory, strings.Join(c.Scores, ", "), c.K, c.Metric,
		map[bool]string{true: ", exp(−d)-weighted", false: ""}[c.Weighted], c.Prune,
		map[bool]string{true: " per class", false: ""}[c.ClassBalanced], rep.seedsDone())
	fmt.Fprintf(w, "Training: %s, %s ε=%.4g (%s), %d steps, %d epochs on each kept set (the full pool: the same number of steps), "+
		"batch %d, lr %g %s. Evaluation: %d test samples, PGD-%d",
		t.Arch, t.Adv, t.Eps, t.Norm, t.Steps, t.Epochs, t.BatchSize, t.LR, t.Schedule, rep.evalN(), c.EvalSteps)
	if c.APGDSteps > 0 {
		fmt.Fprintf(w, ", APGD-CE and APGD-DLR (%d steps), worst case per sample", c.APGDSteps)
	}
	fmt.Fprintf(w, ". Evaluated: %s weights (--eval-model), on test samples apart from the validation slice that picked them. "+
		"Figures are mean ± std over the seeds; paired differences carry 95%% t-intervals.", c.EvalModel)
	if len(c.TrueScores) > 0 {
		fmt.Fprint(w, " Runs named SCORE-true are pruned by that score of every pool sample from a full-set run "+
			"(--true-scores) instead of the extrapolated one: the gap to SCORE is the extrapolation's cost, "+
			"the gap to random what the score itself is worth.")
	}
	fmt.Fprint(w, "\n\n## Accuracy\n\n")
	rep.Table(w)
	if len(rep.Paired) > 0 {
		fmt.Fprintf(w, "\n## Paired by seed\n\nRun A minus run B, seed by seed (same training seed, same test samples), "+
			"in points of accuracy; wins counts the seeds where A's worst-case accuracy is higher.\n\n"+
			"| A | B | Δ clean [95%% CI] | Δ PGD-%d [95%% CI] | Δ worst [95%% CI] | wins |\n|---|---|---|---|---|---|\n", c.EvalSteps)
		for _, p := range rep.Paired {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d of %d |\n", p.A, p.B, p.Clean.ci(), p.PGD.ci(), p.Worst.ci(), p.Wins, p.Worst.N)
		}
	}
	fmt.Fprint(w, "\n## What the training sets hold\n\nThe seed-trained model's clean probability of the true class, "+
		"over each training set: a score that keeps the hard samples shows a low mean and a large share below 0.5.\n\n"+
		"The clean model's misclassified share and the mean deformation strength say whether a rule kept or dropped "+
		"the off-class and heavily deformed samples of the pool.\n\n"+
		"| method | pruned | mean p_true | share p_true < 0.5 | misclassified by the clean model % | deformation strength |\n|---|---|---|---|---|---|\n")
	for _, name := range rep.Config.runNames() {
		r, ok := rep.Runs[name]
		if !ok || r.PTrue.N == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", rep.label(r), r.pruned(), r.PTrue.num(3), r.Hard.pct(), r.Ambiguous.pct(), r.Strength.num(3))
	}
	if rep.Pool.N > 0 {
		fmt.Fprintf(w, "\nThe pool's quality: a model trained without attacks on the %s misclassifies %s%% of the pool's samples "+
			"(and %s%% of real test samples: its accuracy there is %s%%).\n",
			map[bool]string{true: "base set", false: "seed subset"}[c.Base != ""], rep.Pool.pct(),
			Stat{Mean: 1 - rep.PoolCleanAcc.Mean, Std: rep.PoolCleanAcc.Std, N: rep.PoolCleanAcc.N}.pct(), rep.PoolCleanAcc.pct())
	}
	fmt.Fprint(w, "\n## Extrapolation quality\n\nSpearman (Pearson) correlation of the extrapolated against the true scores of "+
		"held-out seed samples, against the two baselines; the variance ratio Var(Ŝ)/Var(S) shows the kNN's smoothing.\n\n"+
		"| score | kNN Spearman | kNN Pearson | class-mean Spearman | shuffled-kNN Spearman | Var ratio |\n|---|---|---|---|---|---|\n")
	for _, e := range c.Embed {
		for _, m := range c.Scores {
			if q, ok := rep.EmbedQuality[e+"/"+m]; ok {
				fmt.Fprintf(w, "| %s (%s embedding) | %s | %s | %s | %s | %s |\n", m, e, q.Spearman.num(3), q.Pearson.num(3), q.ClassMean.num(3), q.Shuffled.num(3), q.VarianceRatio.num(3))
			}
		}
	}
	if len(rep.TrueQuality) > 0 {
		fmt.Fprint(w, "\nAgainst --true-scores (a full-set run's), on every pool sample outside the seed; the last column "+
			"compares the seed run's own scores with the full-set run's on the seed samples: the agreement before any "+
			"extrapolation, the ceiling of what kNN can reach.\n\n"+
			"| score | seeds | kNN Spearman | kNN Pearson | class-mean Spearman | shuffled-kNN Spearman | Var ratio | seed run vs full run |\n"+
			"|---|---|---|---|---|---|---|---|\n")
		for _, key := range rep.qualityKeys() {
			q, ok := rep.TrueQuality[key]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", key, q.Spearman.N, q.Spearman.num(3), q.Pearson.num(3),
				q.ClassMean.num(3), q.Shuffled.num(3), q.VarianceRatio.num(3), q.SeedSpearman.num(3))
		}
	}
	fmt.Fprint(w, "\n## Cost\n\nWall seconds and peak resident memory per stage (mean over seeds; a training's memory is "+
		"that of the process while it ran).\n\n| stage | seconds | peak MiB |\n|---|---|---|\n")
	keys := make([]string, 0, len(rep.Stages))
	for k := range rep.Stages {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return stageOrder(keys[i]) < stageOrder(keys[j]) || stageOrder(keys[i]) == stageOrder(keys[j]) && keys[i] < keys[j]
	})
	for _, k := range keys {
		fmt.Fprintf(w, "| %s | %s | %s |\n", k, rep.Stages[k].num(1), rep.PeakMiB[k].num(0))
	}
	if len(plots) > 0 {
		fmt.Fprint(w, "\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(w, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
		}
	}
}

// scoreEpochs returns the scoring runs' epochs.
func (rep *Report) scoreEpochs() int {
	for _, s := range rep.Seeds {
		if s.ScoreEpochs > 0 {
			return s.ScoreEpochs
		}
	}
	return rep.Config.ScoreEpochs
}

// qualityKeys lists the keys of the quality maps, "EMBEDDING/SCORE", in
// the order of the config.
func (rep *Report) qualityKeys() []string {
	var out []string
	for _, e := range rep.Config.Embed {
		for _, m := range rep.Config.Scores {
			out = append(out, e+"/"+m)
		}
	}
	return out
}

// stageOrder sorts stages in pipeline order.
func stageOrder(name string) int {
	for i, p := range []string{"seed", "score_train", "score_", "clean_train", "pool_clean", "embed", "ptrue", "extrapolate_", "quality_", "select_", "train_", "eval_"} {
		if strings.HasPrefix(name, p) {
			return i
		}
	}
	return 99
}

// evalN returns the number of test samples evaluated.
func (rep *Report) evalN() int {
	for _, s := range rep.Seeds {
		for _, r := range s.Runs {
			return r.Eval.N
		}
	}
	return 0
}

// write writes report.json, the plots and report.md into dir.
func (rep *Report) write(dir string) error {
	if err := WriteJSON(filepath.Join(dir, "report.json"), rep); err != nil {
		return err
	}
	plots, err := rep.plots(dir)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, "report.md"), func(w io.Writer) error {
		rep.markdown(w, plots)
		return nil
	})
}

// ReadReport reads a run directory's report.json.
func ReadReport(dir string) (*Report, error) {
	var rep Report
	ok, err := readJSON(filepath.Join(dir, "report.json"), &rep)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: no report.json", dir)
	}
	return &rep, nil
}
