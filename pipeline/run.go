package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/configdiff"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/train"
)

// Options are the parts of a pipeline run that are not settings.
type Options struct {
	Stdout   io.Writer // one line per finished stage; nil discards them
	Progress io.Writer // progress bars; nil disables them
	// Pool and Test, if set, replace the sets opened from Config.Data
	// (tests pass sets built in memory); Test must be set with Pool. Base,
	// if set, replaces the set opened from Config.Base.
	Pool, Test, Base data.Dataset
	// OnlySeeds, if set, runs just these repetitions (0 ≤ s < Config.Seeds)
	// and writes no report, so that the repetitions of one run directory
	// can go to separate processes or machines; a final call without it
	// finds them finished and writes the report.
	OnlySeeds []int
	// Finished, if set, runs nothing: the report covers what has finished,
	// to read a run while its repetitions are still going or were given
	// up: the repetitions that have finished every stage whole, and of the
	// others the training runs already evaluated (paired comparisons use
	// the seeds that have both runs).
	Finished bool
}

// Files of a pipeline run directory (per seed, under seedN/).
const (
	ConfigFile = "config.json"
	SeedFile   = "seed_indices.npy" // int64 pool indices of the seed subset
	PTrueFile  = "seed_ptrue.npy"   // float32 seed-model true-class probability of every pool sample
	StagesFile = "stages.json"      // wall seconds of every finished stage
	ResultFile = "result.json"      // the SeedReport of a finished repetition
	scoreDir   = "score"            // the seed-subset training run
)

// run is one pipeline run in progress.
//
// The samples live in one index space, all: the base set's (none without
// Config.Base) followed by the pool's, so that pool sample i is all's
// nb+i. Embeddings, labels and the kNN search use it; selections and kept
// sets are pool indices.
type run struct {
	c       Config
	o       Options
	base    data.Dataset // the never-pruned real set; nil without Config.Base
	pool    data.Dataset
	test    data.Dataset
	all     data.Dataset // base then pool
	nb      int          // samples in the base set
	labels  []int        // of all
	evalIdx []int        // test samples of the evaluation
	valIdx  []int        // test samples of the trainings' validation, apart from evalIdx
	val     data.Dataset // those samples: the trainings' test set
	norm    attack.Norm
	truth   map[string][]float32       // Config.TrueScores' scores of the pool samples
	models  map[string]nn.FeatureModel // loaded weights files (loadModel)
	// recorded is the run's config.json: c, or the union with earlier
	// calls' settings (checkDir).
	recorded Config
	closers  []data.Dataset // the sets open opened, for close
}

// loadModel returns the model in a weights file for the experiment's
// images, read once per run: the scoring model embeds the samples and
// scores the pool from one load.
func (r *run) loadModel(path string) (nn.FeatureModel, error) {
	if m, ok := r.models[path]; ok {
		return m, nil
	}
	m, err := LoadModel(path, r.all)
	if err != nil {
		return nil, err
	}
	r.remember(path, m)
	return m, nil
}

// remember makes m what loadModel returns for path.
func (r *run) remember(path string, m nn.FeatureModel) {
	if r.models == nil {
		r.models = map[string]nn.FeatureModel{}
	}
	r.models[path] = m
}

// Run executes the experiment c: for every seed, the seed draw, the
// seed-subset adversarial training with recording, the scores, the
// embedding, the extrapolation, the selection, the trainings on the kept
// sets, on random sets of the same size and (with c.Full) on the whole
// pool, and their evaluation; then the report. Every stage writes its
// result to c.Out; a stage whose result is there already is skipped and a
// training cut short is resumed, so Run can be called again on the same
// directory to finish a run. The same work split into jobs that can run
// at once in separate processes is Prepare, then RunArm for every
// ArmJobs entry; Run afterwards finds every stage done and only
// assembles the report.
func Run(ctx context.Context, c Config, o Options) (*Report, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if o.OnlySeeds != nil && o.Finished {
		return nil, train.FieldErrorf("OnlySeeds", "runs repetitions and {Finished} runs none: give one of them")
	}
	for _, s := range o.OnlySeeds {
		if err := checkRepetition(c, s); err != nil {
			return nil, err
		}
	}
	r, err := open(c, o, claimDir)
	if err != nil {
		return nil, err
	}
	defer r.close()
	rep := &Report{Config: r.recorded}
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
				// A saved result holds the arms of the calls that wrote it;
				// runs evaluated by other calls since join it.
				more, err := r.partial(seed)
				if err != nil {
					return nil, err
				}
				if more != nil {
					for name, rr := range more.Runs {
						if _, ok := sr.Runs[name]; !ok {
							sr.Runs[name] = rr
						}
					}
				}
				rep.Seeds = append(rep.Seeds, *sr)
				continue
			}
			if !done {
				sr, err := r.partial(seed)
				if err != nil {
					return nil, err
				}
				if sr == nil {
					r.logf("seed %d: not finished, nothing evaluated yet", seed)
					continue
				}
				r.logf("seed %d: not finished; its %d evaluated runs join the report", seed, len(sr.Runs))
				rep.Seeds = append(rep.Seeds, *sr)
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
		return nil, train.FieldErrorf("Out", "%s: no repetition has evaluated a run yet", c.Out)
	}
	rep.summarize()
	if err := rep.write(c.Out); err != nil {
		return nil, err
	}
	return rep, nil
}

