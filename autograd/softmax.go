package autograd

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/tensor"
)

// splitAxis splits shape around axis (negative counts from the end),
// panicking, naming op, if the axis is out of range.
func splitAxis(op string, shape []int, axis int) tensor.AxisView {
	s, ok := tensor.ViewAxis(shape, axis)
	if !ok {
		panic(fmt.Sprintf("autograd.%s: axis %d out of range for shape %v", op, axis, shape))
	}
	return s
}

// Softmax returns exp(x) normalized to sum to 1 along axis.
func (tp *Tape) Softmax(x *Var, axis int) *Var {
	return tp.softmax("Softmax", tensor.Softmax, backSoftmax, x, axis)
}

// LogSoftmax returns log(Softmax(x)) along axis, computed stably.
func (tp *Tape) LogSoftmax(x *Var, axis int) *Var {
	return tp.softmax("LogSoftmax", tensor.LogSoftmax, backLogSoftmax, x, axis)
}

// softmax is the shared forward of Softmax and LogSoftmax.
func (tp *Tape) softmax(op string, fn func(out, a *tensor.Tensor, axis int) *tensor.Tensor,
	back func(*Tape, *node), x *Var, axis int) *Var {
	splitAxis(op, x.Value.Shape(), axis) // validate, naming our op
	out := fn(tp.arena.GetUninit(x.Value.Shape()...), x.Value, axis)
	v, nd := tp.output(out, back, x, nil, nil)
	if nd != nil {
		nd.k = axis
	}
	return v
}

// backSoftmax: ∂x_k = y_k·(dy_k − Σ_j dy_j·y_j) along the axis.
func backSoftmax(tp *Tape, n *node) { tp.softmaxBack(n, false) }

// backLogSoftmax: ∂x_k = dy_k − exp(y_k)·Σ_j dy_j along the axis.
func backLogSoftmax(tp *Tape, n *node) { tp.softmaxBack(n, true) }

// softmaxBack is the shared backward of Softmax and LogSoftmax.
func (tp *Tape) softmaxBack(n *node, log bool) {
	x := n.in[0]
	s := splitAxis("Softmax", x.Value.Shape(), n.k)
	buf := tp.gradBuf(x)
	dx, dy, y := buf.Data(), n.out.Grad.Data(), n.out.Value.Data()
	last := (s.N - 1) * s.Inner
	for u := range s.Outer * s.Inner {
		base := s.Start(u)
		var dot float64
		for k := base; k <= base+last; k += s.Inner {
			if log {
				dot += float64(dy[k])
			} else {
				dot += float64(dy[k]) * float64(y[k])
			}
		}
		for k := base; k <= base+last; k += s.Inner {
			if log {
				dx[k] = float32(float64(dy[k]) - math.Exp(float64(y[k]))*dot)
			} else {
				dx[k] = float32(float64(y[k]) * (float64(dy[k]) - dot))
			}
		}
	}
	tp.commit(x, buf)
}
