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
	return tp.pool2d("MaxPool2d", x, p, true)
}

// AvgPool2d returns the mean of each window of x [N, C, H, W], counting
// padding as zeros (PyTorch's count_include_pad).
func (tp *Tape) AvgPool2d(x *Var, p tensor.PoolParams) *Var {
	return tp.pool2d("AvgPool2d", x, p, false)
}

// pool2d is the shared forward of MaxPool2d and AvgPool2d (isMax false):
// the node keeps p and, for max pooling, the winner of each window;
// node.flag marks max pooling.
func (tp *Tape) pool2d(op string, x *Var, p tensor.PoolParams, isMax bool) *Var {
	out := tp.poolOut(op, x.Value, p)
	var idx []int32
	if isMax {
		idx = tp.idx.get(out.Len())
		tensor.MaxPool2d(out, idx, x.Value, p)
	} else {
		tensor.AvgPool2d(out, x.Value, p)
	}
	v, nd := tp.output(out, backPool2d, x, nil, nil)
	if nd != nil {
		nd.idx, nd.pool, nd.flag = idx, p, isMax
	}
	return v
}

// backPool2d routes dy to the winners recorded in the forward pass of
// max pooling, or spreads it evenly over each window of average pooling.
func backPool2d(tp *Tape, n *node) {
	x := n.in[0]
	buf := tp.gradBuf(x)
	if n.flag {
		tensor.MaxPool2dBackward(buf, n.out.Grad, n.idx, x.Value.Shape())
	} else {
		tensor.AvgPool2dBackward(buf, n.out.Grad, x.Value.Shape(), n.pool)
	}
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
