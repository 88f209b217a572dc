package autograd

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Conv2d returns the 2-D convolution (cross-correlation, as in PyTorch) of
// x [N, Cin, H, W] with w [Cout, Cin/Groups, KH, KW], plus b [Cout] unless
// b is nil; see tensor.Conv2d for the params.
func (tp *Tape) Conv2d(x, w, b *Var, p tensor.ConvParams) *Var {
	out, bias := tp.convOut("Conv2d", x, w, b, p)
	tensor.Conv2d(out, x.Value, w.Value, bias, p)
	return tp.convNode(out, backConv2d, x, w, b, p)
}

// Conv2dReLU returns Relu(Conv2d(x, w, b, p)) as one op: the convolution's
// unrectified output is neither written to memory nor kept for the
// backward pass (tensor.Conv2dReLU). Values and gradients are bit for bit
// those of the two ops.
func (tp *Tape) Conv2dReLU(x, w, b *Var, p tensor.ConvParams) *Var {
	out, bias := tp.convOut("Conv2dReLU", x, w, b, p)
	tensor.Conv2dReLU(out, x.Value, w.Value, bias, p)
	return tp.convNode(out, backConv2dReLU, x, w, b, p)
}

// convOut checks the shapes of a convolution and returns its output
// buffer and bias tensor.
func (tp *Tape) convOut(op string, x, w, b *Var, p tensor.ConvParams) (out, bias *tensor.Tensor) {
	xs, ws := x.Value.Shape(), w.Value.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd.%s: input %v and weight %v: want rank-4 NCHW input and [Cout, Cin/Groups, KH, KW] weight", op, xs, ws))
	}
	oh := kernels.ConvOutSize(xs[2], ws[2], max(p.StrideH, 1), p.PadH, max(p.DilH, 1))
	ow := kernels.ConvOutSize(xs[3], ws[3], max(p.StrideW, 1), p.PadW, max(p.DilW, 1))
	if oh == 0 || ow == 0 {
		panic(fmt.Sprintf("autograd.%s: input %v and weight %v: kernel larger than the padded input (params %+v)", op, xs, ws, p))
	}
	if b != nil {
		bias = b.Value
	}
	return tp.arena.GetUninit(xs[0], ws[0], oh, ow), bias
}

// convNode records a convolution's output with its backward function.
func (tp *Tape) convNode(out *tensor.Tensor, back func(*Tape, *node), x, w, b *Var, p tensor.ConvParams) *Var {
	v, nd := tp.output(out, back, x, w, b)
	if nd != nil {
		nd.conv = p
	}
	return v
}

// backConv2dReLU masks dy by the output's sign, as backRelu does, in
// place (the output's gradient is spent once its op has run), then runs
// the convolution's backward pass on it.
func backConv2dReLU(tp *Tape, n *node) {
	dy := n.out.Grad
	tp.runElem(elemReluBack, dy.Data(), dy.Data(), n.out.Value.Data(), 0, 0)
	convBackward(tp, n, dy)
}

// backConv2d: ∂x by Conv2dBackwardInput, ∂w by Conv2dBackwardWeight
// (accumulating in place when w already has a gradient), ∂b by summing dy
// per channel.
func backConv2d(tp *Tape, n *node) { convBackward(tp, n, n.out.Grad) }

// convBackward is the backward pass of convolution node n given the
// gradient dy of its (unrectified) output.
func convBackward(tp *Tape, n *node, dy *tensor.Tensor) {
	x, w, b := n.in[0], n.in[1], n.in[2]
	if needs(x) {
		buf := tp.gradBuf(x)
		tensor.Conv2dBackwardInput(buf, dy, w.Value, x.Value.Shape(), n.conv)
		tp.commit(x, buf)
	}
	if needs(w) {
		if fresh(w) {
			tensor.Conv2dBackwardWeight(tp.freshGrad(w), dy, x.Value, w.Value.Shape(), n.conv)
		} else {
			tensor.Conv2dBackwardWeightAcc(w.Grad, dy, x.Value, n.conv)
		}
	}
	if needs(b) {
		buf := tp.gradBuf(b)
		tensor.Conv2dBackwardBias(buf, dy)
		tp.commit(b, buf)
	}
}
