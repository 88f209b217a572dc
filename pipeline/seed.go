package pipeline

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/tensor"
	"github.com/bulwark-ml/bulwark/train"
)

// repetition is one repetition in progress in this process: its
// directory, its stage bookkeeping and what its stages produced.
type repetition struct {
	s       uint64 // its random seed
	dir     string
	st      *stages
	sr      *SeedReport
	seedIdx []int
	kept    map[string][]int // the kept sets, by run name (prepare)
	what    *traits          // of the pool's samples (prepare)
}

// seed runs every stage of the repetition with random seed s: the seed
// draw, the scoring run, the scores, the embeddings, the extrapolation,
// the selections, and the training and evaluation of every arm. Arms a
// later call adds (checkDir) join the repetition's saved result.
func (r *run) seed(ctx context.Context, s uint64) (*SeedReport, error) {
	p, err := r.begin(s)
	if err != nil {
		return nil, err
	}
	// This pass owns the seed directory: the stages its arm jobs
	// recorded apart join stages.json. (Prepare leaves them alone, since
	// the references may be running beside it.)
	if err := p.st.absorb(p.dir, true); err != nil {
		return nil, err
	}
	// With a base set the references come first, before the scoring run:
	// they need no scores, and whether the pool adds anything to the base
	// set decides whether pruning it can say anything.
	jobs := ArmJobs(r.c)
	refRuns := map[string]RunReport{}
	for _, j := range jobs {
		if j.AfterPrepare {
			continue
		}
		rr, err := r.trainAndEval(ctx, p.st, p.dir, j.Name, s, nil)
		if err != nil {
			return nil, err
		}
		refRuns[j.Name] = *rr
	}
	if f, b, ok := refRuns[fullRun], refRuns[baseRun], len(refRuns) == 2; ok {
		r.logf("seed %d: the full pool adds %+.1f points of worst-case robust accuracy over the base set alone (%.1f%% against %.1f%%)",
			s, 100*(f.Eval.Worst-b.Eval.Worst), 100*f.Eval.Worst, 100*b.Eval.Worst)
	}
	if err := r.prepare(ctx, p); err != nil {
		return nil, err
	}
	sr := p.sr
	sr.Runs, sr.KeptSets = map[string]RunReport{}, map[string]Composition{}
	// Without a base set, the references still train before the arms.
	for _, j := range jobs {
		name := j.Name
		k, ok := p.kept[name]
		if ok || name == fullRun {
			sr.KeptSets[name] = p.what.compose(k)
		}
		if rr, done := refRuns[name]; done {
			sr.Runs[name] = rr
			continue
		}
		rr, err := r.trainAndEval(ctx, p.st, p.dir, name, s, p.kept)
		if err != nil {
			return nil, err
		}
		sr.Runs[name] = *rr
	}
	return sr, r.saveResult(p.dir, sr)
}

// begin starts repetition s in this process: its directory, its stages
// and its seed draw.
func (r *run) begin(s uint64) (*repetition, error) {
	dir := seedDir(r.c.Out, s)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st, err := loadStages(dir)
	if err != nil {
		return nil, err
	}
	p := &repetition{s: s, dir: dir, st: st, sr: &SeedReport{Seed: s, Stages: st.Seconds, PeakMiB: st.PeakMiB}}
	if p.seedIdx, err = r.drawSeed(st, dir, s); err != nil {
		return nil, err
	}
	p.sr.SeedSize = len(p.seedIdx)
	r.logf("seed %d: %d of %d pool samples in the seed subset%s", s, len(p.seedIdx), r.pool.Len(),
		map[bool]string{true: fmt.Sprintf(", scored with the %d of the base set", r.nb), false: ""}[r.nb > 0])
	return p, nil
}

