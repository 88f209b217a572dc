package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/configdiff"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/tensor"
	"github.com/bulwark-ml/bulwark/train"
)

// Options are the parts of a pipeline run that are not settings.
type Options struct {
	Stdout   io.Writer // one line per finished stage; nil discards them
	Progress io.Writer // progress bars; nil disables them
	// Pool and Test, if set, replace the sets opened from Config.Data
	// (tests pass sets built in memory); Test must be set with Pool.
	Pool, Test data.Dataset
	// OnlySeeds, if set, runs just these repetitions (0 ≤ s < Config.Seeds)
	// and writes no report, so that the repetitions of one run directory
	// can go to separate processes or machines; a final call without it
	// finds them finished and writes the report.
	OnlySeeds []int
	// Finished, if set, runs nothing: the report covers the repetitions
	// that have finished every stage (at least one), to read a run
	// while its other repetitions are still going or were given up.
	Finished bool
}

// Files of a pipeline run directory (per seed, under seedN/).
const (
	ConfigFile     = "config.json"
	SeedFile       = "seed_indices.npy" // int64 pool indices of the seed subset
	EmbeddingsFile = "embeddings.npy"   // float32 N×d embeddings of the pool
	PTrueFile      = "seed_ptrue.npy"   // float32 seed-model true-class probability of every pool sample
	StagesFile     = "stages.json"      // wall seconds of every finished stage
	ResultFile     = "result.json"      // the SeedReport of a finished repetition
	scoreDir       = "score"            // the seed-subset training run
)

// run is one pipeline run in progress.
type run struct {
	c          Config
	o          Options
	pool, test data.Dataset
	labels     []int
	evalIdx    []int
	norm       attack.Norm
	truth      map[string][]float32 // Config.TrueScores' scores of the pool samples
}

// Run executes the experiment c: for every seed, the seed draw, the
// seed-subset adversarial training with recording, the scores, the
// embedding, the extrapolation, the selection, the trainings on the kept
// sets, on random sets of the same size and (with c.Full) on the whole
// pool, and their evaluation; then the report. Every stage writes its
// result to c.Out; a stage whose result is there already is skipped and a
// training cut short is resumed, so Run can be called again on the same
// directory to finish a run.
func Run(ctx context.Context, c Config, o Options) (*Report, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if o.OnlySeeds != nil && o.Finished {
		return nil, errors.New("--only-seeds runs repetitions and --finished runs none: give one of them")
	}
	for _, s := range o.OnlySeeds {
		if s < 0 || s >= c.Seeds {
			return nil, fmt.Errorf("--only-seeds: repetition %d is not among the %d of --seeds", s, c.Seeds)
		}
	}
	pool, test := o.Pool, o.Test
	if pool == nil {
		var err error
		if pool, test, err = data.Open(c.Data); err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		defer data.Close(pool)
		if test != nil {
			defer data.Close(test)
		}
	}
	if test == nil {
		return nil, fmt.Errorf("--data %s: has no test split to evaluate on", c.Data)
	}
	splitN := pool.Len()
	var poolIdx []int
	if c.PoolSize > 0 {
		if c.PoolSize > pool.Len() {
			return nil, fmt.Errorf("--pool %d: the training split of %s has %d samples", c.PoolSize, c.Data, pool.Len())
		}
		poolIdx = DrawSeed(pool.Len(), float64(c.PoolSize)/float64(pool.Len()), 0)
		var err error
		if pool, err = data.Subset(pool, poolIdx); err != nil {
			return nil, err
		}
	}
	r := &run{c: c, o: o, pool: pool, test: test, labels: make([]int, pool.Len())}
	// The run directory is claimed (c recorded, or checked against the
	// recorded run) only once the true scores are read, so that a wrong
	// file is neither recorded nor costs a seed run.
	record, err := checkDir(c)
	if err != nil {
		return nil, err
	}
	if !o.Finished {
		if r.truth, err = readTrueScores(c.TrueScores, pool.Len(), poolIdx, splitN); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	if record != nil {
		if err := WriteJSON(filepath.Join(c.Out, ConfigFile), record); err != nil {
			return nil, err
		}
	}
	for i := range r.labels {
		r.labels[i] = pool.Label(i)
	}
	r.norm, _ = attack.ParseNorm(c.Train.Norm)
	r.evalIdx = EvalSlice(test.Len(), c.EvalN, 0)
	rep := &Report{Config: c}
	for s := range c.Seeds {
		if o.OnlySeeds != nil && !slices.Contains(o.OnlySeeds, s) {
			continue
		}
		seed := c.Train.Seed + uint64(s)
		if o.Finished {
			sr, done, err := r.result(seed)
			if err != nil {
				return nil, err
			}
			if sr != nil {
				rep.Seeds = append(rep.Seeds, *sr)
				continue
			}
			if !done {
				r.logf("seed %d: not finished, left out of the report", seed)
				continue
			}
		}
		sr, err := r.seed(ctx, seed)
		if err != nil {
			return nil, err
		}
		rep.Seeds = append(rep.Seeds, *sr)
	}
	if o.OnlySeeds != nil {
		return rep, nil
	}
	if len(rep.Seeds) == 0 {
		return nil, fmt.Errorf("--out %s: no repetition has finished yet", c.Out)
	}
	rep.summarize()
	if err := rep.write(c.Out); err != nil {
		return nil, err
	}
	return rep, nil
}

// checkDir checks that the run in directory c.Out, if there is one, has
// the settings of c. It returns the config to record there, or nil if the
// recorded one stands as it is.
func checkDir(c Config) (*Config, error) {
	var stored Config
	ok, err := readJSON(filepath.Join(c.Out, ConfigFile), &stored)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &c, nil
	}
	if f := configDiff(stored, c); f != "" {
		return nil, fmt.Errorf("--out %s holds a run with other settings (%s differs); choose another --out", c.Out, f)
	}
	for m, p := range stored.TrueScores {
		if q, ok := c.TrueScores[m]; ok && q != p {
			return nil, fmt.Errorf("--out %s holds runs pruned by --true-scores %s=%s, not %s; choose another --out", c.Out, m, p, q)
		}
	}
	if len(c.TrueScores) == 0 {
		return nil, nil
	}
	merged := stored
	merged.TrueScores = map[string]string{}
	maps.Copy(merged.TrueScores, stored.TrueScores)
	maps.Copy(merged.TrueScores, c.TrueScores)
	return &merged, nil
}

