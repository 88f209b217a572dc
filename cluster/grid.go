package cluster

import (
	"context"
	"encoding/json"
	"errors"
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
// jobs: each repetition's preparation, then its arm jobs, then the
// report.
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

// The grid's jobs are numbered, for their markers and --inject-fault:
// job s (0 ≤ s < Seeds) prepares repetition s (pipeline.Prepare); job
// Seeds + s·A + a is the a-th of the A arm jobs of repetition s
// (pipeline.ArmJobs); reportJob writes the report.
const reportJob = 1 << 20

// gridJob is one job of the grid, by its number.
type gridJob struct {
	index, rep int
	arm        *pipeline.ArmJob // nil for the preparation
}

// jobs lists the jobs of the repetitions reps, in their numbers' order.
func jobs(c pipeline.Config, reps []int) []gridJob {
	arms := pipeline.ArmJobs(c)
	var out []gridJob
	for _, s := range reps {
		out = append(out, gridJob{index: s, rep: s})
	}
	for _, s := range reps {
		for a := range arms {
			out = append(out, gridJob{index: c.Seeds + s*len(arms) + a, rep: s, arm: &arms[a]})
		}
	}
	return out
}

// jobAt returns job number i of the grid of c.
func jobAt(c pipeline.Config, i int) (gridJob, error) {
	if i >= 0 && i < c.Seeds {
		return gridJob{index: i, rep: i}, nil
	}
	arms := pipeline.ArmJobs(c)
	k := i - c.Seeds
	if k < 0 || k >= c.Seeds*len(arms) {
		return gridJob{}, fmt.Errorf("grid: no job %d", i)
	}
	return gridJob{index: i, rep: k / len(arms), arm: &arms[k%len(arms)]}, nil
}

func (g gridJob) name(c pipeline.Config) string {
	seed := c.Train.Seed + uint64(g.rep)
	if g.arm == nil {
		return fmt.Sprintf("job %d (seed %d: preparation)", g.index, seed)
	}
	return fmt.Sprintf("job %d (seed %d: arm %s)", g.index, seed, g.arm.Name)
}

func init() {
	register.DoFn4x1[context.Context, int, func(int), func(int), error](&gridJobFn{})
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
	pulled        []string // the files copied in, relative to local
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
			w.pulled = append(w.pulled, rel)
		}
	}
	w.since = time.Now()
	return w, nil
}

// push uploads the files a job changed back to the run directory,
// removes there the files the job removed (the arm jobs' stage files
// the report merges), and removes the local copy.
func (w *workDir) push(ctx context.Context) error {
	if w.local == w.remote {
		return nil
	}
	defer w.discard()
	base := strings.TrimSuffix(w.remote, "/") + "/"
	err := filepath.WalkDir(w.local, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || info.ModTime().Before(w.since) || strings.Contains(d.Name(), ".tmp-") {
			return err
		}
		rel, err := filepath.Rel(w.local, p)
		if err != nil {
			return err
		}
		return upload(ctx, p, base+filepath.ToSlash(rel))
	})
	if err != nil {
		return err
	}
	for _, rel := range w.pulled {
		if _, err := os.Stat(filepath.Join(w.local, filepath.FromSlash(rel))); errors.Is(err, os.ErrNotExist) {
			if err := remove(ctx, base+rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// discard removes the local copy of a remote run directory.
func (w *workDir) discard() {
	if w.local != w.remote {
		os.RemoveAll(w.local)
	}
}

// gridJobFn runs one job of the grid with bulwark's library code: a
// repetition's preparation, which then emits the arm jobs that need it
// as next, or one arm job. Every stage writes its result into the run
// directory and is skipped when that is there, so a retried job resumes
// where the failed one stopped and a finished one is not redone. done
// gets every finished job.
type gridJobFn struct{ Job GridJob }

func (f *gridJobFn) ProcessElement(ctx context.Context, i int, next, done func(int)) error {
	c, err := f.Job.config()
	if err != nil {
		return err
	}
	g, err := jobAt(c, i)
	if err != nil {
		return err
	}
	sh := Shard{Index: i, Lo: i, Hi: i + 1, Name: g.name(c)}
	err = f.Job.Run.do(ctx, sh, "--out "+c.Out, func() error {
		if g.arm == nil {
			return inWork(ctx, c, pipeline.PrepareFiles(c, g.rep), "", func(c pipeline.Config, o pipeline.Options) error {
				return pipeline.Prepare(ctx, c, o, g.rep)
			})
		}
		return inWork(ctx, c, pipeline.ArmFiles(c, g.rep, g.arm.Name), "", func(c pipeline.Config, o pipeline.Options) error {
			_, err := pipeline.RunArm(ctx, c, o, g.rep, g.arm.Name)
			return err
		})
	})
	if err != nil {
		return err
	}
	if g.arm == nil {
		for _, a := range jobs(c, []int{g.rep}) {
			if a.arm != nil && a.arm.AfterPrepare {
				next(a.index)
			}
		}
	}
	done(i)
	return nil
}

// inWork runs job on c in a work directory holding the files under
// prefixes (openWork), with the data specs staged, and pushes back what
// it wrote, also when it fails: every file a stage writes is complete,
// so a retry elsewhere resumes from it.
func inWork(ctx context.Context, c pipeline.Config, prefixes []string, logPrefix string, job func(pipeline.Config, pipeline.Options) error) error {
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
	w, err := openWork(ctx, c.Out, prefixes...)
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
	err = job(c, pipeline.Options{Stdout: prefixWriter("bulwark-cluster: " + logPrefix)})
	if perr := w.push(ctx); err == nil {
		err = perr
	}
	return err
}

// reportFn writes the report from the finished repetitions, once every
// job has finished: pipeline.Run finds their stages done, merges the arm
// jobs' stage files and only reads the rest.
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
		return inWork(ctx, c, []string{""}, "report: ", func(c pipeline.Config, o pipeline.Options) error {
			o.Finished = f.Job.Finished
			_, err := pipeline.Run(ctx, c, o)
			return err
		})
	})
}