// prepare runs the stages of repetition p that its arms need: the
// scoring run, the scores, the embeddings, the extrapolation and the
// selections of every arm at every ratio.
func (r *run) prepare(ctx context.Context, p *repetition) error {
	c, s, st, dir, sr := &r.c, p.s, p.st, p.dir, p.sr
	scored := make([]int, 0, r.nb+len(p.seedIdx)) // in all: the base, then the seed subset
	for i := range r.nb {
		scored = append(scored, i)
	}
	for _, i := range p.seedIdx {
		scored = append(scored, r.nb+i)
	}
	sr.ScoreEpochs = c.scoreEpochs(r.nb, r.pool.Len(), len(p.seedIdx))
	scoreRun, rec, err := r.scoreTrain(ctx, st, dir, s, p.seedIdx)
	if err != nil {
		return err
	}
	seedScores, err := r.seedScores(st, dir, scoreRun, rec, len(scored))
	if err != nil {
		return err
	}
	embs, err := r.embeddings(ctx, st, dir, s, scoreRun, p.seedIdx, sr)
	if err != nil {
		return err
	}
	poolScores, err := r.extrapolate(st, dir, s, embs, scored, seedScores, sr)
	if err != nil {
		return err
	}
	ptrue, err := r.poolPTrue(st, dir, scoreRun)
	if err != nil {
		return err
	}
	if p.kept, err = r.selectAll(st, dir, s, poolScores); err != nil {
		return err
	}
	p.what, err = r.poolTraits(dir, ptrue)
	return err
}

// saveResult writes the repetition's result, keeping the arms, measured
// embeddings and true-score comparisons of earlier calls that this one
// did not run.
func (r *run) saveResult(dir string, sr *SeedReport) error {
	path := filepath.Join(dir, ResultFile)
	var old SeedReport
	if _, err := readJSON(path, &old); err != nil {
		return err
	}
	merge := func(dst *map[string]QualityReport, src map[string]QualityReport) {
		for k, v := range src {
			if _, ok := (*dst)[k]; !ok {
				if *dst == nil {
					*dst = map[string]QualityReport{}
				}
				(*dst)[k] = v
			}
		}
	}
	for k, v := range old.Runs {
		if _, ok := sr.Runs[k]; !ok {
			sr.Runs[k] = v
			if comp, ok := old.KeptSets[k]; ok {
				sr.KeptSets[k] = comp
			}
		}
	}
	merge(&sr.Quality, old.Quality)
	merge(&sr.TrueQuality, old.TrueQuality)
	merge(&sr.EmbedQuality, old.EmbedQuality)
	return WriteJSON(path, sr)
}

// drawSeed draws (or reads back) the seed subset of the pool.
func (r *run) drawSeed(st *stages, dir string, s uint64) ([]int, error) {
	n := r.pool.Len()
	path := filepath.Join(dir, SeedFile)
	idx := DrawSeed(n, r.c.SeedFrac, s)
	if err := st.do("seed", path, func() error { return WriteIndices(path, idx) }); err != nil {
		return nil, err
	}
	stored, err := ReadIndices(path, n)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(stored, idx) {
		return nil, fmt.Errorf("%s: does not hold the seed subset of these settings", path)
	}
	return idx, nil
}

// ScoreEpochs returns the epochs of the scoring run: Config.ScoreEpochs,
// or when it is 0 the default, as many epochs as make the scoring run
// take the steps of six passes over the base set and the whole pool at
// the batch size (and at least twice the DU window). The MNIST and
// Fashion-MNIST seed-fraction measurements (docs/BENCHMARKS.md) found the
// extrapolated DU's agreement with a full-set run set by the scoring
// run's steps: 10% seeds trained for 60 epochs (six pool passes) agreed as
// well as 40% seeds for 15, and 10% seeds for 15 epochs did not beat a
// class-mean predictor.
func (c *Config) scoreEpochs(nb, pool, seed int) int {
	if c.ScoreEpochs > 0 {
		return c.ScoreEpochs
	}
	bs := c.Train.BatchSize
	target := 6 * float64(nb+pool) / float64(bs)
	perEpoch := math.Ceil(float64(seed) / float64(bs))
	if nb > 0 {
		nr, _ := c.Train.SplitBatch(bs)
		perEpoch = math.Ceil(float64(nb) / float64(nr))
	}
	return max(2*c.Window, int(math.Ceil(target/perEpoch)))
}

// scoreTrain runs (or finishes) the scoring run: adversarial training on
// the seed subset (with the base set, in the seed paper's setting),
// recording the trajectories of every trained sample. It returns the
// run's directory and, if it trained now, its recorder.
func (r *run) scoreTrain(ctx context.Context, st *stages, dir string, s uint64, seedIdx []int) (string, *prune.Recorder, error) {
	c := &r.c
	cfg := c.Train
	cfg.Data, cfg.Seed, cfg.Out = c.Data, s, filepath.Join(dir, scoreDir)
	cfg.Epochs = c.scoreEpochs(r.nb, r.pool.Len(), len(seedIdx))
	sub, err := data.Subset(r.pool, seedIdx)
	if err != nil {
		return "", nil, err
	}
	sets := TrainSets{Train: sub, Test: r.val, Record: c.Recording()}
	if r.base != nil {
		cfg.Data = c.Base
		sets.Train, sets.Synthetic = r.base, sub
	}
	t, err := r.trainForLoad(ctx, st, "score_train", cfg, sets)
	if err != nil {
		return "", nil, err
	}
	r.logf("seed %d: scoring run done: %d epochs, %.0f s", s, cfg.Epochs, trainSeconds(t.Metrics))
	return cfg.Out, t.Recorder, nil
}

