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
	xs, ws := x.Value.Shape(), w.Value.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd.Conv2d: input %v and weight %v: want rank-4 NCHW input and [Cout, Cin/Groups, KH, KW] weight", xs, ws))
	}
	oh := kernels.ConvOutSize(xs[2], ws[2], max(p.StrideH, 1), p.PadH, max(p.DilH, 1))
	ow := kernels.ConvOutSize(xs[3], ws[3], max(p.StrideW, 1), p.PadW, max(p.DilW, 1))
	if oh == 0 || ow == 0 {
		panic(fmt.Sprintf("autograd.Conv2d: input %v and weight %v: kernel larger than the padded input (params %+v)", xs, ws, p))
	}
	out := tp.arena.GetUninit(xs[0], ws[0], oh, ow)
	var bias *tensor.Tensor
	if b != nil {
		bias = b.Value
	}
	tensor.Conv2d(out, x.Value, w.Value, bias, p)
	v, nd := tp.output(out, backConv2d, x, w, b)
	if nd != nil {
		nd.conv = p
	}
	return v
}

// backConv2d: ∂x by Conv2dBackwardInput, ∂w by Conv2dBackwardWeight
// (accumulating in place when w already has a gradient), ∂b by summing dy
// per channel.
func backConv2d(tp *Tape, n *node) {
	dy, x, w, b := n.out.Grad, n.in[0], n.in[1], n.in[2]
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