// dirMode is what opening a run may do to its directory's config.json.
type dirMode int

const (
	// claimDir records the settings there, or checks them against the
	// recorded run and records the union (checkDir).
	claimDir dirMode = iota
	// claimedDir requires them recorded and writes nothing: arm jobs run
	// beside each other and must not rewrite a shared file.
	claimedDir
)

// open opens the data of c, checks the run directory (and records c
// there, by mode) and returns the run, ready for its repetitions; its
// close releases the data.
func open(c Config, o Options, mode dirMode) (r *run, err error) {
	r = &run{c: c, o: o}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	pool, test := o.Pool, o.Test
	if pool == nil {
		if pool, test, err = data.Open(c.Data); err != nil {
			return r, train.WrapField("Data", err, "")
		}
		r.closers = append(r.closers, pool, test)
	}
	base := o.Base
	if c.Base != "" && base == nil {
		btrain, btest, err := data.Open(c.Base)
		if err != nil {
			return r, train.WrapField("Base", err, "")
		}
		r.closers = append(r.closers, btrain, btest)
		base = btrain
		if btest != nil {
			test = btest
		}
	}
	if test == nil {
		return r, train.FieldErrorf("Data", "%s has no test split to evaluate on", c.Data)
	}
	splitN := pool.Len()
	var poolIdx []int
	if c.PoolSize > 0 {
		if c.PoolSize > pool.Len() {
			return r, train.FieldErrorf("PoolSize", "%d: the training split of %s has %d samples", c.PoolSize, c.Data, pool.Len())
		}
		poolIdx = DrawSeed(pool.Len(), float64(c.PoolSize)/float64(pool.Len()), 0)
		if pool, err = data.Subset(pool, poolIdx); err != nil {
			return r, err
		}
	}
	r.base, r.pool, r.test, r.all = base, pool, test, pool
	if base != nil {
		if err := data.SameKind(base, pool); err != nil {
			return r, train.FieldErrorf("Data", "%s: %v (those of {Base} %s)", c.Data, err, c.Base)
		}
		if r.all, err = data.Concat(base, pool); err != nil {
			return r, err
		}
		r.nb = base.Len()
	}
	if err := data.SameKind(pool, test); err != nil {
		return r, train.WrapField("Data", err, "%s: its test set", c.Data)
	}
	r.labels = make([]int, r.all.Len())
	// The run directory is claimed (c recorded, or checked against the
	// recorded run) only once the true scores are read, so that a wrong
	// file is neither recorded nor costs a seed run.
	record, err := checkDir(c)
	if err != nil {
		return r, err
	}
	if mode == claimedDir && record != nil {
		return r, train.FieldErrorf("Out", "%s: %s does not record these settings; prepare the repetition first (Prepare or Claim)",
			c.Out, ConfigFile)
	}
	if !o.Finished && mode == claimDir {
		if r.truth, err = readTrueScores(c.TrueScores, pool.Len(), poolIdx, splitN, r.nb); err != nil {
			return r, err
		}
	}
	if err := saveClaim(c, record); err != nil {
		return r, err
	}
	for i := range r.labels {
		r.labels[i] = r.all.Label(i)
	}
	r.norm = c.Train.Norm
	r.evalIdx = r.evalSlice()
	if r.val, err = data.Subset(test, r.valIdx); err != nil {
		return r, err
	}
	if record != nil {
		r.recorded = *record
	} else if _, err := readJSON(filepath.Join(c.Out, ConfigFile), &r.recorded); err != nil {
		return r, err
	}
	return r, nil
}