// seedScores computes every score, and the confidence, of the n scored
// samples from the scoring run's trajectories (in rec, if the run trained
// in this call, else in its files).
func (r *run) seedScores(st *stages, dir, scoreRun string, rec *prune.Recorder, n int) (map[string][]float32, error) {
	out := map[string][]float32{}
	for _, m := range append(slices.Clone(r.c.Scores), Confidence) {
		path := filepath.Join(dir, "scores_seed_"+m+".npy")
		var err error
		out[m], err = produceVector(st, "score_"+m, path, func() ([]float32, error) { return scoreTrajectories(&r.c, scoreRun, m, n, rec) })
		if err != nil {
			return nil, err
		}
		if len(out[m]) != n {
			return nil, fmt.Errorf("%s: %d scores, but %d samples were scored", path, len(out[m]), n)
		}
	}
	return out, nil
}

// poolPTrue returns the scoring model's clean true-class probability of
// every pool sample: what the kept sets are made of, for the report.
func (r *run) poolPTrue(st *stages, dir, scoreRun string) ([]float32, error) {
	path := filepath.Join(dir, PTrueFile)
	p, err := produceVector(st, "ptrue", path, func() ([]float32, error) {
		model, err := r.loadModel(filepath.Join(scoreRun, train.ModelFile))
		if err != nil {
			return nil, err
		}
		p, _, err := Predict(model, r.pool)
		return p, err
	})
	if err != nil {
		return nil, err
	}
	if len(p) != r.pool.Len() {
		return nil, fmt.Errorf("%s: %d values, but the pool has %d samples", path, len(p), r.pool.Len())
	}
	return p, nil
}

// extrapolate measures the extrapolation's quality in every embedding,
// on held-out scored pool samples and, given true scores, on the whole
// pool; then it extrapolates every score and the confidence to the whole
// pool in the first embedding (with Config.PickEmbed, the best measured)
// and returns the pool's scores.
func (r *run) extrapolate(st *stages, dir string, s uint64, embs []embedding, scored []int, seedScores map[string][]float32, sr *SeedReport) (map[string][]float32, error) {
	c := &r.c
	metric, _ := prune.ParseMetric(c.Metric)
	kopt := prune.KNNOptions{K: c.K, Metric: metric, Weighted: c.Weighted}
	sr.Quality, sr.TrueQuality, sr.EmbedQuality = map[string]QualityReport{}, map[string]QualityReport{}, map[string]QualityReport{}
	for _, e := range embs {
		for _, m := range c.Scores {
			q, err := r.quality(st, dir, s, e, m, scored, seedScores[m], kopt)
			if err != nil {
				return nil, err
			}
			sr.EmbedQuality[e.kind+"/"+m] = q
			if r.truth[m] == nil {
				continue
			}
			if sr.TrueQuality[e.kind+"/"+m], err = r.trueQuality(st, dir, s, e, m, scored, seedScores[m], kopt); err != nil {
				return nil, err
			}
		}
	}
	use := embs[0]
	if c.PickEmbed {
		for _, e := range embs[1:] {
			if float64(sr.EmbedQuality[e.kind+"/"+c.Scores[0]].Spearman) > float64(sr.EmbedQuality[use.kind+"/"+c.Scores[0]].Spearman) {
				use = e
			}
		}
	}
	sr.Embedding = use.kind
	for _, m := range c.Scores {
		sr.Quality[m] = sr.EmbedQuality[use.kind+"/"+m]
	}
	pool := map[string][]float32{}
	for _, m := range append(slices.Clone(c.Scores), Confidence) {
		path := filepath.Join(dir, "scores_"+m+".npy")
		var err error
		pool[m], err = produceVector(st, "extrapolate_"+m, path, func() ([]float32, error) {
			ex, err := prune.Extrapolate(use.x, use.dim, scored, seedScores[m], kopt)
			if err != nil {
				return nil, err
			}
			return ex.Scores[r.nb:], nil
		})
		if err != nil {
			return nil, err
		}
		if len(pool[m]) != r.pool.Len() {
			return nil, fmt.Errorf("%s: %d scores, but the pool has %d samples", path, len(pool[m]), r.pool.Len())
		}
	}
	return pool, nil
}

