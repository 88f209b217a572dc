package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// Model names a model and the data it runs on: the flags --weights,
// --arch, --data, --split, --width, --batch and --threads that bulwark
// embed, eval and attack share.
type Model struct {
	Weights, Arch, Data, Split string
	Width                      float64
	Batch, Threads             int
}

// check rejects what bulwark's commands reject before loading anything;
// errors name the command cmd and the flag.
func (m *Model) check(cmd string) error {
	if err := (*cliflags.Model)(m).Check(cmd); err != nil {
		return err
	}
	switch {
	case m.Weights == "":
		return fmt.Errorf("%s: --weights is missing", cmd)
	case m.Data == "":
		return fmt.Errorf("%s: --data is missing; want one of: %s", cmd, data.Specs)
	case m.Split != "test" && m.Split != "train":
		return fmt.Errorf("%s: --split: %q, want test or train", cmd, m.Split)
	case !(m.Width >= 0):
		return fmt.Errorf("%s: --width: %g is not a non-negative number", cmd, m.Width)
	}
	return nil
}

// loaded is a model with its data, staged and opened on one worker (or
// the launcher).
type loaded struct {
	model nn.FeatureModel
	ds    data.Dataset
	close func()
}

// load stages the weights and the data locally, opens the split and
// builds the model, as bulwark's commands do; it sets the kernel threads
// of --threads for the process.
func (m *Model) load(ctx context.Context, cmd string) (*loaded, error) {
	if err := m.check(cmd); err != nil {
		return nil, err
	}
	var st stager
	fail := func(err error) (*loaded, error) { st.Close(); return nil, err }
	wpath, err := st.Local(ctx, "--weights", m.Weights)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", cmd, err))
	}
	w, err := nn.ReadWeights(wpath)
	if err != nil {
		return fail(fmt.Errorf("%s: --weights: %w", cmd, err))
	}
	if m.Arch == "" && w.Arch == "" {
		return fail(fmt.Errorf("%s: --arch is missing and %s does not record one", cmd, m.Weights))
	}
	spec, err := st.Spec(ctx, m.Data)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", cmd, err))
	}
	trainSet, testSet, err := data.Open(spec)
	if err != nil {
		return fail(fmt.Errorf("%s: --data: %w", cmd, err))
	}
	closeData := func() {
		data.Close(trainSet)
		if testSet != nil {
			data.Close(testSet)
		}
		st.Close()
	}
	ds := trainSet
	if testSet != nil && m.Split == "test" {
		ds = testSet
	}
	if _, h, wd := ds.Shape(); h != wd {
		closeData()
		return nil, fmt.Errorf("%s: --data %s: images are %d×%d, want square ones", cmd, m.Data, h, wd)
	}
	o := pipeline.ImageOptions(ds)
	o.Arch, o.Width = m.Arch, m.Width
	model, err := w.Build(o)
	if err != nil {
		closeData()
		return nil, fmt.Errorf("%s: --weights %s: %w", cmd, m.Weights, err)
	}
	if m.Threads > 0 {
		kernels.SetThreads(m.Threads)
	}
	return &loaded{model: model, ds: ds, close: closeData}, nil
}

// worker holds what a DoFn loads once per worker: the first shard loads
// it (so that its errors name the shard and are retried), later shards
// reuse it.
type worker struct {
	mu  sync.Mutex
	got *loaded
}

func (w *worker) get(ctx context.Context, m *Model, cmd string) (*loaded, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.got != nil {
		return w.got, nil
	}
	l, err := m.load(ctx, cmd)
	if err != nil {
		return nil, err
	}
	w.got = l
	return l, nil
}

func (w *worker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.got != nil {
		w.got.close()
		w.got = nil
	}
}

// EmbedJob is `bulwark-cluster embed`: the flags of bulwark embed, and
// how to shard.
type EmbedJob struct {
	Model     Model
	Normalize bool
	Out       string
	ShardSize int // samples per shard, rounded up to a multiple of Batch
	Run       Run
	N         int // samples, set by the launcher
}

// Part is a finished shard: its file and the width of its rows.
type Part struct {
	Shard Shard
	Path  string
	Dim   int
}

func init() {
	register.DoFn3x1[context.Context, Shard, func(Part), error](&embedShardFn{})
	register.DoFn3x1[context.Context, int, func(*Part) bool, error](&concatFn{})
	register.Emitter1[Part]()
	register.Iter1[Part]()
}

// partFile names shard s's file.
func (r *Run) partFile(s Shard) string { return join(r.Work, fmt.Sprintf("shard-%05d.npy", s.Index)) }

// embedShardFn embeds the samples of one shard with the model, loaded
// once per worker, and writes them to the shard's file.
type embedShardFn struct {
	Job EmbedJob
	w   worker
}

func (f *embedShardFn) Teardown() { f.w.close() }