// configDiff names the first setting in which a and b differ, or "";
// the thread count may change between calls, the directory may have been
// moved or copied, and runs pruned by true scores may be added to a run
// (checkDir checks that the ones both name agree).
func configDiff(a, b Config) string {
	a.Train.Threads, b.Train.Threads = 0, 0
	a.Out, b.Out, a.Train.Out, b.Train.Out = "", "", "", ""
	a.TrueScores, b.TrueScores = nil, nil
	return configdiff.First(a, b)
}

// stages is the bookkeeping of one seed directory: the wall seconds of
// every finished stage, saved after each.
type stages struct {
	path    string
	Seconds map[string]float64 `json:"seconds"`
}

func loadStages(dir string) (*stages, error) {
	st := &stages{path: filepath.Join(dir, StagesFile), Seconds: map[string]float64{}}
	if _, err := readJSON(st.path, st); err != nil {
		return nil, err
	}
	return st, nil
}

// do runs stage f unless it finished before (and its output, if named,
// is still there), recording its wall time.
func (st *stages) do(name, output string, f func() error) error {
	if _, ok := st.Seconds[name]; ok && (output == "" || exists(output)) {
		return nil
	}
	start := time.Now()
	if err := f(); err != nil {
		return errStage(name, err)
	}
	st.Seconds[name] = time.Since(start).Seconds()
	return WriteJSON(st.path, st)
}

// set records a stage's time measured elsewhere (a training run's, across
// resumes).
func (st *stages) set(name string, sec float64) error {
	st.Seconds[name] = sec
	return WriteJSON(st.path, st)
}

// logf prints a progress line.
func (r *run) logf(format string, args ...any) {
	if r.o.Stdout != nil {
		fmt.Fprintf(r.o.Stdout, format+"\n", args...)
	}
}

// result returns the saved result of the repetition with random seed s
// if there is one (a repetition run elsewhere may have left only that);
// otherwise done reports whether all its stages have finished.
func (r *run) result(s uint64) (sr *SeedReport, done bool, err error) {
	dir := seedDir(r.c.Out, s)
	var saved SeedReport
	if ok, err := readJSON(filepath.Join(dir, ResultFile), &saved); err != nil {
		return nil, false, err
	} else if ok {
		return &saved, true, nil
	}
	st, err := loadStages(dir)
	if err != nil {
		return nil, false, err
	}
	for _, name := range r.c.runNames() {
		if _, ok := st.Seconds["eval_"+name]; !ok {
			return nil, false, nil
		}
	}
	return nil, true, nil
}

