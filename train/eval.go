package train

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
)

// EvalOptions configure Evaluate. The zero value is valid.
type EvalOptions struct {
	BatchSize int // 0 means 256
	Workers   int // decoding goroutines; 0 is the data package's default
	// Tape, if set, is reused for the forward passes (its recorded ops
	// are reset); otherwise Evaluate makes one.
	Tape *autograd.Tape
	// Logits, if non-nil, receives the logits of every sample in dataset
	// order, row-major N×classes; its length must be N·classes.
	Logits []float32
}

// EvalResult is the outcome of Evaluate. Acc is a fraction in [0, 1] and
// Loss the mean cross-entropy.
type EvalResult struct {
	N, Correct int
	Loss, Acc  float64
}

// Evaluate runs model in evaluation mode, without gradients, over every
// sample of ds in order and returns its accuracy and mean cross-entropy.
// It leaves the model in evaluation mode. A label outside the model's
// classes or an image the model cannot take is an error, not a panic.
func Evaluate(model nn.Module, ds data.Dataset, o EvalOptions) (EvalResult, error) {
	var res EvalResult
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	tp := o.Tape
	if tp == nil {
		tp = autograd.NewTape()
	}
	b, err := data.NewBatcher(ds, nil, data.Config{BatchSize: o.BatchSize, Workers: o.Workers, Prefetch: true})
	if err != nil {
		return res, err
	}
	defer b.Close()
	defer tp.Reset()
	defer tp.NoGrad()()
	model.SetTrain(false)
	if ds.Len() > 0 {
		x, err := data.Sample(ds, 0)
		if err != nil {
			return res, err
		}
		if err := nn.CheckFit(model.Forward, x, 1, -1); err != nil {
			return res, err
		}
	}
	b.Reset(0)
	x := autograd.Leaf(nil, false)
	var lossSum float64
	for b.Next() {
		batch := b.Batch()
		tp.Reset()
		x.Value = batch.X
		logits := model.Forward(tp, x).Value
		classes := logits.Dim(1)
		for i, y := range batch.Labels {
			if y >= classes {
				return res, fmt.Errorf("sample %d has label %d but the model has %d classes", batch.Indices[i], y, classes)
			}
		}
		if o.Logits != nil {
			if want := ds.Len() * classes; len(o.Logits) != want {
				return res, fmt.Errorf("logits buffer holds %d values, want %d×%d", len(o.Logits), ds.Len(), classes)
			}
			copy(o.Logits[res.N*classes:], logits.Data())
		}
		l := tp.CrossEntropy(autograd.Leaf(logits, false), batch.Labels, autograd.CEOptions{Reduction: autograd.ReduceSum})
		lossSum += float64(l.Value.Data()[0])
		res.Correct += countCorrect(logits, batch.Labels)
		res.N += len(batch.Labels)
	}
	if err := b.Err(); err != nil {
		return res, err
	}
	if res.N > 0 {
		res.Loss, res.Acc = lossSum/float64(res.N), float64(res.Correct)/float64(res.N)
	}
	return res, nil
}
