package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/kernels"
)

// AttackNames lists what --attack accepts, as bulwark attack does; "all"
// is the four in order.
var AttackNames = cliflags.AttackNames

// EvaluateJob is `bulwark-cluster evaluate`: the flags of bulwark attack,
// and how to shard.
type EvaluateJob struct {
	Model      Model
	Attack     string
	Version    string // autoattack only: not sharded
	Attacks    string // autoattack only: not sharded
	Norm       string
	Eps, Alpha float64
	Steps      int
	Restarts   int
	N          int // attack the first N samples (0 = all)
	Seed       uint64
	SaveAdv    string
	ShardSize  int // samples per shard, rounded up to a multiple of Batch
	Run        Run
	Total      int   // samples evaluated, set by the launcher
	Shape      []int // C, H, W of one image, set by the launcher
}

// build returns fresh attacks of the --attack list, in order, as bulwark
// attack builds them. Every shard builds its own: an attack's random
// starts come from its generator, seeded by --seed.
func (j *EvaluateJob) build() ([]attack.Attack, error) {
	norm, err := attack.ParseNorm(j.Norm)
	if err != nil {
		return nil, err
	}
	return cliflags.BuildAttacks(j.Attack, norm, float32(j.Eps), float32(j.Alpha), j.Steps, j.Restarts, j.Seed)
}

// ShardResult is one shard's counts: attack.Result's, with the times in
// nanoseconds.
type ShardResult struct {
	Shard   Shard
	N       int
	Clean   int
	LossSum float64
	Names   []string
	Robust  []int
	Worst   int
	TimeNs  []int64
	Adv     string // the shard's worst-case inputs (--save-adv), or ""
}

func init() {
	register.DoFn3x1[context.Context, Shard, func(ShardResult), error](&evalShardFn{})
	register.DoFn3x1[context.Context, int, func(*ShardResult) bool, error](&mergeFn{})
	register.Emitter1[ShardResult]()
	register.Iter1[ShardResult]()
}

// resultFile names the file of shard s's counts.
func (r *Run) resultFile(s Shard) string {
	return join(r.Work, fmt.Sprintf("shard-%05d.json", s.Index))
}

// evalShardFn evaluates one shard of the test samples under the attacks,
// with the model loaded once per worker.
type evalShardFn struct {
	Job EvaluateJob
	w   worker
}

func (f *evalShardFn) Teardown() { f.w.close() }