// Grid runs the grid pipeline, in bulwark's library code: first every
// repetition's preparation (scoring run, embeddings, extrapolation,
// selections), and with a base set the references beside them; then the
// arm jobs the preparations emit (one training and its evaluation each),
// reshuffled so that the runner spreads them over its workers; then the
// report, assembled from the finished runs into --out exactly as bulwark
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
	j.Run.FaultAfter = true
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
	} else if err := claim(ctx, c); err != nil {
		return err
	}
	all := jobs(c, seeds)
	var first []int // the preparations, and the arm jobs that need none
	shards := make([]Shard, 0, len(all)+1)
	for _, g := range all {
		if g.arm == nil || !g.arm.AfterPrepare {
			first = append(first, g.index)
		}
		shards = append(shards, Shard{Index: g.index})
	}
	shards = append(shards, Shard{Index: reportJob})
	j.Run.reset(ctx, shards)
	fmt.Fprintf(stdout, "bulwark-cluster grid: %s, seed %g%%, scores %s, prune %v, %d seed(s) as %d preparation and %d arm jobs, run directory %s\n",
		c.Data, 100*c.SeedFrac, strings.Join(c.Scores, ","), c.Prune, c.Seeds, len(seeds), len(all)-len(seeds), c.Out)
	start := time.Now()
	p, s := beam.NewPipelineWithRoot()
	done := []beam.PCollection{beam.CreateList(s, []int{-1})} // the report's input when no job runs
	if len(first) > 0 {
		next, done1 := beam.ParDo2(s, &gridJobFn{Job: j}, beam.Reshuffle(s, beam.CreateList(s, first)))
		_, done2 := beam.ParDo2(s, &gridJobFn{Job: j}, beam.Reshuffle(s, next))
		done = []beam.PCollection{done1, done2}
	}
	if j.OnlySeeds == nil {
		beam.ParDo0(s, &reportFn{Job: j}, beam.GroupByKey(s, beam.AddFixedKey(s, beam.Flatten(s, done...))))
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
	defer w.discard()
	rep, err := pipeline.ReadReport(w.local)
	if err != nil {
		return fmt.Errorf("grid: %w", err)
	}
	fmt.Fprintln(stdout)
	rep.Table(stdout)
	fmt.Fprintf(stdout, "\nwrote %s (report.md, report.json, plots) in %.0fs\n", c.Out, time.Since(start).Seconds())
	return nil
}

// claim records c in the run directory before any job starts
// (pipeline.Claim), so that the jobs, which run at once, find config.json
// written and never rewrite it; settings that clash with the recorded
// run fail here, on the launcher.
func claim(ctx context.Context, c pipeline.Config) error {
	w, err := openWork(ctx, c.Out, pipeline.ConfigFile)
	if err != nil {
		return err
	}
	c.Out, c.Train.Out = w.local, w.local
	if err := pipeline.Claim(c); err != nil {
		w.discard()
		return err
	}
	return w.push(ctx)
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
