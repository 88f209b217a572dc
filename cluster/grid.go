package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/train"
)

// GridJob is `bulwark-cluster grid`: the experiment of bulwark
// prune-pipeline (its Config, from the same flags) as a collection of
// jobs, one per repetition, then the report.
type GridJob struct {
	// Config is the pipeline.Config as JSON, as the run directory records
	// it: a DoFn's fields travel to the workers as JSON anyway.
	Config    string
	OnlySeeds []int // --only-seeds: run these repetitions and no report
	Finished  bool  // --finished: run nothing, write the report
	Run       Run
}

func (j *GridJob) config() (pipeline.Config, error) {
	var c pipeline.Config
	err := json.Unmarshal([]byte(j.Config), &c)
	return c, err
}

// reportJob is the report job's index among the grid's jobs, for its
// markers.
const reportJob = 1 << 20

func init() {
	register.DoFn3x1[context.Context, int, func(int), error](&seedJobFn{})
	register.DoFn3x1[context.Context, int, func(*int) bool, error](&reportFn{})
	register.Emitter1[int]()
	register.Iter1[int]()
}

// workDir is a run directory the library code can use: --out itself when
// it is local, else a local copy of the parts of it that a job reads,
// pulled before the job and pushed back after it.
type workDir struct {
	remote, local string
	since         time.Time
}

// open prepares the run directory out for a job that reads the files
// under the prefixes (relative to out; "" is all of it).
func openWork(ctx context.Context, out string, prefixes ...string) (*workDir, error) {
	w := &workDir{remote: out, local: out, since: time.Now()}
	if !isRemote(out) {
		return w, nil
	}
	d, err := os.MkdirTemp("", "bulwark-grid-")
	if err != nil {
		return nil, err
	}
	w.local = d
	fsys, err := openFS(ctx, out)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	base := strings.TrimSuffix(out, "/") + "/"
	seen := map[string]bool{}
	for _, pre := range prefixes {
		// One pattern per depth: file systems differ in whether * crosses
		// a / and whether ** exists. A run directory is 3 levels deep.
		var files []string
		for depth := range 5 {
			pat := base + pre + strings.Repeat("*/", depth) + "*"
			if pre != "" && !strings.HasSuffix(pre, "/") {
				if depth > 0 {
					break
				}
				pat = base + pre // a file
			}
			l, err := fsys.List(ctx, pat)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", pat, err)
			}
			files = append(files, l...)
		}
		for _, f := range files {
			if seen[f] {
				continue
			}
			seen[f] = true
			rel := strings.TrimPrefix(f, base)
			if strings.Contains(rel, ".tmp-") {
				continue
			}
			dst := filepath.Join(d, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			b, err := filesystem.Read(ctx, fsys, f)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", f, err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				return nil, err
			}
		}
	}
	w.since = time.Now()
	return w, nil
}

// push uploads the files a job changed back to the run directory, and
// removes the local copy.
func (w *workDir) push(ctx context.Context) error {
	if w.local == w.remote {
		return nil
	}
	defer os.RemoveAll(w.local)
	return filepath.WalkDir(w.local, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || info.ModTime().Before(w.since) {
			return err
		}
		rel, err := filepath.Rel(w.local, p)
		if err != nil {
			return err
		}
		return upload(ctx, p, strings.TrimSuffix(w.remote, "/")+"/"+filepath.ToSlash(rel))
	})
}

// seedJobFn runs one repetition of the experiment with bulwark's library
// code: pipeline.Run restricted to it. Every stage of a repetition writes
// its result into the run directory and is skipped when that is there,
// so a retried job resumes where the failed one stopped and a finished
// one is not redone.
type seedJobFn struct{ Job GridJob }

func (f *seedJobFn) ProcessElement(ctx context.Context, s int, emit func(int)) error {
	c, err := f.Job.config()
	if err != nil {
		return err
	}
	seed := c.Train.Seed + uint64(s)
	sh := Shard{Index: s, Lo: s, Hi: s + 1, Name: fmt.Sprintf("job %d (seed %d)", s, seed)}
	err = f.Job.Run.do(ctx, sh, "--out "+c.Out, func() error {
		return runGrid(ctx, c, fmt.Sprintf("seed%d/", seed), pipeline.Options{OnlySeeds: []int{s}}, "")
	})
	if err != nil {
		return err
	}
	emit(s)
	return nil
}

// runGrid calls pipeline.Run on c in a work directory holding config.json
// and the files under prefix.
func runGrid(ctx context.Context, c pipeline.Config, prefix string, o pipeline.Options, logPrefix string) error {
	var st stager
	defer st.Close()
	var err error
	if c.Data, err = st.Spec(ctx, c.Data); err != nil {
		return err
	}
	if c.Base != "" {
		if c.Base, err = st.Spec(ctx, c.Base); err != nil {
			return err
		}
	}
	w, err := openWork(ctx, c.Out, pipeline.ConfigFile, prefix)
	if err != nil {
		return err
	}
	c.Out, c.Train.Out = w.local, w.local
	// --threads holds for the whole job, as bulwark prune-pipeline sets
	// it: jobs sharing a process (prism) all set the same count, so the
	// trainings' set-and-restore of it cannot change another job's.
	if c.Train.Threads > 0 {
		kernels.SetThreads(c.Train.Threads)
	}
	o.Stdout = prefixWriter("bulwark-cluster: " + logPrefix)
	if _, err := pipeline.Run(ctx, c, o); err != nil {
		return err
	}
	return w.push(ctx)
}