func (f *evalShardFn) ProcessElement(ctx context.Context, s Shard, emit func(ShardResult)) error {
	j := &f.Job
	rp := j.Run.resultFile(s)
	if ok, _ := exists(ctx, rp); ok {
		if b, err := readAll(ctx, rp); err == nil {
			var r ShardResult
			if json.Unmarshal(b, &r) == nil && r.Shard == s {
				emit(r)
				return nil
			}
		}
	}
	var out ShardResult
	err := j.Run.do(ctx, s, "--data "+j.Model.Data, func() error {
		l, err := f.w.get(ctx, &j.Model, "evaluate")
		if err != nil {
			return err
		}
		attacks, err := j.build()
		if err != nil {
			return err
		}
		o := attack.EvalOptions{BatchSize: j.Model.Batch, Indices: make([]int, s.Hi-s.Lo)}
		for i := range o.Indices {
			o.Indices[i] = s.Lo + i
		}
		var adv cliflags.WorstInputs
		if j.SaveAdv != "" {
			chw := j.Shape[0] * j.Shape[1] * j.Shape[2]
			adv.X = make([]float32, len(o.Indices)*chw)
			o.OnBatch = adv.Add
		}
		res, err := attack.Evaluate(l.model, l.ds, o, attacks...)
		if err != nil {
			return err
		}
		out = ShardResult{Shard: s, N: res.N, Clean: res.Clean, LossSum: res.LossSum, Names: res.Names, Robust: res.Robust, Worst: res.Worst}
		for _, t := range res.Time {
			out.TimeNs = append(out.TimeNs, int64(t))
		}
		if j.SaveAdv != "" {
			out.Adv = j.Run.partFile(s)
			if err := writeNpyF32(ctx, out.Adv, append([]int{len(o.Indices)}, j.Shape...), adv.X); err != nil {
				return err
			}
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return writeAtomic(ctx, rp, func(w io.Writer) error { _, err := w.Write(b); return err })
	})
	if err != nil {
		return err
	}
	emit(out)
	return nil
}

// mergeFn adds up the shards' counts into Work/result.json and, with
// --save-adv, concatenates their inputs.
type mergeFn struct {
	Job    EvaluateJob
	Shards int
}

func (f *mergeFn) ProcessElement(ctx context.Context, _ int, parts func(*ShardResult) bool) error {
	j := &f.Job
	var all []ShardResult
	var r ShardResult
	for parts(&r) {
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b ShardResult) int { return a.Shard.Index - b.Shard.Index })
	all = slices.CompactFunc(all, func(a, b ShardResult) bool { return a.Shard.Index == b.Shard.Index })
	if len(all) != f.Shards {
		return fmt.Errorf("evaluate: %d of %d shards finished", len(all), f.Shards)
	}
	m := merge(all)
	if j.SaveAdv != "" {
		var ps []Part
		for _, r := range all {
			ps = append(ps, Part{Shard: r.Shard, Path: r.Adv})
		}
		c := concatFn{Out: j.SaveAdv, Shards: f.Shards, Rows: j.Total, Shape: j.Shape}
		k := 0
		if err := c.ProcessElement(ctx, 0, func(p *Part) bool {
			if k == len(ps) {
				return false
			}
			*p, k = ps[k], k+1
			return true
		}); err != nil {
			return err
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeAtomic(ctx, join(j.Run.Work, "result.json"), func(w io.Writer) error { _, err := w.Write(b); return err })
}

// merge adds up shard counts in shard order.
func merge(all []ShardResult) ShardResult {
	var m ShardResult
	for _, r := range all {
		if m.Names == nil {
			m.Names, m.Robust, m.TimeNs = r.Names, make([]int, len(r.Robust)), make([]int64, len(r.TimeNs))
		}
		m.N += r.N
		m.Clean += r.Clean
		m.LossSum += r.LossSum
		m.Worst += r.Worst
		for a := range r.Robust {
			m.Robust[a] += r.Robust[a]
			m.TimeNs[a] += r.TimeNs[a]
		}
	}
	return m
}

// Result returns the merged counts as bulwark's attack.Result, whose
// String is bulwark attack's table.
func (r ShardResult) Result() attack.Result {
	res := attack.Result{N: r.N, Clean: r.Clean, LossSum: r.LossSum, Names: r.Names, Robust: r.Robust, Worst: r.Worst}
	for _, t := range r.TimeNs {
		res.Time = append(res.Time, time.Duration(t))
	}
	return res
}

// Evaluate runs the evaluate pipeline: the test samples cut into shards
// of whole batches, each evaluated under the attacks by a worker that
// loads the model once; the counts are added up into bulwark attack's
// table. The attack times are summed over the workers.
func Evaluate(ctx context.Context, j EvaluateJob, stdout io.Writer) error {
	norm, err := attack.ParseNorm(j.Norm)
	switch {
	case err != nil:
		return fmt.Errorf("evaluate: --norm: %v", err)
	case j.Eps == 0:
		return errors.New("evaluate: --eps is missing, e.g. --eps 8/255")
	case norm == attack.LInf && j.Eps > 1:
		return fmt.Errorf("evaluate: --eps: %g is more than the whole [0,1] range", j.Eps)
	case j.Steps < 0:
		return fmt.Errorf("evaluate: --steps: %d, want at least 1 (or 0 for the default)", j.Steps)
	case j.Restarts < 1:
		return fmt.Errorf("evaluate: --restarts: %d, want at least 1", j.Restarts)
	case j.N < 0:
		return fmt.Errorf("evaluate: --n: %d, want at least 0", j.N)
	case strings.EqualFold(strings.TrimSpace(j.Attack), "autoattack"):
		return errors.New("evaluate: --attack autoattack is not sharded (its attacks run as a cascade over the whole set); run bulwark attack")
	case j.Version != "" || j.Attacks != "":
		return errors.New("evaluate: --version and --attacks go with --attack autoattack")
	}
	if err := j.Model.check("evaluate"); err != nil {
		return err
	}
	if _, err := j.build(); err != nil {
		return fmt.Errorf("evaluate: --attack: %w", err)
	}
	l, err := j.Model.load(ctx, "evaluate")
	if err != nil {
		return err
	}
	j.Total = l.ds.Len()
	c, h, w := l.ds.Shape()
	j.Shape = []int{c, h, w}
	l.close()
	if j.N > 0 && j.N < j.Total {
		j.Total = j.N
	}
	if j.Run.Work == "" && j.SaveAdv != "" {
		j.Run.Work = j.SaveAdv + ".parts"
	} else if j.Run.Work == "" { // on one machine only: a cluster needs --work on shared storage
		d, err := os.MkdirTemp("", "bulwark-cluster-evaluate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		j.Run.Work = d
	}
	threads := j.Model.Threads
	if threads == 0 {
		threads = kernels.Threads()
	}
	fmt.Fprintf(stdout, "bulwark-cluster evaluate: %s on %s (%d samples), %v ε=%.4g, %d threads a worker\n",
		j.Model.Weights, j.Model.Data, j.Total, norm, j.Eps, threads)
	start := time.Now()
	shards := planShards(j.Total, j.ShardSize, j.Model.Batch)
	j.Run.reset(ctx, shards)
	p, s := beam.NewPipelineWithRoot()
	parts := beam.ParDo(s, &evalShardFn{Job: j}, beam.Reshuffle(s, beam.CreateList(s, shards)))
	beam.ParDo0(s, &mergeFn{Job: j, Shards: len(shards)}, beam.GroupByKey(s, beam.AddFixedKey(s, parts)))
	if err := execute(ctx, p); err != nil {
		return fmt.Errorf("evaluate: %w", j.Run.explain(ctx, shards, err))
	}
	rp := join(j.Run.Work, "result.json")
	b, err := readAll(ctx, rp)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	var m ShardResult
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("evaluate: %s: %w", rp, err)
	}
	fmt.Fprint(stdout, m.Result())
	fmt.Fprintf(stdout, "wall time %.1fs, %d shards\n", time.Since(start).Seconds(), len(shards))
	if j.SaveAdv != "" {
		fmt.Fprintf(stdout, "wrote %s (%v float32 worst-case adversarial inputs)\n", j.SaveAdv, append([]int{j.Total}, j.Shape...))
	}
	_ = remove(ctx, rp)
	j.Run.cleanup(ctx, shards, func(s Shard) []string { return []string{j.Run.partFile(s), j.Run.resultFile(s)} })
	return nil
}