// quality measures the extrapolation of score m in embedding e on
// held-out scored pool samples (and keeps them, for the plots).
func (r *run) quality(st *stages, dir string, s uint64, e embedding, m string, scored []int, seedScores []float32, kopt prune.KNNOptions) (QualityReport, error) {
	return qualityStage(st, dir, "quality_"+e.kind+"_"+m, func() (QualityReport, error) {
		q, truth, pred, err := holdOutQuality(e.x, e.dim, r.labels, scored, seedScores, kopt, r.c.HoldOut, s, r.nb)
		if err != nil {
			return q, err
		}
		return q, writeHoldOut(filepath.Join(dir, holdOutFile(e.kind+"_"+m)), truth, pred)
	})
}

// qualityStage runs stage name, a quality measurement saved as
// dir/name.json, unless it finished before, and returns its report.
func qualityStage(st *stages, dir, name string, measure func() (QualityReport, error)) (QualityReport, error) {
	path := filepath.Join(dir, name+".json")
	return produce(st, name, path, measure, func(q QualityReport) error { return WriteJSON(path, q) },
		func() (QualityReport, error) {
			var q QualityReport
			_, err := readJSON(path, &q)
			return q, err
		})
}

// trueQuality measures the extrapolation of score m in embedding e
// against the full-set run's scores of the pool samples outside the seed.
func (r *run) trueQuality(st *stages, dir string, s uint64, e embedding, m string, scored []int, seedScores []float32, kopt prune.KNNOptions) (QualityReport, error) {
	return qualityStage(st, dir, "quality_true_"+e.kind+"_"+m, func() (QualityReport, error) {
		truth := make([]float32, r.all.Len())
		for i := range r.nb {
			truth[i] = float32(math.NaN()) // the base set has no full-run score
		}
		copy(truth[r.nb:], r.truth[m])
		return QualityAgainst(e.x, e.dim, r.labels, scored, seedScores, truth, kopt, s)
	})
}

// arm is one selection of the pool: a rule applied to a score.
type arm struct {
	name  string
	rule  prune.Rule
	score string // a score of Methods, with trueSuffix for true scores; "" for rules that use none
}

// arms lists the selections of c at every ratio, in presentation order:
// the score-driven rules on each score (extrapolated, then true), the
// other rules, then random.
func (c *Config) arms() []arm {
	scores := slices.Clone(c.Scores)
	for _, m := range Methods {
		if _, ok := c.TrueScores[m]; ok {
			scores = append(scores, m+trueSuffix)
		}
	}
	var out []arm
	for _, name := range c.Select {
		rule := prune.Rule(name)
		switch rule {
		case prune.RuleTop, prune.RuleKeepLow, prune.RuleStratified:
			for _, m := range scores {
				n := m
				if rule != prune.RuleTop {
					n = name + "-" + m
				}
				out = append(out, arm{name: n, rule: rule, score: m})
			}
		default:
			out = append(out, arm{name: name, rule: rule})
		}
	}
	return append(out, arm{name: string(prune.RuleRandom), rule: prune.RuleRandom})
}

// selectAll selects the kept pool samples of every arm at every ratio
// (a multiset for random-replace), keyed by run name.
func (r *run) selectAll(st *stages, dir string, s uint64, poolScores map[string][]float32) (map[string][]int, error) {
	c := &r.c
	n := r.pool.Len()
	labels := r.labels[r.nb:]
	kept := map[string][]int{}
	for _, p := range c.Prune {
		for _, a := range c.arms() {
			name := runName(a.name, p)
			path := filepath.Join(dir, keptFile(name))
			var err error
			kept[name], err = produce(st, "select_"+name, path, func() ([]int, error) {
				scores := poolScores[a.score]
				if m, ok := cutTrue(a.score); ok {
					scores = r.truth[m]
				}
				sel, err := prune.SelectBy(n, prune.RuleOptions{Rule: a.rule, Ratio: p, Scores: scores,
					Confidence: poolScores[Confidence], Beta: c.beta(p), Tail: c.Tail, Strata: c.Strata,
					Labels: labels, ClassBalanced: c.ClassBalanced, Seed: s})
				if err != nil {
					return nil, train.WrapField("Select", err, "%s at {Prune} %g", a.rule, p)
				}
				return sel.Kept, nil
			}, func(k []int) error { return WriteIndices(path, k) }, func() ([]int, error) { return ReadKept(path, n) })
			if err != nil {
				return nil, err
			}
		}
	}
	return kept, nil
}