func (f *embedShardFn) ProcessElement(ctx context.Context, s Shard, emit func(Part)) error {
	j := &f.Job
	p := j.Run.partFile(s)
	if ok, _ := exists(ctx, p); ok { // done before this attempt: reuse
		shape, err := npyFileShape(ctx, p)
		if err == nil && len(shape) == 2 && shape[0] == s.Hi-s.Lo {
			emit(Part{Shard: s, Path: p, Dim: shape[1]})
			return nil
		}
	}
	var dim int
	err := j.Run.do(ctx, s, "--data "+j.Model.Data, func() error {
		l, err := f.w.get(ctx, &j.Model, "embed")
		if err != nil {
			return err
		}
		idx := make([]int, s.Hi-s.Lo)
		for i := range idx {
			idx[i] = s.Lo + i
		}
		emb, d, err := prune.Embed(l.model, l.ds, idx, prune.EmbedOptions{BatchSize: j.Model.Batch, Normalize: j.Normalize})
		if err != nil {
			return err
		}
		dim = d
		return writeNpyF32(ctx, p, []int{len(idx), d}, emb)
	})
	if err != nil {
		return err
	}
	emit(Part{Shard: s, Path: p, Dim: dim})
	return nil
}

// concatFn concatenates the row shards of a matrix, in order, into one
// .npy file written atomically: the output of embed (and of evaluate's
// --save-adv).
type concatFn struct {
	Out    string
	Shards int
	Rows   int
	Shape  []int // of one row (nil: Part.Dim)
}

// gatherParts collects the parts of a grouped shard output in shard order,
// one per shard (a retried shard may deliver its part twice), and fails,
// naming out, unless every one of the shards finished.
func gatherParts(parts func(*Part) bool, shards int, out string) ([]Part, error) {
	var all []Part
	var p Part
	for parts(&p) {
		all = append(all, p)
	}
	slices.SortFunc(all, func(a, b Part) int { return a.Shard.Index - b.Shard.Index })
	all = slices.CompactFunc(all, func(a, b Part) bool { return a.Shard.Index == b.Shard.Index })
	if len(all) != shards {
		return nil, fmt.Errorf("%s: %d of %d shards finished", out, len(all), shards)
	}
	return all, nil
}

func (f *concatFn) ProcessElement(ctx context.Context, _ int, parts func(*Part) bool) error {
	all, err := gatherParts(parts, f.Shards, f.Out)
	if err != nil {
		return err
	}
	row := f.Shape
	if row == nil {
		row = []int{all[0].Dim}
	}
	rowLen := 1
	for _, d := range row {
		rowLen *= d
	}
	for _, p := range all {
		if f.Shape == nil && p.Dim != all[0].Dim {
			return fmt.Errorf("%v: rows of %d values, %v has %d", p.Shard, p.Dim, all[0].Shard, all[0].Dim)
		}
	}
	return writeAtomic(ctx, f.Out, func(w io.Writer) error {
		if _, err := w.Write(data.NpyHeader[float32](append([]int{f.Rows}, row...))); err != nil {
			return err
		}
		for _, p := range all {
			v, err := readNpyF32(ctx, p.Path, p.Shard.Hi-p.Shard.Lo, rowLen)
			if err != nil {
				return fmt.Errorf("%v: %w", p.Shard, err)
			}
			if err := writeF32(w, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Embed runs the embed pipeline: the pool cut into shards of whole
// batches, each embedded by a worker that loads the model once, and the
// shards concatenated into --out, the same .npy as bulwark embed's.
func Embed(ctx context.Context, j EmbedJob, stdout io.Writer) error {
	if j.Out == "" {
		return errors.New("embed: --out is missing, e.g. --out embeddings.npy")
	}
	start := time.Now()
	l, err := j.Model.load(ctx, "embed") // checks every input before the cluster starts
	if err != nil {
		return err
	}
	j.N = l.ds.Len()
	l.close()
	if j.Run.Work == "" {
		j.Run.Work = j.Out + ".parts"
	}
	shards := planShards(j.N, j.ShardSize, j.Model.Batch)
	j.Run.reset(ctx, shards)
	p, s := beam.NewPipelineWithRoot()
	parts := beam.ParDo(s, &embedShardFn{Job: j}, beam.Reshuffle(s, beam.CreateList(s, shards)))
	beam.ParDo0(s, &concatFn{Out: j.Out, Shards: len(shards), Rows: j.N}, beam.GroupByKey(s, beam.AddFixedKey(s, parts)))
	if err := execute(ctx, p); err != nil {
		return fmt.Errorf("embed: %w", j.Run.explain(ctx, shards, err))
	}
	j.Run.cleanup(ctx, shards, func(s Shard) []string { return []string{j.Run.partFile(s)} })
	shape, err := npyFileShape(ctx, j.Out)
	if err != nil {
		return fmt.Errorf("embed: --out: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d × %d embeddings of %s) in %.1fs, %d shards\n", j.Out, j.N, shape[1], j.Model.Data, time.Since(start).Seconds(), len(shards))
	return nil
}
