package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// knnTile is the number of queries prune's exact search computes in one
// GEMM tile (prune.tileRows). Query shards start on a tile boundary of
// the single-process search, so each of their tiles holds the same
// queries and every distance is bit-identical to it.
const knnTile = 256

// ExtrapolateJob is `bulwark-cluster extrapolate`: the flags of bulwark
// extrapolate, and how to shard.
type ExtrapolateJob struct {
	Embeddings, Indices, Scores, Out string
	True, Data, Quality              string
	K                                int
	Metric                           string
	Weighted                         bool
	ShardSize                        int // queries per shard, rounded up to a multiple of 256
	Run                              Run
	N, Dim                           int // rows and width of Embeddings, set by the launcher
}

func (j *ExtrapolateJob) knn() (prune.KNNOptions, error) {
	m, err := prune.ParseMetric(j.Metric)
	return prune.KNNOptions{K: j.K, Metric: m, Weighted: j.Weighted}, err
}

// Refs is the scored reference set, the side input of every query
// shard: the seeds' indices, their embedding rows and their scores.
type Refs struct {
	Seeds  []int64
	Rows   []float32
	Scores []float32
}

func init() {
	register.DoFn3x1[context.Context, []byte, func(Refs), error](&refsFn{})
	register.DoFn4x1[context.Context, Shard, Refs, func(Part), error](&knnShardFn{})
	register.DoFn4x1[context.Context, int, func(*Part) bool, Refs, error](&assembleFn{})
	register.Emitter1[Refs]()
}

// readInputs stages and reads the embeddings, indices and scores with
// bulwark extrapolate's checks; errors name the flag and the file.
func (j *ExtrapolateJob) readInputs(ctx context.Context, st *stager, withEmb bool) (emb []float32, idx []int, scores []float32, err error) {
	if withEmb {
		ep, err := st.Local(ctx, "--embeddings", j.Embeddings)
		if err != nil {
			return nil, nil, nil, err
		}
		var n, dim int
		if emb, n, dim, err = pipeline.ReadMatrix(ep); err != nil {
			return nil, nil, nil, fmt.Errorf("--embeddings: %w", err)
		}
		if n != j.N || dim != j.Dim {
			return nil, nil, nil, fmt.Errorf("--embeddings %s: %d×%d, the launcher read %d×%d", j.Embeddings, n, dim, j.N, j.Dim)
		}
	}
	ip, err := st.Local(ctx, "--indices", j.Indices)
	if err != nil {
		return nil, nil, nil, err
	}
	if idx, err = pipeline.ReadIndices(ip, j.N); err != nil {
		return nil, nil, nil, fmt.Errorf("--indices (against the %d rows of %s): %w", j.N, j.Embeddings, err)
	}
	sp, err := st.Local(ctx, "--scores", j.Scores)
	if err != nil {
		return nil, nil, nil, err
	}
	if scores, err = pipeline.ReadVector(sp); err != nil {
		return nil, nil, nil, fmt.Errorf("--scores: %w", err)
	}
	if len(scores) != len(idx) {
		return nil, nil, nil, fmt.Errorf("--scores %s holds %d scores but --indices %s lists %d samples", j.Scores, len(scores), j.Indices, len(idx))
	}
	return emb, idx, scores, nil
}

// refsFn reads the scored reference set once, for the side input.
type refsFn struct{ Job ExtrapolateJob }

func (f *refsFn) ProcessElement(ctx context.Context, _ []byte, emit func(Refs)) error {
	var st stager
	defer st.Close()
	emb, idx, scores, err := f.Job.readInputs(ctx, &st, true)
	if err != nil {
		return fmt.Errorf("extrapolate: reference set: %w", err)
	}
	r := Refs{Seeds: make([]int64, len(idx)), Rows: make([]float32, 0, len(idx)*f.Job.Dim), Scores: scores}
	for k, i := range idx {
		r.Seeds[k] = int64(i)
		r.Rows = append(r.Rows, emb[i*f.Job.Dim:(i+1)*f.Job.Dim]...)
	}
	emit(r)
	return nil
}

// knnShardFn predicts the scores of one shard of the queries by exact kNN
// against the reference set.
type knnShardFn struct {
	Job ExtrapolateJob
	mu  sync.Mutex
	emb []float32
	q   []int
}