// seedDir is the directory of the repetition with random seed s.
func seedDir(out string, s uint64) string {
	return filepath.Join(out, "seed"+strconv.FormatUint(s, 10))
}

// seed runs every stage of the repetition with random seed s.
func (r *run) seed(ctx context.Context, s uint64) (*SeedReport, error) {
	c := &r.c
	dir := seedDir(c.Out, s)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st, err := loadStages(dir)
	if err != nil {
		return nil, err
	}
	sr := &SeedReport{Seed: s, Stages: st.Seconds}
	n := r.pool.Len()

	// 1. The seed subset.
	seedPath := filepath.Join(dir, SeedFile)
	seedIdx := DrawSeed(n, c.SeedFrac, s)
	if err := st.do("seed", seedPath, func() error { return WriteIndices(seedPath, seedIdx) }); err != nil {
		return nil, err
	}
	stored, err := ReadIndices(seedPath, n)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(stored, seedIdx) {
		return nil, fmt.Errorf("%s: does not hold the seed subset of these settings", seedPath)
	}
	sr.SeedSize = len(seedIdx)
	r.logf("seed %d: %d of %d samples in the seed subset", s, len(seedIdx), n)

	// 2. Adversarial training on the seed subset, recording trajectories.
	scfg := c.Train
	scfg.Data, scfg.Epochs, scfg.Seed = c.Data, c.ScoreEpochs, s
	scfg = c.Recording(scfg)
	scfg.Out = filepath.Join(dir, scoreDir)
	ms, err := TrainRun(ctx, scfg, r.pool, r.test, seedIdx, nil, r.o.Progress)
	if err != nil {
		return nil, errStage("score training", err)
	}
	if err := st.set("score_train", trainSeconds(ms)); err != nil {
		return nil, err
	}
	r.logf("seed %d: seed-subset training done (%.0f s)", s, trainSeconds(ms))

	// 3. Scores of the seed samples.
	seedScores := map[string][]float32{}
	for _, m := range c.Scores {
		path := filepath.Join(dir, "scores_seed_"+m+".npy")
		err := st.do("score_"+m, path, func() error {
			v, err := ScoreRun(c, scfg.Out, m, len(seedIdx))
			if err != nil {
				return err
			}
			return WriteVector(path, v)
		})
		if err != nil {
			return nil, err
		}
		if seedScores[m], err = ReadVector(path); err != nil {
			return nil, err
		}
	}

	// 4. Embeddings of the whole pool by the seed-trained model.
	embPath := filepath.Join(dir, EmbeddingsFile)
	err = st.do("embed", embPath, func() error {
		model, err := LoadModel(filepath.Join(scfg.Out, train.ModelFile), r.pool)
		if err != nil {
			return err
		}
		emb, dim, err := Embed(model, r.pool, prune.EmbedOptions{Normalize: c.Normalize}, r.o.Progress)
		if err != nil {
			return err
		}
		return data.WriteNpy(embPath, []int{n, dim}, emb)
	})
	if err != nil {
		return nil, err
	}
	emb, rows, dim, err := ReadMatrix(embPath)
	if err != nil {
		return nil, err
	}
	if rows != n {
		return nil, fmt.Errorf("%s: %d rows, but the pool has %d samples", embPath, rows, n)
	}
	// The seed model's clean true-class probability of every pool
	// sample: what the kept sets are made of, for the report.
	ptruePath := filepath.Join(dir, PTrueFile)
	err = st.do("ptrue", ptruePath, func() error {
		model, err := LoadModel(filepath.Join(scfg.Out, train.ModelFile), r.pool)
		if err != nil {
			return err
		}
		p, err := TrueClassProbs(model, r.pool)
		if err != nil {
			return err
		}
		return WriteVector(ptruePath, p)
	})
	if err != nil {
		return nil, err
	}
	ptrue, err := ReadVector(ptruePath)
	if err != nil {
		return nil, err
	}
	if len(ptrue) != n {
		return nil, fmt.Errorf("%s: %d values, but the pool has %d samples", ptruePath, len(ptrue), n)
	}
	metric, _ := prune.ParseMetric(c.Metric)
	kopt := prune.KNNOptions{K: c.K, Metric: metric, Weighted: c.Weighted}

	// 5. Extrapolation to the whole pool, and its quality on a held-out
	// part of the seed and, given a full-set run's scores, on the whole
	// pool.
	truth := r.truth
	allScores := map[string][]float32{}
	sr.Quality, sr.TrueQuality = map[string]QualityReport{}, map[string]QualityReport{}
	for _, m := range c.Scores {
		path := filepath.Join(dir, "scores_"+m+".npy")
		qpath := filepath.Join(dir, "quality_"+m+".json")
		err := st.do("extrapolate_"+m, path, func() error {
			ex, err := prune.Extrapolate(emb, dim, seedIdx, seedScores[m], kopt)
			if err != nil {
				return err
			}
			q, truth, pred, err := holdOutQuality(emb, dim, r.labels, seedIdx, seedScores[m], kopt, c.HoldOut, s)
			if err != nil {
				return err
			}
			if err := writeHoldOut(filepath.Join(dir, holdOutFile(m)), truth, pred); err != nil {
				return err
			}
			if err := WriteJSON(qpath, q); err != nil {
				return err
			}
			return WriteVector(path, ex.Scores)
		})
		if err != nil {
			return nil, err
		}
		if allScores[m], err = ReadVector(path); err != nil {
			return nil, err
		}
		if len(allScores[m]) != n {
			return nil, fmt.Errorf("%s: %d scores, but the pool has %d samples", path, len(allScores[m]), n)
		}
		var q QualityReport
		if _, err := readJSON(qpath, &q); err != nil {
			return nil, err
		}
		sr.Quality[m] = q
		if truth[m] == nil {
			continue
		}
		tpath := filepath.Join(dir, "quality_true_"+m+".json")
		err = st.do("quality_true_"+m, tpath, func() error {
			q, err := QualityAgainst(emb, dim, r.labels, seedIdx, seedScores[m], truth[m], kopt, s)
			if err != nil {
				return err
			}
			return WriteJSON(tpath, q)
		})
		if err != nil {
			return nil, err
		}
		if _, err := readJSON(tpath, &q); err != nil {
			return nil, err
		}
		sr.TrueQuality[m] = q
	}

	// 6. Selection: every method at every ratio, and random sets of the
	// same sizes.
	allScores["random"] = prune.RandomScores(tensor.NewRNG(s^0x4a4d0), n)
	for m, v := range truth {
		allScores[m+trueSuffix] = v
	}
	methods := c.selectionMethods()
	kept := map[string][]int{}
	for _, p := range c.Prune {
		for _, m := range methods {
			name := runName(m, p)
			path := filepath.Join(dir, "kept_"+name+".npy")
			err := st.do("select_"+name, path, func() error {
				sel, err := prune.Select(allScores[m], prune.SelectOptions{Ratio: p, Labels: r.labels,
					ClassBalanced: c.ClassBalanced, KeepLow: c.KeepLow && m != "random"})
				if err != nil {
					return err
				}
				return WriteIndices(path, sel.Kept)
			})
			if err != nil {
				return nil, err
			}
			if kept[name], err = ReadIndices(path, n); err != nil {
				return nil, err
			}
		}
	}

	// 7-8. Adversarial training on each kept set (and the full pool), and
	// its evaluation.
	sr.Runs, sr.KeptSets = map[string]RunReport{}, map[string]Composition{}
	for _, name := range c.runNames() {
		sr.KeptSets[name] = compose(ptrue, kept[name])
		rr, err := r.trainAndEval(ctx, st, dir, name, kept, s)
		if err != nil {
			return nil, err
		}
		sr.Runs[name] = *rr
	}
	return sr, WriteJSON(filepath.Join(dir, ResultFile), sr)
}

