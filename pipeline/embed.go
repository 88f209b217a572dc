package pipeline

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/tensor"
	"github.com/bulwark-ml/bulwark/train"
)

// embedding is one embedding of every sample (the base set's, then the
// pool's): a row-major rows×dim matrix.
type embedding struct {
	kind string // one of Embeddings
	x    []float32
	dim  int
}

// embeddingFile names the file of an embedding in a seed directory.
func embeddingFile(kind string) string { return "embeddings_" + kind + ".npy" }

// Files of the clean model (the clean embedding's), in a seed directory.
const (
	cleanDir      = "clean"          // its training run
	PoolCleanFile = "pool_clean.npy" // float32 2×N: its true-class probability of every pool sample, and 1 where it is right
)

// pcaFitRows bounds the rows the pixels embedding's PCA is fitted on
// (drawn at random); every row is then projected.
const pcaFitRows = 20000

// embeddings computes (or reads back) every embedding of Config.Embed,
// in order. Training the clean model also measures the pool's quality:
// the share of pool samples it misclassifies.
func (r *run) embeddings(ctx context.Context, st *stages, dir string, s uint64, scoreRun string, seedIdx []int, sr *SeedReport) ([]embedding, error) {
	n := r.all.Len()
	var out []embedding
	for _, kind := range r.c.Embed {
		path := filepath.Join(dir, embeddingFile(kind))
		weights := filepath.Join(scoreRun, train.ModelFile)
		if kind == "clean" {
			var err error
			if weights, err = r.cleanModel(ctx, st, dir, s, seedIdx); err != nil {
				return nil, err
			}
		}
		e, err := produce(st, "embed_"+kind, path, func() (embedding, error) {
			e := embedding{kind: kind}
			var err error
			switch kind {
			case "seed", "clean":
				e.x, e.dim, err = r.modelEmbedding(weights)
			case "pixels":
				e.x, e.dim, err = r.pixelEmbedding(s)
			default:
				err = train.FieldErrorf("Embed", "unknown embedding %q", kind)
			}
			return e, err
		}, func(e embedding) error { return data.WriteNpy(path, []int{n, e.dim}, e.x) }, func() (embedding, error) {
			x, rows, dim, err := ReadMatrix(path)
			if err == nil && rows != n {
				err = fmt.Errorf("%s: %d rows, but base and pool have %d samples", path, rows, n)
			}
			return embedding{kind: kind, x: x, dim: dim}, err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if slices.Contains(r.c.Embed, "clean") {
		q, err := r.poolQuality(dir)
		if err != nil {
			return nil, err
		}
		sr.Pool = &q
	}
	return out, nil
}

// modelEmbedding embeds every sample with the model in a weights file.
func (r *run) modelEmbedding(weights string) ([]float32, int, error) {
	model, err := r.loadModel(weights)
	if err != nil {
		return nil, 0, err
	}
	return Embed(model, r.all, prune.EmbedOptions{Normalize: r.c.Normalize}, r.o.Progress)
}

// cleanModel trains (or finishes) the clean model: standard training,
// without attacks and without a weight average, on the base set (without
// one, on the seed subset), for cleanEpochs; then it records the model's
// true-class probability of every pool sample. It returns the weights
// file.
func (r *run) cleanModel(ctx context.Context, st *stages, dir string, s uint64, seedIdx []int) (string, error) {
	c := &r.c
	cfg := c.Train
	cfg.Adv, cfg.Eps, cfg.Steps, cfg.StepSize, cfg.AdvBN, cfg.EpsWarmup, cfg.Beta = train.AdvNone, 0, 0, 0, attack.BNEval, 0, 0
	cfg.EMA = 0
	cfg.Data, cfg.Seed, cfg.Epochs, cfg.Out = c.Base, s, r.cleanEpochs(len(seedIdx)), filepath.Join(dir, cleanDir)
	sets := TrainSets{Train: r.base, Test: r.val}
	if r.base == nil {
		sub, err := data.Subset(r.pool, seedIdx)
		if err != nil {
			return "", err
		}
		cfg.Data, sets.Train = c.Data, sub
	}
	if _, err := r.trainForLoad(ctx, st, "clean_train", cfg, sets); err != nil {
		return "", err
	}
	weights := filepath.Join(cfg.Out, train.ModelFile)
	path := filepath.Join(dir, PoolCleanFile)
	err := st.do("pool_clean", path, func() error {
		model, err := r.loadModel(weights)
		if err != nil {
			return err
		}
		p, right, err := Predict(model, r.pool)
		if err != nil {
			return err
		}
		for _, ok := range right {
			v := float32(0)
			if ok {
				v = 1
			}
			p = append(p, v)
		}
		return data.WriteNpy(path, []int{2, len(right)}, p)
	})
	return weights, err
}

// cleanEpochs returns the epochs of the clean model: Config.CleanEpochs,
// or when it is 0 the arms' step budget (baseEpochs with a base set; else
// E·⌈kept/B⌉ steps at the first prune ratio's kept size, in epochs of the
// seed subset of seed samples). A clean model trained much less misjudges
// the pool: the xp500 experiment's 20 epochs of 4 steps, with a weight
// average of decay 0.995, left a model two-thirds its initialisation that
// got 29% of real test images right (docs/BENCHMARKS.md).
func (r *run) cleanEpochs(seed int) int {
	if r.c.CleanEpochs > 0 {
		return r.c.CleanEpochs
	}
	if r.base != nil {
		return r.baseEpochs()
	}
	bs := r.c.Train.BatchSize
	kept := int(math.Round(float64(r.pool.Len()) * (1 - r.c.Prune[0])))
	steps := r.c.Train.Epochs * ((kept + bs - 1) / bs)
	return max(1, int(math.Round(float64(steps)/float64((max(seed, 1)+bs-1)/bs))))
}

// readPoolClean reads the clean model's view of the pool: its
// true-class probability of every pool sample, and which it gets wrong.
func (r *run) readPoolClean(dir string) (ptrue []float32, wrong []bool, err error) {
	path := filepath.Join(dir, PoolCleanFile)
	m, rows, n, err := ReadMatrix(path)
	if err != nil {
		return nil, nil, err
	}
	if rows != 2 || n != r.pool.Len() {
		return nil, nil, fmt.Errorf("%s: %d×%d values, want 2×%d (the pool's)", path, rows, n, r.pool.Len())
	}
	wrong = make([]bool, n)
	for i, right := range m[n:] {
		wrong[i] = right == 0
	}
	return m[:n], wrong, nil
}

// poolQuality measures the pool by the clean model's probabilities.
func (r *run) poolQuality(dir string) (PoolQuality, error) {
	ptrue, wrong, err := r.readPoolClean(dir)
	if err != nil {
		return PoolQuality{}, err
	}
	n := len(ptrue)
	q := PoolQuality{N: n}
	for i, p := range ptrue {
		q.MeanPTrue += float64(p)
		if wrong[i] {
			q.Misclassified++
		}
	}
	q.MeanPTrue /= float64(n)
	q.Misclassified /= float64(n)
	ms, err := readMetrics(filepath.Join(dir, cleanDir))
	if err != nil {
		return q, err
	}
	for _, m := range ms {
		if m.TestAcc != nil {
			q.CleanAcc = *m.TestAcc
		}
	}
	return q, nil
}

// pixelEmbedding projects every sample's pixels on the first PCADim
// principal components of (at most pcaFitRows of) them.
func (r *run) pixelEmbedding(s uint64) ([]float32, int, error) {
	n := r.all.Len()
	c, h, w := r.all.Shape()
	d := c * h * w
	k := min(r.c.PCADim, d)
	fit := tensor.NewRNG(s ^ 0x9ca).Perm(n)[:min(n, pcaFitRows)]
	slices.Sort(fit)
	x, err := images(r.all, fit)
	if err != nil {
		return nil, 0, err
	}
	pca, err := prune.FitPCA(x, len(fit), d, k)
	if err != nil {
		return nil, 0, fmt.Errorf("pixels embedding: %w", err)
	}
	out := make([]float32, 0, n*k)
	const chunk = 4096
	idx := make([]int, 0, chunk)
	for lo := 0; lo < n; lo += chunk {
		idx = idx[:0]
		for i := lo; i < min(n, lo+chunk); i++ {
			idx = append(idx, i)
		}
		x, err := images(r.all, idx)
		if err != nil {
			return nil, 0, err
		}
		y, err := pca.Project(x, len(idx))
		if err != nil {
			return nil, 0, fmt.Errorf("pixels embedding: %w", err)
		}
		out = append(out, y...)
	}
	if r.c.Normalize {
		prune.NormalizeRows(out, k)
	}
	return out, k, nil
}

// images returns the images of the samples idx of ds as a row-major
// len(idx)×(C·H·W) matrix.
func images(ds data.Dataset, idx []int) ([]float32, error) {
	c, h, w := ds.Shape()
	d := c * h * w
	x := make([]float32, len(idx)*d)
	for j, i := range idx {
		if err := ds.Image(i, x[j*d:(j+1)*d]); err != nil {
			return nil, err
		}
	}
	return x, nil
}