// close releases the data sets the run opened.
func (r *run) close() {
	for _, d := range r.closers {
		if d != nil {
			data.Close(d)
		}
	}
	r.closers = nil
}

// Claim records the settings c in the run directory c.Out, or checks
// them against the run recorded there and records the union, as Run does
// first; it opens no data. Call it once before jobs that share the
// directory start (Prepare, RunArm), so that none of them has config.json
// to write.
func Claim(c Config) error {
	if err := c.Check(); err != nil {
		return err
	}
	record, err := checkDir(c)
	if err != nil {
		return err
	}
	return saveClaim(c, record)
}

// saveClaim creates the run directory and writes record (checkDir's) to
// its config.json, if there is one to write.
func saveClaim(c Config, record *Config) error {
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	if record == nil {
		return nil
	}
	return WriteJSON(filepath.Join(c.Out, ConfigFile), record)
}

// checkRepetition checks that s is a repetition of c.
func checkRepetition(c Config, s int) error {
	if s < 0 || s >= c.Seeds {
		return train.FieldErrorf("OnlySeeds", "repetition %d is not among the %d of {Seeds}", s, c.Seeds)
	}
	return nil
}

// checkDir checks that the run in directory c.Out, if there is one, has
// the settings of c up to what may be added to a run, since it shares the
// run's scoring stage: scores, selection rules, prune ratios, seeds, the
// full-pool and base-only references, measured embeddings and true
// scores. It returns the config to record there (the union of both), or
// nil if the recorded one stands as it is.
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
		return nil, train.FieldErrorf("Out", "%s holds a run with other settings (%s differs); choose another directory", c.Out, f)
	}
	for m, p := range stored.TrueScores {
		if q, ok := c.TrueScores[m]; ok && q != p {
			return nil, train.FieldErrorf("Out", "%s holds runs pruned by {TrueScores} %s=%s, not %s; choose another directory", c.Out, m, p, q)
		}
	}
	merged := stored
	merged.Scores = union(stored.Scores, c.Scores)
	merged.Select = union(stored.Select, c.Select)
	merged.Embed = union(stored.Embed, c.Embed)
	merged.Prune = union(stored.Prune, c.Prune)
	merged.Seeds = max(stored.Seeds, c.Seeds)
	merged.Full, merged.BaseOnly = stored.Full || c.Full, stored.BaseOnly || c.BaseOnly
	if len(c.TrueScores) > 0 {
		merged.TrueScores = map[string]string{}
		maps.Copy(merged.TrueScores, stored.TrueScores)
		maps.Copy(merged.TrueScores, c.TrueScores)
	}
	if reflect.DeepEqual(merged, stored) {
		return nil, nil
	}
	return &merged, nil
}