func (f *knnShardFn) ProcessElement(ctx context.Context, s Shard, refs Refs, emit func(Part)) error {
	j := &f.Job
	p := j.Run.partFile(s)
	if ok, _ := exists(ctx, p); ok {
		if shape, err := npyFileShape(ctx, p); err == nil && len(shape) == 1 && shape[0] == s.Hi-s.Lo {
			emit(Part{Shard: s, Path: p})
			return nil
		}
	}
	err := j.Run.do(ctx, s, "--embeddings "+j.Embeddings, func() error {
		emb, q, err := f.load(ctx, refs)
		if err != nil {
			return err
		}
		opt, err := j.knn()
		if err != nil {
			return err
		}
		rows := make([]float32, 0, (s.Hi-s.Lo)*j.Dim)
		for _, i := range q[s.Lo:s.Hi] {
			rows = append(rows, emb[i*j.Dim:(i+1)*j.Dim]...)
		}
		nb, err := prune.Search(refs.Rows, rows, j.Dim, opt)
		if err != nil {
			return err
		}
		pred, err := nb.Predict(refs.Scores, j.Weighted)
		if err != nil {
			return err
		}
		return writeNpyF32(ctx, p, []int{len(pred)}, pred)
	})
	if err != nil {
		return err
	}
	emit(Part{Shard: s, Path: p})
	return nil
}

// load reads the embeddings once per worker.
func (f *knnShardFn) load(ctx context.Context, refs Refs) ([]float32, []int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.emb != nil {
		return f.emb, f.q, nil
	}
	var st stager
	defer st.Close()
	ep, err := st.Local(ctx, "--embeddings", f.Job.Embeddings)
	if err != nil {
		return nil, nil, err
	}
	emb, n, dim, err := pipeline.ReadMatrix(ep)
	if err != nil {
		return nil, nil, err
	}
	if n != f.Job.N || dim != f.Job.Dim {
		return nil, nil, fmt.Errorf("%s: %d×%d, the launcher read %d×%d", f.Job.Embeddings, n, dim, f.Job.N, f.Job.Dim)
	}
	f.emb, f.q = emb, prune.Complement(refs.Seeds, n)
	return f.emb, f.q, nil
}

// assembleFn writes every sample's score: the seeds' own and each query
// shard's predictions, in the order of bulwark extrapolate's output.
type assembleFn struct {
	Job    ExtrapolateJob
	Shards int
}

func (f *assembleFn) ProcessElement(ctx context.Context, _ int, parts func(*Part) bool, refs Refs) error {
	j := &f.Job
	all, err := gatherParts(parts, f.Shards, j.Out)
	if err != nil {
		return err
	}
	out := make([]float32, j.N)
	for k, i := range refs.Seeds {
		out[i] = refs.Scores[k]
	}
	q := prune.Complement(refs.Seeds, j.N)
	for _, p := range all {
		pred, err := readNpyF32(ctx, p.Path, p.Shard.Hi-p.Shard.Lo, 0)
		if err != nil {
			return fmt.Errorf("%v: %w", p.Shard, err)
		}
		for t, v := range pred {
			out[q[p.Shard.Lo+t]] = v
		}
	}
	return writeNpyF32(ctx, j.Out, []int{j.N}, out)
}

