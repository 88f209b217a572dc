// Package autograd is bulwark's reverse-mode automatic differentiation: a
// tape that records operations on Vars and, on Backward, computes gradients
// for parameters and for inputs (adversarial attacks need ∂loss/∂x).
//
// Start with NewTape: record ops on Vars, then call Tape.Backward.
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
// Intermediate values and gradients come from the tape's arena, and the
// Vars that ops return from the tape's pool; Reset recycles them all, so
// a steady loop of forward, Backward and Reset neither grows its memory nor
// allocates (beyond the first step). Leaves (parameters, inputs) own their
// Grad, which Backward accumulates into; ZeroGrad clears it, and the next
// Backward then writes over it instead of adding.
//
// An op's output requires grad iff some input does; otherwise (and under
// NoGrad) nothing is recorded. Backward computes only the gradients that
// some leaf needs: a training step skips ∂x of the data, an attack with
// constant parameters skips every weight gradient.
//
// The ops are Add, Sub, Mul (broadcasting), AddScalar, MulScalar, MatMul,
// Linear, Conv2d, BatchNorm2d, Relu, SiLU, Clamp, MaxPool2d, AvgPool2d,
// GlobalAvgPool2d, Flatten, Reshape, Softmax, LogSoftmax, Sum, Mean and
// the fused losses CrossEntropy and KLDiv. GradCheck compares any
// composition of them with finite differences.
package autograd

import "github.com/bulwark-ml/bulwark/tensor"

// Var is a value in the graph and, after Backward, its gradient.
type Var struct {
	// Value is the tensor this Var holds.
	Value *tensor.Tensor
	// Grad is ∂loss/∂Value after Backward, or nil if no gradient flowed
	// here (or the Var does not require one). Leaves keep it across
	// steps and accumulate into it. An intermediate's Grad lives in the
	// tape's arena only while Backward needs it: its storage is reused
	// once the op that produced the Var has passed it on.
	Grad *tensor.Tensor
	// owned is the arena tensor whose storage Grad is (Grad itself or
	// the tensor it views), if this Var is the one to give it back.
	owned *tensor.Tensor

	requiresGrad bool
	leaf         bool
	// gradZero marks Grad as cleared by ZeroGrad: the next gradient may
	// be written over it rather than added to it.
	gradZero bool
}

// Leaf wraps t as a leaf of the graph: a parameter (requiresGrad true), an
// input whose gradient is wanted (true), or a constant (false).
func Leaf(t *tensor.Tensor, requiresGrad bool) *Var {
	return &Var{Value: t, requiresGrad: requiresGrad, leaf: true}
}

// RequiresGrad reports whether a gradient flows to v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad turns gradient tracking of a leaf on or off and returns
// the previous setting. Attacks use it to freeze a model's parameters, so
// that backward computes only ∂loss/∂x and leaves the parameters' Grad
// untouched. It panics on a Var made by an op.
func (v *Var) SetRequiresGrad(on bool) (was bool) {
	if !v.leaf {
		panic("autograd.SetRequiresGrad: not a leaf")
	}
	was, v.requiresGrad = v.requiresGrad, on
	return was
}

// IsLeaf reports whether v was made by Leaf rather than by an op.
func (v *Var) IsLeaf() bool { return v.leaf }

// ZeroGrad clears v's accumulated gradient, keeping its storage. The next
// Backward then writes v's gradient over the zeros instead of adding to
// them, which saves a pass (and a scratch buffer) per op; so add nothing
// to Grad between ZeroGrad and Backward. To give a leaf a gradient buffer
// of your own (say, an attack reusing one per batch), set Grad and call
// ZeroGrad.
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Zero()
		v.gradZero = true
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
	// unbiased batch variance, as PyTorch does (0 means the default 0.1).
	Momentum float32
	Eps      float32 // added to the variance; 0 means the default 1e-5
}
