package prune

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
)

// EmbedOptions configure Embed. The zero value is valid.
type EmbedOptions struct {
	BatchSize int // 0 means 256
	Workers   int // decoding goroutines; 0 is the data package's default
	// Normalize scales every embedding to unit L2 norm (an all-zero one
	// stays zero).
	Normalize bool
	// Progress, if set, is called after every batch with the samples
	// embedded so far and the total.
	Progress func(done, total int)
}

// Embed returns φ(x) for the samples of ds listed in indices (nil means
// all, in order): the model's penultimate features (the global-average-
// pooled activations of the ResNets), computed in evaluation mode with no
// augmentation and no gradients, as a row-major len×dim matrix in the
// order of indices. It leaves the model in evaluation mode. A model that
// cannot take the data is an error, found up front on one sample (see
// checkFit); a panic past that check is a bug and propagates. A
// non-finite feature is an error naming the sample: it would poison
// every distance the kNN search computes from it.
func Embed(model nn.FeatureModel, ds data.Dataset, indices []int, o EmbedOptions) ([]float32, int, error) {
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	b, err := data.NewBatcher(ds, indices, data.Config{BatchSize: o.BatchSize, Workers: o.Workers, Prefetch: true})
	if err != nil {
		return nil, 0, err
	}
	defer b.Close()
	model.SetTrain(false)
	dim := model.FeatureDim()
	total := b.Samples()
	if total > 0 {
		first := 0
		if indices != nil {
			first = indices[0]
		}
		x, err := data.Sample(ds, first)
		if err != nil {
			return nil, 0, err
		}
		if err := nn.CheckFit(model.Features, x, 1, dim); err != nil {
			return nil, 0, err
		}
	}
	tp := autograd.NewTape()
	defer tp.NoGrad()()
	emb := make([]float32, total*dim)
	x := autograd.Leaf(nil, false)
	done := 0
	b.Reset(0)
	for b.Next() {
		batch := b.Batch()
		tp.Reset()
		x.Value = batch.X
		f := model.Features(tp, x).Value.Data()
		rows := emb[done*dim : (done+len(batch.Labels))*dim]
		if len(f) != len(rows) {
			return nil, 0, fmt.Errorf("the model returned %d feature values for %d samples, want %d×%d", len(f), len(batch.Labels), len(batch.Labels), dim)
		}
		copy(rows, f)
		for i := range batch.Labels {
			row := rows[i*dim : (i+1)*dim]
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			if math.IsNaN(ss) || math.IsInf(ss, 0) {
				return nil, 0, fmt.Errorf("sample %d: its embedding is not finite", batch.Indices[i])
			}
		}
		if o.Normalize {
			NormalizeRows(rows, dim)
		}
		done += len(batch.Labels)
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	if err := b.Err(); err != nil {
		return nil, 0, err
	}
	return emb, dim, nil
}