// cutTrue returns the score of a true-score name ("du-true" → "du").
func cutTrue(score string) (string, bool) {
	if score == "" {
		return "", false
	}
	return strings.CutSuffix(score, trueSuffix)
}

// traits are what is known of every pool sample, to describe kept sets.
type traits struct {
	ptrue     []float32 // the scoring model's clean true-class probability
	ambiguous []bool    // misclassified by the clean model; nil without it
	strength  []float64 // deformation strength of a synthetic pool; nil for others
}

// poolTraits gathers the traits of the pool's samples.
func (r *run) poolTraits(dir string, ptrue []float32) (*traits, error) {
	t := &traits{ptrue: ptrue}
	if exists(filepath.Join(dir, PoolCleanFile)) {
		var err error
		if _, t.ambiguous, err = r.readPoolClean(dir); err != nil {
			return nil, err
		}
	}
	if syn, ok := r.pool.(interface{ Strength(int) float64 }); ok {
		t.strength = make([]float64, r.pool.Len())
		for i := range t.strength {
			t.strength[i] = syn.Strength(i)
		}
	}
	return t, nil
}

// compose describes the pool samples idx (all if nil, repeats counted
// as often as they are listed).
func (t *traits) compose(idx []int) Composition {
	var c Composition
	n := len(idx)
	if idx == nil {
		n = len(t.ptrue)
	}
	seen := map[int]bool{}
	for j := range n {
		i := j
		if idx != nil {
			i = idx[j]
		}
		seen[i] = true
		c.MeanPTrue += float64(t.ptrue[i])
		if t.ptrue[i] < 0.5 {
			c.Hard++
		}
		if t.ambiguous != nil && t.ambiguous[i] {
			c.Ambiguous++
		}
		if t.strength != nil {
			c.Strength += t.strength[i]
		}
	}
	if n > 0 {
		c.MeanPTrue /= float64(n)
		c.Hard /= float64(n)
		c.Ambiguous /= float64(n)
		c.Strength /= float64(n)
	}
	c.Unique = len(seen)
	return c
}

// trueSuffix marks the runs pruned by a full-set run's scores
// (Config.TrueScores): "du-true".
const trueSuffix = "-true"

// firstArm names the run of the first arm at the first prune ratio,
// whose kept set sets the full-pool run's steps without a base set.
func (c *Config) firstArm() string { return runName(c.arms()[0].name, c.Prune[0]) }

// runName names the training run of arm a at prune ratio p.
func runName(a string, p float64) string {
	return a + "_p" + formatRatio(p)
}

// Reference runs: the whole pool, and (in the seed paper's setting) the
// base set alone, both at the arms' step budget.
const (
	fullRun = "full"
	baseRun = "base"
)

