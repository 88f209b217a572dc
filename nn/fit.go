package nn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/tensor"
)

// CheckFit runs forward (a model's Forward or Features, in the model's
// current mode) without gradients on x, one input batch, and returns an
// error if the model cannot take it or returns an output whose shape is
// not want (−1 in want accepts any size ≥ 1). The engine's ops reject
// inputs of the wrong shape by panicking with a string naming the op and
// the shapes (tensor's misuse convention); only such a panic, and only in
// this one pass, becomes the error. Any other panic, such as a runtime
// error, is a bug and propagates. Evaluation and embedding loops call it
// once up front, so a model that does not fit the data is an error while
// a panic later is never hidden.
func CheckFit(forward func(*autograd.Tape, *autograd.Var) *autograd.Var, x *tensor.Tensor, want ...int) error {
	tp := autograd.NewTape()
	defer tp.NoGrad()()
	var out *tensor.Tensor
	in := fmt.Sprint("inputs ", x.Shape())
	if x.Rank() == 4 {
		in = fmt.Sprintf("%d×%d×%d images", x.Dim(1), x.Dim(2), x.Dim(3))
	}
	if msg, ok := misusePanic(func() { out = forward(tp, autograd.Leaf(x, false)).Value }); ok {
		return fmt.Errorf("the model does not fit the data (%s): %s", in, msg)
	}
	fits := out.Rank() == len(want)
	dims := make([]string, len(want))
	for i, w := range want {
		fits = fits && (w == out.Dim(i) || w == -1 && out.Dim(i) >= 1)
		dims[i] = map[bool]string{true: "n", false: strconv.Itoa(w)}[w == -1]
	}
	if !fits {
		return fmt.Errorf("the model returns %v for a batch of %s, want [%s]", out.Shape(), in, strings.Join(dims, ", "))
	}
	return nil
}

// misusePanic runs f and returns the message of a string panic, the way
// the engine reports misuse; any other panic is re-raised.
func misusePanic(f func()) (msg string, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(string)
			if !ok {
				panic(r)
			}
			msg, panicked = s, true
		}
	}()
	f()
	return "", false
}