// compose describes the samples idx (all if nil) by their seed-model
// true-class probabilities p.
func compose(p []float32, idx []int) Composition {
	var c Composition
	n := len(idx)
	if idx == nil {
		n = len(p)
	}
	for j := range n {
		v := p[j]
		if idx != nil {
			v = p[idx[j]]
		}
		c.MeanPTrue += float64(v)
		if v < 0.5 {
			c.Hard++
		}
	}
	if n > 0 {
		c.MeanPTrue /= float64(n)
		c.Hard /= float64(n)
	}
	return c
}

// trueSuffix marks the runs pruned by a full-set run's scores
// (Config.TrueScores): "du-true".
const trueSuffix = "-true"

// selectionMethods returns the methods a kept set is selected by, in
// presentation order: the scores as given, those pruned by true scores (in
// the order of Methods), then random.
func (c *Config) selectionMethods() []string {
	out := slices.Clone(c.Scores)
	for _, m := range Methods {
		if _, ok := c.TrueScores[m]; ok {
			out = append(out, m+trueSuffix)
		}
	}
	return append(out, "random")
}

// readTrueScores reads each file of files, the scores of the n pool
// samples or, when the pool is the subset poolIdx of a training split of
// splitN samples, of the whole split (a full-set run's scores.npy as it
// is), of which the pool's are taken.
func readTrueScores(files map[string]string, n int, poolIdx []int, splitN int) (map[string][]float32, error) {
	out := map[string][]float32{}
	for m, path := range files {
		v, err := ReadVector(path)
		if err != nil {
			return nil, fmt.Errorf("--true-scores: %w", err)
		}
		switch {
		case len(v) == n:
			out[m] = v
		case poolIdx != nil && len(v) == splitN:
			out[m] = prune.Gather(v, poolIdx)
		case poolIdx != nil:
			return nil, fmt.Errorf("--true-scores: %s: %d scores, but the pool has %d samples and the training split %d", path, len(v), n, splitN)
		default:
			return nil, fmt.Errorf("--true-scores: %s: %d scores, but the pool has %d samples", path, len(v), n)
		}
	}
	return out, nil
}