// trainAndEval trains run name on the base set (if any) and the pool
// samples kept (the whole pool for the full run, none for the base run),
// and evaluates it. Every run trains for the same number of steps: in the
// seed paper's setting an epoch is a pass over the base set whatever the
// pool, so the epochs are the same but for the base run, whose batches
// hold base samples only; without a base set, the full pool's epochs are
// scaled to the first arm's steps.
func (r *run) trainAndEval(ctx context.Context, st *stages, dir, name string, s uint64, all map[string][]int) (*RunReport, error) {
	c := &r.c
	kept := all[name]
	cfg := c.Train
	cfg.Data, cfg.Seed, cfg.Out = c.Data, s, filepath.Join(dir, "train_"+name)
	sets := TrainSets{Test: r.val}
	var err error
	switch {
	case r.base != nil && name == baseRun:
		cfg.Data, sets.Train = c.Base, r.base
		cfg.Epochs = r.baseEpochs()
	case r.base != nil:
		cfg.Data, sets.Train, sets.Synthetic = c.Base, r.base, r.pool
		if name != fullRun {
			if sets.Synthetic, err = data.Subset(r.pool, kept); err != nil {
				return nil, err
			}
		}
	case name == fullRun:
		sets.Train = r.pool
		cfg.Epochs = r.fullEpochs(len(all[c.firstArm()]))
	default:
		if sets.Train, err = data.Subset(r.pool, kept); err != nil {
			return nil, err
		}
	}
	evalPath := filepath.Join(dir, evalFile(name))
	// An evaluated run needs nothing but its metrics.
	ms := FinishedRun(cfg.Out, cfg.Epochs)
	var trained *train.Result
	if ms == nil || !exists(evalPath) {
		t, err := r.train(ctx, st, "train_"+name, cfg, sets)
		if err != nil {
			return nil, err
		}
		ms, trained = t.Metrics, t.Result
	} else if err := st.set("train_"+name, trainSeconds(ms)); err != nil {
		return nil, err
	}
	e, err := produce(st, "eval_"+name, evalPath, func() (EvalResult, error) {
		model, which, err := r.evalModel(cfg.Out, trained)
		if err != nil {
			return EvalResult{}, err
		}
		e, err := evaluate(model, r.test, r.evalIdx, r.norm, float32(c.Train.Eps), c.EvalSteps, c.APGDSteps, s, r.o.Progress)
		e.Model = which
		return e, err
	}, func(e EvalResult) error { return WriteJSON(evalPath, e) }, func() (EvalResult, error) {
		var e EvalResult
		_, err := readJSON(evalPath, &e)
		return e, err
	})
	if err != nil {
		return nil, err
	}
	size := len(kept)
	if name == fullRun {
		size = r.pool.Len()
	}
	rr := runReport(size, cfg.Epochs, ms, e)
	r.logf("seed %d: %-22s %6d kept, %5d steps: clean %.2f%%, PGD-%d %.2f%%, worst %.2f%% (%s; train %.0f s)",
		s, name, size, rr.Steps, 100*e.Clean, c.EvalSteps, 100*e.PGD, 100*e.Worst, e.Model, trainSeconds(ms))
	return rr, nil
}

// runReport is the report of a training run on size pool samples, from
// its metrics and its evaluation.
func runReport(size, epochs int, ms []train.Metrics, e EvalResult) *RunReport {
	rr := &RunReport{Kept: size, Epochs: epochs, TrainSeconds: trainSeconds(ms), Eval: e, Curve: curve(ms)}
	if len(ms) > 0 {
		rr.Steps = ms[len(ms)-1].Steps
	}
	return rr
}

// partial returns the training runs the repetition with random seed s
// has evaluated, read from their files, without the stages (scores,
// quality, kept-set composition) of a finished one: the report of an
// unfinished repetition, and the runs a saved result lacks; nil if it
// has evaluated none.
func (r *run) partial(s uint64) (*SeedReport, error) {
	dir := seedDir(r.c.Out, s)
	st, err := loadStages(dir)
	if err != nil {
		return nil, err
	}
	if err := st.absorb(dir, false); err != nil {
		return nil, err
	}
	sr := &SeedReport{Seed: s, Partial: true, Stages: st.Seconds, PeakMiB: st.PeakMiB, Runs: map[string]RunReport{}}
	for _, name := range r.c.runNames() {
		var e EvalResult
		if ok, err := readJSON(filepath.Join(dir, evalFile(name)), &e); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		ms, err := readMetrics(filepath.Join(dir, "train_"+name))
		if err != nil {
			return nil, fmt.Errorf("%s is evaluated but its training metrics are not readable: %w", name, err)
		}
		size := 0
		switch name {
		case fullRun:
			size = r.pool.Len()
		case baseRun:
		default:
			k, err := ReadKept(filepath.Join(dir, "kept_"+name+".npy"), r.pool.Len())
			if err != nil {
				return nil, err
			}
			size = len(k)
		}
		epochs := 0
		if len(ms) > 0 {
			epochs = ms[len(ms)-1].Epoch
		}
		sr.Runs[name] = *runReport(size, epochs, ms, e)
	}
	if len(sr.Runs) == 0 {
		return nil, nil
	}
	return sr, nil
}

// train runs (or finishes) the training run of stage name (TrainRun) and
// records its wall time.
func (r *run) train(ctx context.Context, st *stages, name string, cfg train.Config, sets TrainSets) (Trained, error) {
	t, err := TrainRun(ctx, cfg, sets, nil, r.o.Progress)
	if err != nil {
		return Trained{}, errStage(name, err)
	}
	return t, st.set(name, trainSeconds(t.Metrics))
}

