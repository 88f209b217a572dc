package attack

import (
	"math"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestEvaluateMismatch: a model that cannot take the data is an error
// found before any batch, naming the shapes; labels outside the model's
// classes are an error too.
func TestEvaluateMismatch(t *testing.T) {
	f := trained(t)
	rgb, err := data.FromTensor(tensor.New(8, 3, side, side), make([]int, 8), classes)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Evaluate(f.model, rgb, EvalOptions{}, &FGSM{Eps: 0.1})
	if err == nil || !strings.Contains(err.Error(), "does not fit the data (3×8×8 images)") || !strings.Contains(err.Error(), "Conv2d") {
		t.Errorf("3-channel images for a 1-channel model: error %v", err)
	}
	y := make([]int, 8)
	y[5] = classes + 2
	many, err := data.FromTensor(tensor.New(8, 1, side, side), y, classes+3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Evaluate(f.model, many, EvalOptions{})
	if err == nil || !strings.Contains(err.Error(), "outside the model's 4 classes") {
		t.Errorf("label %d for a %d-class model: error %v", classes+2, classes, err)
	}
	// An empty selection runs no model at all.
	if res, err := Evaluate(f.model, f.ds, EvalOptions{Indices: []int{}}); err != nil || res.N != 0 {
		t.Errorf("no samples: %+v, %v", res, err)
	}
}

// buggy is a model that works on one image but has a bug on batches: its
// Forward panics with panicValue once the batch has more than one sample.
type buggy struct {
	nn.Module
	panicValue func() any
}

func (b *buggy) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if x.Value.Dim(0) > 1 {
		panic(b.panicValue())
	}
	return b.Module.Forward(tp, x)
}

// TestEvaluateBugsPanic: past the up-front check, a panic inside the
// engine is a bug and propagates; it is not reported as a misfit model.
// A runtime error propagates even from the check.
func TestEvaluateBugsPanic(t *testing.T) {
	f := trained(t)
	outOfRange := func() any {
		var s []int
		i := 3
		return s[i] // a runtime error, panicking here
	}
	for _, c := range []struct {
		name  string
		model nn.Module
		want  string
	}{
		{"engine panic on a batch", &buggy{f.model, func() any { return "tensor.Add: an engine bug" }}, "an engine bug"},
		{"runtime error on a batch", &buggy{f.model, outOfRange}, "index out of range"},
		{"runtime error in the check", alwaysPanics{f.model}, "index out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.CheckPanic(t, func() { Evaluate(c.model, f.ds, EvalOptions{BatchSize: 16}) }, c.want)
		})
	}
}

// alwaysPanics is a model whose Forward has an out-of-range bug.
type alwaysPanics struct{ nn.Module }

func (alwaysPanics) Forward(*autograd.Tape, *autograd.Var) *autograd.Var {
	var s []*autograd.Var
	i := 1
	return s[i]
}

// TestEvaluateCleanLossAndLogits: Evaluate's clean loss is the mean
// cross-entropy of the model's logits, which it hands out in sample
// order; a buffer of the wrong length is an error.
func TestEvaluateCleanLossAndLogits(t *testing.T) {
	f := trained(t)
	ds := f.ds
	idx := []int{5, 0, 3, 9, 1, 7, 2}
	logits := make([]float32, len(idx)*classes)
	r, err := Evaluate(f.model, ds, EvalOptions{BatchSize: 3, Indices: idx, Logits: logits})
	if err != nil {
		t.Fatal(err)
	}
	tp := autograd.NewTape()
	defer tp.NoGrad()()
	f.model.SetTrain(false)
	var loss float64
	correct := 0
	for k, i := range idx {
		x, err := data.Sample(ds, i)
		if err != nil {
			t.Fatal(err)
		}
		z := f.model.Forward(tp, autograd.Leaf(x, false)).Value.Data()
		y := ds.Label(i)
		for c, v := range z {
			if d := v - logits[k*classes+c]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("sample %d, class %d: logit %v, Evaluate gave %v", i, c, v, logits[k*classes+c])
			}
		}
		if tensor.ArgmaxRow(z) == y {
			correct++
		}
		lse := 0.0
		for _, v := range z {
			lse += math.Exp(float64(v))
		}
		loss += math.Log(lse) - float64(z[y])
	}
	if r.Clean != correct || math.Abs(r.CleanLoss()-loss/float64(len(idx))) > 1e-5 {
		t.Errorf("clean %d, loss %v; want %d, %v", r.Clean, r.CleanLoss(), correct, loss/float64(len(idx)))
	}
	_, err = Evaluate(f.model, ds, EvalOptions{Indices: idx, Logits: make([]float32, 5)})
	if err == nil || !strings.Contains(err.Error(), "logits buffer holds 5 values") {
		t.Errorf("short logits buffer: %v", err)
	}
}
