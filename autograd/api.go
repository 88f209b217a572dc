// Package autograd is bulwark's reverse-mode automatic differentiation: a
// tape that records operations on Vars and, on Backward, computes gradients
// for parameters and for inputs (adversarial attacks need ∂loss/∂x).
//
// A training step looks like
//
//	tp := autograd.NewTape()          // once; reused every step
//	x := autograd.Leaf(images, false) // or true to get ∂loss/∂x
//	loss := tp.CrossEntropy(model.Forward(tp, x), labels, autograd.CEOptions{})
//	tp.Backward(loss)                 // fills Grad of params (and of x)
//	opt.Step()
//	tp.Reset()                        // recycles every intermediate buffer
//
// Intermediate values and gradients come from the tape's arena and are
// recycled by Reset, so a steady training loop does not grow its memory.
// Leaves (parameters, inputs) own their Grad, which Backward accumulates
// into; ZeroGrad clears it.
package autograd

import "github.com/bulwark-ml/bulwark/tensor"

// Var is a value in the graph and, after Backward, its gradient.
type Var struct {
	// Value is the tensor this Var holds.
	Value *tensor.Tensor
	// Grad is ∂loss/∂Value after Backward, or nil if no gradient flowed
	// here (or the Var does not require one). Leaves keep it across
	// steps and accumulate into it; intermediates' Grad lives in the
	// tape's arena and is invalid after Reset.
	Grad *tensor.Tensor

	requiresGrad bool
	leaf         bool
}

// Leaf wraps t as a leaf of the graph: a parameter (requiresGrad true), an
// input whose gradient is wanted (true), or a constant (false).
func Leaf(t *tensor.Tensor, requiresGrad bool) *Var {
	return &Var{Value: t, requiresGrad: requiresGrad, leaf: true}
}

// RequiresGrad reports whether a gradient flows to v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// IsLeaf reports whether v was made by Leaf rather than by an op.
func (v *Var) IsLeaf() bool { return v.leaf }

// ZeroGrad clears v's accumulated gradient (keeping its storage).
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Zero()
	}
}

// Reduction says how a per-sample loss is reduced over the batch.
type Reduction int

const (
	ReduceMean Reduction = iota // mean over the batch (the default)
	ReduceSum                   // sum over the batch
	ReduceNone                  // one loss per sample: shape [N]
)

// CEOptions configure CrossEntropy.
type CEOptions struct {
	Reduction Reduction
	// LabelSmoothing ε mixes the one-hot target with the uniform
	// distribution: target = (1-ε)·onehot + ε/C, as PyTorch does.
	LabelSmoothing float32
}

// BatchNormState is the non-learned state of a BatchNorm2d layer.
type BatchNormState struct {
	RunningMean, RunningVar *tensor.Tensor // [C]
	// Momentum of the running averages: r = (1-m)·r + m·batch, with the
	// unbiased batch variance, as PyTorch does (default 0.1).
	Momentum float32
	Eps      float32 // default 1e-5
}