// Extrapolate runs the extrapolate pipeline: the queries (samples not in
// --indices) cut into shards of whole search tiles, each searched
// exactly against the scored reference set, a side input; the shards'
// predictions and the seeds' scores are assembled into --out, bit-
// identical to bulwark extrapolate's. --true (and --quality) are measured
// afterwards by the launcher, as bulwark extrapolate does.
func Extrapolate(ctx context.Context, j ExtrapolateJob, stdout io.Writer) error {
	for _, f := range []struct{ name, v string }{{"embeddings", j.Embeddings}, {"indices", j.Indices}, {"scores", j.Scores}, {"out", j.Out}} {
		if f.v == "" {
			return fmt.Errorf("extrapolate: --%s is missing", f.name)
		}
	}
	if j.Quality != "" && j.True == "" {
		return errors.New("extrapolate: --quality needs --true")
	}
	opt, err := j.knn()
	if err != nil {
		return fmt.Errorf("extrapolate: --metric: %w", err)
	}
	start := time.Now()
	shape, err := npyFileShape(ctx, j.Embeddings)
	if err != nil {
		return fmt.Errorf("extrapolate: --embeddings: %w", err)
	}
	if len(shape) != 2 {
		return fmt.Errorf("extrapolate: --embeddings: %s: shape %v, want a matrix (samples × dimensions)", j.Embeddings, shape)
	}
	j.N, j.Dim = shape[0], shape[1]
	var st stager
	defer st.Close()
	_, idx, _, err := j.readInputs(ctx, &st, false)
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	if j.K < 1 || j.K > len(idx) {
		return fmt.Errorf("extrapolate: --k: %d, want 1 to %d (the scored samples)", j.K, len(idx))
	}
	if j.Run.Work == "" {
		j.Run.Work = j.Out + ".parts"
	}
	shards := planShards(j.N-len(idx), j.ShardSize, knnTile)
	j.Run.reset(ctx, shards)
	p, s := beam.NewPipelineWithRoot()
	refs := beam.ParDo(s, &refsFn{Job: j}, beam.Impulse(s))
	parts := beam.ParDo(s, &knnShardFn{Job: j}, beam.Reshuffle(s, beam.CreateList(s, shards)), beam.SideInput{Input: refs})
	beam.ParDo0(s, &assembleFn{Job: j, Shards: len(shards)}, beam.GroupByKey(s, beam.AddFixedKey(s, parts)), beam.SideInput{Input: refs})
	if err := execute(ctx, p); err != nil {
		return fmt.Errorf("extrapolate: %w", j.Run.explain(ctx, shards, err))
	}
	j.Run.cleanup(ctx, shards, func(s Shard) []string { return []string{j.Run.partFile(s)} })
	fmt.Fprintf(stdout, "wrote %s: %d scores (%d extrapolated from %d by %d-NN) in %.1fs, %d shards\n",
		j.Out, j.N, j.N-len(idx), len(idx), j.K, time.Since(start).Seconds(), len(shards))
	if j.True == "" {
		return nil
	}
	return j.quality(ctx, &st, opt, stdout)
}

// quality measures the extrapolation against --true on the launcher, as
// bulwark extrapolate does, and writes --quality.
func (j *ExtrapolateJob) quality(ctx context.Context, st *stager, opt prune.KNNOptions, stdout io.Writer) error {
	emb, idx, scores, err := j.readInputs(ctx, st, true)
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	tp, err := st.Local(ctx, "--true", j.True)
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	truth, err := pipeline.ReadVector(tp)
	if err != nil {
		return fmt.Errorf("extrapolate: --true: %w", err)
	}
	if len(truth) != j.N {
		return fmt.Errorf("extrapolate: --true %s holds %d scores but --embeddings %s has %d rows", j.True, len(truth), j.Embeddings, j.N)
	}
	if j.Data == "" {
		return errors.New("extrapolate: --data is missing (its labels are needed)")
	}
	spec, err := st.Spec(ctx, j.Data)
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	ds, test, err := data.Open(spec)
	if err != nil {
		return fmt.Errorf("extrapolate: --data: %w", err)
	}
	defer data.Close(ds)
	if test != nil {
		defer data.Close(test)
	}
	if ds.Len() != j.N {
		return fmt.Errorf("extrapolate: --data %s has %d samples, the other files %d", j.Data, ds.Len(), j.N)
	}
	labels := make([]int, j.N)
	for i := range labels {
		labels[i] = ds.Label(i)
	}
	q, err := pipeline.QualityAgainst(emb, j.Dim, labels, idx, scores, truth, opt, 0)
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	fmt.Fprintf(stdout, "quality on the %d unscored samples against %s: Spearman %.4f (class-mean %.4f, shuffled kNN %.4f), Pearson %.4f, Var(Ŝ)/Var(S) %.3f; "+
		"on the %d seeds themselves (no extrapolation) Spearman %.4f\n",
		q.HeldOut, j.True, q.Spearman, q.ClassMean, q.Shuffled, q.Pearson, q.VarianceRatio, len(idx), q.SeedSpearman)
	if j.Quality != "" {
		tmp, err := os.MkdirTemp("", "bulwark-quality-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		lp := filepath.Join(tmp, "quality.json")
		if err := pipeline.WriteJSON(lp, q); err != nil {
			return fmt.Errorf("extrapolate: --quality: %w", err)
		}
		if err := upload(ctx, lp, j.Quality); err != nil {
			return fmt.Errorf("extrapolate: --quality: %w", err)
		}
	}
	return nil
}