// union returns a followed by the elements of b not in a.
func union[T comparable](a, b []T) []T {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// configDiff names the first setting in which a and b differ, or "",
// leaving out what checkDir lets a run add, the thread count (which may
// change between calls) and the directory (which may have been moved).
func configDiff(a, b Config) string {
	for _, c := range []*Config{&a, &b} {
		c.Train.Threads, c.Out, c.Train.Out, c.TrueScores = 0, "", "", nil
		c.Scores, c.Select, c.Prune, c.Seeds, c.Full, c.BaseOnly = nil, nil, nil, 0, false, false
		c.Embed = c.Embed[:min(1, len(c.Embed))]
	}
	return configdiff.First(a, b)
}

// stages is the bookkeeping of one seed directory: the wall seconds and
// the peak resident memory (MiB) of every finished stage, saved after
// each.
type stages struct {
	path    string
	Seconds map[string]float64 `json:"seconds"`
	PeakMiB map[string]float64 `json:"peak_mib,omitempty"`
}

func loadStages(dir string) (*stages, error) {
	st := &stages{path: filepath.Join(dir, StagesFile), Seconds: map[string]float64{}, PeakMiB: map[string]float64{}}
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
	resetPeak()
	start := time.Now()
	if err := f(); err != nil {
		return errStage(name, err)
	}
	st.Seconds[name] = time.Since(start).Seconds()
	st.PeakMiB[name] = peakMiB()
	resetPeak()
	return WriteJSON(st.path, st)
}

// produce runs stage name unless it finished in an earlier call (do) and
// returns its result: what compute returned, persisted by save (results
// are computed in memory and persisted after, never read back by the
// process that made them), or for a stage done before, what load reads.
func produce[T any](st *stages, name, path string, compute func() (T, error), save func(T) error, load func() (T, error)) (T, error) {
	var out T
	made := false
	err := st.do(name, path, func() error {
		v, err := compute()
		if err != nil {
			return err
		}
		out, made = v, true
		return save(v)
	})
	if err != nil || made {
		return out, err
	}
	return load()
}

// produceVector is produce for a float32 vector kept as a .npy file.
func produceVector(st *stages, name, path string, compute func() ([]float32, error)) ([]float32, error) {
	return produce(st, name, path, compute,
		func(v []float32) error { return WriteVector(path, v) },
		func() ([]float32, error) { return ReadVector(path) })
}

// set records a stage's time measured elsewhere (a training run's, across
// resumes), and the peak memory since the last stage ended. A time
// recorded already is left as it is, and the file is not rewritten.
func (st *stages) set(name string, sec float64) error {
	_, peak := st.PeakMiB[name]
	if old, ok := st.Seconds[name]; ok && peak && old == sec {
		resetPeak()
		return nil
	}
	st.PeakMiB[name] = peakMiB()
	st.Seconds[name] = sec
	resetPeak()
	return WriteJSON(st.path, st)
}

// armStagesFile names the stage file of arm job name in a seed
// directory. An arm job records its train_ and eval_ stages there, not
// in stages.json, so that the arm jobs of one repetition never write one
// file; the repetition's next pass (Run) merges the file into
// stages.json and removes it.
func armStagesFile(name string) string { return "stages_" + name + ".json" }

// armStages returns the stage bookkeeping of arm job name in the seed
// directory dir: what stages.json and the job's own file record of its
// stages. It saves to the job's own file only.
func armStages(dir, name string) (*stages, error) {
	seed, err := loadStages(dir)
	if err != nil {
		return nil, err
	}
	st := &stages{path: filepath.Join(dir, armStagesFile(name)), Seconds: map[string]float64{}, PeakMiB: map[string]float64{}}
	for _, k := range []string{"train_" + name, "eval_" + name} {
		if v, ok := seed.Seconds[k]; ok {
			st.Seconds[k] = v
		}
		if v, ok := seed.PeakMiB[k]; ok {
			st.PeakMiB[k] = v
		}
	}
	if _, err := readJSON(st.path, st); err != nil {
		return nil, err
	}
	return st, nil
}

// absorb adds the stages that arm jobs recorded in their own files in
// dir (armStagesFile) to st. With commit, it then saves st and removes
// those files; a pass cut short between the two finds them again and
// adds the same times.
func (st *stages) absorb(dir string, commit bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, "stages_") || !strings.HasSuffix(n, ".json") {
			continue
		}
		path := filepath.Join(dir, n)
		var arm stages
		if _, err := readJSON(path, &arm); err != nil {
			return err
		}
		maps.Copy(st.Seconds, arm.Seconds)
		maps.Copy(st.PeakMiB, arm.PeakMiB)
		files = append(files, path)
	}
	if !commit || len(files) == 0 {
		return nil
	}
	if err := WriteJSON(st.path, st); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
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
	if err := st.absorb(dir, false); err != nil {
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
func seedDir(out string, s uint64) string { return filepath.Join(out, seedName(s)) }

// seedName is the name of seedDir in the run directory.
func seedName(s uint64) string { return "seed" + strconv.FormatUint(s, 10) }

// readTrueScores reads each file of files, the scores of the n pool
// samples or, when the pool is the subset poolIdx of a training split of
// splitN samples, of the whole split (a full-set run's scores.npy as it
// is), of which the pool's are taken; with a base set of nb samples, a
// file of nb+n scores (bulwark score --base --seed-frac 1: the base set's,
// then the pool's) gives its last n.
func readTrueScores(files map[string]string, n int, poolIdx []int, splitN, nb int) (map[string][]float32, error) {
	out := map[string][]float32{}
	for m, path := range files {
		v, err := ReadVector(path)
		if err != nil {
			return nil, train.WrapField("TrueScores", err, "")
		}
		switch {
		case len(v) == n:
			out[m] = v
		case nb > 0 && len(v) == nb+n:
			out[m] = v[nb:]
		case poolIdx != nil && len(v) == splitN:
			out[m] = prune.Gather(v, poolIdx)
		case poolIdx != nil:
			return nil, train.FieldErrorf("TrueScores", "%s: %d scores, but the pool has %d samples and the training split %d", path, len(v), n, splitN)
		default:
			return nil, train.FieldErrorf("TrueScores", "%s: %d scores, but the pool has %d samples", path, len(v), n)
		}
	}
	return out, nil
}