// trainForLoad is train for a run whose final model later stages load
// (loadModel): a model it trained is kept as that file's, so nothing is
// read back.
func (r *run) trainForLoad(ctx context.Context, st *stages, name string, cfg train.Config, sets TrainSets) (Trained, error) {
	t, err := r.train(ctx, st, name, cfg, sets)
	if err == nil && t.Result != nil {
		r.remember(filepath.Join(cfg.Out, train.ModelFile), t.Result.Model)
	}
	return t, err
}

// evalModel returns the model of the finished training run in dir with
// the weights Config.EvalModel asks for, and says which they are: from
// trained, the run's result in memory, if it has them, else read from dir.
func (r *run) evalModel(dir string, trained *train.Result) (nn.FeatureModel, string, error) {
	if trained != nil && trained.Best != nil && r.c.EvalModel != "last" {
		if err := trained.Use(trained.Best); err != nil {
			return nil, "", err
		}
		return trained.Model, r.bestLabel(trained.BestEpoch), nil
	}
	w, which, err := r.evalWeights(dir)
	if err != nil {
		return nil, "", err
	}
	model, err := w.Build(ImageOptions(r.test))
	return model, which, err
}

// bestLabel names the best weights of epoch e, as the report states them.
func (r *run) bestLabel(e int) string {
	which := fmt.Sprintf("best, epoch %d", e)
	if r.c.Train.EMA > 0 {
		which += ", EMA"
	}
	return which
}

// evalWeights reads the weights of a finished training run that
// Config.EvalModel asks for, and says which it is.
func (r *run) evalWeights(dir string) (w *nn.Weights, which string, err error) {
	if r.c.EvalModel == "last" {
		w, err := nn.ReadWeights(filepath.Join(dir, train.ModelFile))
		return w, "last epoch", err
	}
	best := filepath.Join(dir, train.BestModelFile)
	if !exists(best) {
		return nil, "", train.FieldErrorf("EvalModel", "%s: missing; the run validated no epoch (evaluate the last weights)", best)
	}
	if w, err = nn.ReadWeights(best); err != nil {
		return nil, "", err
	}
	return w, r.bestLabel(w.Epoch), nil
}

// curve is a run's validation robust accuracy against its steps.
func curve(ms []train.Metrics) []CurvePoint {
	var out []CurvePoint
	for _, m := range ms {
		if v, ok := valRobust(m); ok {
			out = append(out, CurvePoint{Steps: m.Steps, Robust: v})
		}
	}
	return out
}

// fullEpochs returns the epochs of the full-pool run without a base set:
// the step budget of the runs on the first prune ratio's kept sets,
// E·kept/N epochs of the whole pool, at least one.
func (r *run) fullEpochs(kept int) int {
	n := r.pool.Len()
	return max(1, int(math.Round(float64(r.c.Train.Epochs)*float64(kept)/float64(n))))
}

// baseEpochs returns the epochs of the base-only run: the arms' steps,
// E·⌈nb/nr⌉, in epochs of ⌈nb/B⌉ batches of base samples alone.
func (r *run) baseEpochs() int {
	bs := r.c.Train.BatchSize
	nr, _ := r.c.Train.SplitBatch(bs)
	mixed := (r.nb + nr - 1) / nr
	plain := (r.nb + bs - 1) / bs
	return max(1, int(math.Round(float64(r.c.Train.Epochs*mixed)/float64(plain))))
}

// evalSlice returns the test samples every model of the run is evaluated
// on, and sets the validation samples of the trainings: disjoint slices
// of one fixed permutation of the test set (validation first), the same
// for every repetition, so that a best checkpoint picked on validation is
// not evaluated on the samples that picked it. The trainings see only the
// validation samples, as their test set: their per-epoch clean
// evaluation stays cheap and never touches the evaluation's samples.
func (r *run) evalSlice() []int {
	c := &r.c
	nv := c.Train.ValSize
	if nv == 0 {
		nv = train.DefaultValSize
	}
	m := r.test.Len()
	nv = min(nv, m/2)
	perm := tensor.NewRNG(0xe7a1).Perm(m)
	r.valIdx = slices.Sorted(slices.Values(perm[:nv]))
	rest := perm[nv:]
	n := c.EvalN
	if n == 0 || n > len(rest) {
		n = len(rest)
	}
	return slices.Sorted(slices.Values(rest[:n]))
}