// reportFn writes the report from the finished repetitions, once every
// job has finished: pipeline.Run finds their stages done and only reads
// them.
type reportFn struct{ Job GridJob }

func (f *reportFn) ProcessElement(ctx context.Context, _ int, done func(*int) bool) error {
	var s int
	for done(&s) {
	}
	c, err := f.Job.config()
	if err != nil {
		return err
	}
	sh := Shard{Index: reportJob, Lo: 0, Hi: c.Seeds, Name: "the report job"}
	return f.Job.Run.do(ctx, sh, "--out "+c.Out, func() error {
		return runGrid(ctx, c, "", pipeline.Options{Finished: f.Job.Finished}, "report: ")
	})
}

// Grid runs the grid pipeline: one job per repetition (scoring run,
// embeddings, extrapolation, selections, then every arm × ratio training
// and its evaluation, in bulwark's library code), then the report,
// assembled from the finished repetitions into --out exactly as bulwark
// prune-pipeline writes it.
func Grid(ctx context.Context, c pipeline.Config, j GridJob, stdout io.Writer) error {
	if err := c.Check(); err != nil {
		return err
	}
	if !j.Finished {
		if err := openable(ctx, c); err != nil {
			return err
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	j.Config = string(b)
	if j.Run.Work == "" {
		j.Run.Work = strings.TrimSuffix(c.Out, "/") + ".parts"
	}
	var seeds []int
	for s := range c.Seeds {
		if j.OnlySeeds == nil || contains(j.OnlySeeds, s) {
			seeds = append(seeds, s)
		}
	}
	for _, s := range j.OnlySeeds {
		if s < 0 || s >= c.Seeds {
			return fmt.Errorf("--only-seeds: repetition %d is not among the %d of --seeds", s, c.Seeds)
		}
	}
	if j.Finished {
		seeds = nil
	}
	shards := make([]Shard, 0, len(seeds)+1)
	for _, s := range seeds {
		shards = append(shards, Shard{Index: s})
	}
	shards = append(shards, Shard{Index: reportJob})
	j.Run.reset(ctx, shards)
	fmt.Fprintf(stdout, "bulwark-cluster grid: %s, seed %g%%, scores %s, prune %v, %d seed(s) as %d jobs, run directory %s\n",
		c.Data, 100*c.SeedFrac, strings.Join(c.Scores, ","), c.Prune, c.Seeds, len(seeds), c.Out)
	start := time.Now()
	p, s := beam.NewPipelineWithRoot()
	done := beam.CreateList(s, []int{-1}) // the report's input when no job runs
	if len(seeds) > 0 {
		done = beam.ParDo(s, &seedJobFn{Job: j}, beam.Reshuffle(s, beam.CreateList(s, seeds)))
	}
	if j.OnlySeeds == nil {
		beam.ParDo0(s, &reportFn{Job: j}, beam.GroupByKey(s, beam.AddFixedKey(s, done)))
	}
	if err := execute(ctx, p); err != nil {
		return fmt.Errorf("grid: %w", j.Run.explain(ctx, shards, err))
	}
	j.Run.cleanup(ctx, shards, nil)
	if j.OnlySeeds != nil {
		fmt.Fprintf(stdout, "repetition(s) %v done in %.0fs; run again without --only-seeds to write the report of all %d\n",
			j.OnlySeeds, time.Since(start).Seconds(), c.Seeds)
		return nil
	}
	w, err := openWork(ctx, c.Out, "report.json")
	if err != nil {
		return err
	}
	defer func() {
		if w.local != w.remote {
			os.RemoveAll(w.local)
		}
	}()
	rep, err := pipeline.ReadReport(w.local)
	if err != nil {
		return fmt.Errorf("grid: %w", err)
	}
	fmt.Fprintln(stdout)
	rep.Table(stdout)
	fmt.Fprintf(stdout, "\nwrote %s (report.md, report.json, plots) in %.0fs\n", c.Out, time.Since(start).Seconds())
	return nil
}

// openable opens the data of c on the launcher, so that a wrong spec or
// a missing file fails before any job starts (and is not retried).
func openable(ctx context.Context, c pipeline.Config) error {
	var st stager
	defer st.Close()
	for _, f := range []struct{ field, spec string }{{"Data", c.Data}, {"Base", c.Base}} {
		if f.spec == "" {
			continue
		}
		spec, err := st.Spec(ctx, f.spec)
		if err != nil {
			return train.WrapField(f.field, err, "")
		}
		tr, te, err := data.Open(spec)
		if err != nil {
			return train.WrapField(f.field, err, "")
		}
		data.Close(tr)
		if te != nil {
			data.Close(te)
		}
	}
	return nil
}

// prefixWriter writes each line it is given to the log, with a prefix:
// the pipeline's stage lines from a worker.
type prefixWriter string

func (p prefixWriter) Write(b []byte) (int, error) {
	log.Print(string(p) + strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func contains(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}