// runName names the training run of method m at prune ratio p.
func runName(m string, p float64) string {
	return m + "_p" + strconv.FormatFloat(p, 'f', -1, 64)
}

// fullEpochs returns the epochs of the full-pool run: the step budget of
// the runs on the first prune ratio's kept sets, E·kept/N epochs of the
// whole pool, at least one.
func (r *run) fullEpochs(kept int) int {
	n := r.pool.Len()
	return max(1, int(math.Round(float64(r.c.Train.Epochs)*float64(kept)/float64(n))))
}

// trainAndEval trains run name (on kept[name], or the whole pool for
// "full") and evaluates it.
func (r *run) trainAndEval(ctx context.Context, st *stages, dir, name string, kept map[string][]int, s uint64) (*RunReport, error) {
	c := &r.c
	cfg := c.Train
	cfg.Data, cfg.Seed, cfg.Out = c.Data, s, filepath.Join(dir, "train_"+name)
	idx := kept[name]
	size := len(idx)
	if name == "full" {
		idx, size = nil, r.pool.Len()
		cfg.Epochs = r.fullEpochs(len(kept[runName(c.Scores[0], c.Prune[0])]))
	}
	ms, err := TrainRun(ctx, cfg, r.pool, r.test, idx, nil, r.o.Progress)
	if err != nil {
		return nil, errStage("train "+name, err)
	}
	if err := st.set("train_"+name, trainSeconds(ms)); err != nil {
		return nil, err
	}
	evalPath := filepath.Join(dir, "eval_"+name+".json")
	err = st.do("eval_"+name, evalPath, func() error {
		model, err := LoadModel(filepath.Join(cfg.Out, train.ModelFile), r.test)
		if err != nil {
			return err
		}
		e, err := Evaluate(model, r.test, r.evalIdx, r.norm, float32(c.Train.Eps), c.EvalSteps, c.APGDSteps, s, r.o.Progress)
		if err != nil {
			return err
		}
		return WriteJSON(evalPath, e)
	})
	if err != nil {
		return nil, err
	}
	var e EvalResult
	if _, err := readJSON(evalPath, &e); err != nil {
		return nil, err
	}
	r.logf("seed %d: %-16s %6d samples, %2d epochs: clean %.2f%%, PGD-%d %.2f%%, worst %.2f%% (train %.0f s)",
		s, name, size, cfg.Epochs, 100*e.Clean, c.EvalSteps, 100*e.PGD, 100*e.Worst, trainSeconds(ms))
	return &RunReport{Kept: size, Epochs: cfg.Epochs, TrainSeconds: trainSeconds(ms), Eval: e}, nil
}
