package autograd

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// poolOut returns an arena tensor for the output of pooling x [N, C, H, W]
// with p, panicking (naming op) on a bad shape; tensor checks the params.
func (tp *Tape) poolOut(op string, x *tensor.Tensor, p tensor.PoolParams) *tensor.Tensor {
	xs := x.Shape()
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd.%s: input %v: want a rank-4 NCHW shape", op, xs))
	}
	sh, sw := p.StrideH, p.StrideW
	if sh == 0 {
		sh = p.KernelH
	}
	if sw == 0 {
		sw = p.KernelW
	}
	oh := kernels.ConvOutSize(xs[2], p.KernelH, sh, p.PadH, 1)
	ow := kernels.ConvOutSize(xs[3], p.KernelW, sw, p.PadW, 1)
	if oh == 0 || ow == 0 {
		panic(fmt.Sprintf("autograd.%s: input %v smaller than the window (params %+v)", op, xs, p))
	}
	return tp.arena.GetUninit(xs[0], xs[1], oh, ow)
}

// MaxPool2d returns the maximum of each window of x [N, C, H, W]. The
// gradient goes to the element that won each window.
func (tp *Tape) MaxPool2d(x *Var, p tensor.PoolParams) *Var {
	out := tp.poolOut("MaxPool2d", x.Value, p)
	idx := tp.idx.get(out.Len())
	tensor.MaxPool2d(out, idx, x.Value, p)
	v, nd := tp.output(out, backMaxPool2d, x, nil, nil)
	if nd != nil {
		nd.idx = idx
	}
	return v
}

// backMaxPool2d routes dy to the winners recorded in the forward pass.
func backMaxPool2d(tp *Tape, n *node) {
	x := n.in[0]
	buf := tp.gradBuf(x)
	tensor.MaxPool2dBackward(buf, n.out.Grad, n.idx, x.Value.Shape())
	tp.commit(x, buf)
}

// AvgPool2d returns the mean of each window of x [N, C, H, W], counting
// padding as zeros (PyTorch's count_include_pad).
func (tp *Tape) AvgPool2d(x *Var, p tensor.PoolParams) *Var {
	out := tensor.AvgPool2d(tp.poolOut("AvgPool2d", x.Value, p), x.Value, p)
	v, nd := tp.output(out, backAvgPool2d, x, nil, nil)
	if nd != nil {
		nd.pool = p
	}
	return v
}

// backAvgPool2d spreads dy evenly over each window.
func backAvgPool2d(tp *Tape, n *node) {
	x := n.in[0]
	buf := tp.gradBuf(x)
	tensor.AvgPool2dBackward(buf, n.out.Grad, x.Value.Shape(), n.pool)
	tp.commit(x, buf)
}

// GlobalAvgPool2d averages each H×W plane of x [N, C, H, W], giving
// [N, C]: the head of a ResNet before its classifier.
func (tp *Tape) GlobalAvgPool2d(x *Var) *Var {
	xs := x.Value.Shape()
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd.GlobalAvgPool2d: input %v: want a rank-4 NCHW shape", xs))
	}
	out := tensor.GlobalAvgPool2d(tp.arena.GetUninit(xs[0], xs[1]), x.Value)
	v, _ := tp.output(out, backGlobalAvgPool2d, x, nil, nil)
	return v
}

// backGlobalAvgPool2d gives each pixel of plane (n, c) dy[n, c]/(H·W).
func backGlobalAvgPool2d(tp *Tape, n *node) {
	x := n.in[0]
	buf := tp.gradBuf(x)
	tensor.GlobalAvgPool2dBackward(buf, n.out.Grad, x.Value.Shape())
	tp.commit(x, buf)
}
