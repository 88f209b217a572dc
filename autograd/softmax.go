package autograd

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/tensor"
)

// axisSplit describes a shape as [outer, n, inner] around one axis: vector
// u (of outer·inner) has n elements at stride inner, starting at
// (u/inner)·n·inner + u%inner.
type axisSplit struct{ outer, n, inner int }

// splitAxis splits shape around axis (negative counts from the end),
// panicking, naming op, if the axis is out of range.
func splitAxis(op string, shape []int, axis int) axisSplit {
	if axis < -len(shape) || axis >= len(shape) {
		panic(fmt.Sprintf("autograd.%s: axis %d out of range for shape %v", op, axis, shape))
	}
	if axis < 0 {
		axis += len(shape)
	}
	s := axisSplit{outer: 1, n: shape[axis], inner: 1}
	for _, d := range shape[:axis] {
		s.outer *= d
	}
	for _, d := range shape[axis+1:] {
		s.inner *= d
	}
	return s
}

// start returns the offset of vector u's first element.
func (s axisSplit) start(u int) int { return u/s.inner*s.n*s.inner + u%s.inner }

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
	last := (s.n - 1) * s.inner
	for u := range s.outer * s.inner {
		base := s.start(u)
		var dot float64
		for k := base; k <= base+last; k += s.inner {
			if log {
				dot += float64(dy[k])
			} else {
				dot += float64(dy[k]) * float64(y[k])
			}
		}
		for k := base; k <= base+last; k += s.inner {
			if log {
				dx[k] = float32(float64(dy[k]) - math.Exp(float64(y[k]))*dot)
			} else {
				dx[k] = float32(float64(y[k]) * (float64(dy[k]) - dot))
			}
		}
	}
	tp.commit(x, buf)
}
