package autograd

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/tensor"
)

// maxRank bounds the rank of broadcast results built on the stack.
const maxRank = 8

// broadcastShape writes the NumPy broadcast of a's and b's shapes to buf
// and returns it, panicking, naming op and both shapes, if they do not
// broadcast.
func broadcastShape(op string, a, b *tensor.Tensor, buf *[maxRank]int) []int {
	as, bs := a.Shape(), b.Shape()
	if max(len(as), len(bs)) > maxRank {
		panic(fmt.Sprintf("autograd.%s: shapes %v and %v have rank above %d", op, as, bs, maxRank))
	}
	s, ok := tensor.BroadcastShape(buf[:], as, bs)
	if !ok {
		panic(fmt.Sprintf("autograd.%s: shapes %v and %v do not broadcast", op, as, bs))
	}
	return s
}

// binary is the forward of Add, Sub and Mul: fn(out, a, b) into an arena
// tensor of the broadcast shape.
func (tp *Tape) binary(op string, fn func(out, a, b *tensor.Tensor) *tensor.Tensor,
	back func(*Tape, *node), a, b *Var) *Var {
	var buf [maxRank]int
	out := tp.arena.GetUninit(broadcastShape(op, a.Value, b.Value, &buf)...)
	fn(out, a.Value, b.Value)
	v, _ := tp.output(out, back, a, b, nil)
	return v
}

// Add returns a + b elementwise, with NumPy broadcasting.
func (tp *Tape) Add(a, b *Var) *Var { return tp.binary("Add", tensor.Add, backAdd, a, b) }

// Sub returns a − b elementwise, with NumPy broadcasting.
func (tp *Tape) Sub(a, b *Var) *Var { return tp.binary("Sub", tensor.Sub, backSub, a, b) }

// Mul returns a ⊙ b elementwise, with NumPy broadcasting.
func (tp *Tape) Mul(a, b *Var) *Var { return tp.binary("Mul", tensor.Mul, backMul, a, b) }

// AddReLU returns max(a + b, 0) elementwise, as one op: the sum is
// rectified while it is in cache and never stored apart, and the backward
// pass masks the gradient in place before passing it on. a and b must
// have the same shape (the residual join of a ResNet block). Values and
// gradients are the same bits as Relu(Add(a, b))'s.
func (tp *Tape) AddReLU(a, b *Var) *Var {
	if !tensor.SameShape(a.Value, b.Value) {
		panic(fmt.Sprintf("autograd.AddReLU: shapes %v and %v differ", a.Value.Shape(), b.Value.Shape()))
	}
	out := tp.arena.GetUninit(a.Value.Shape()...)
	tp.runElem(elemAddRelu, out.Data(), a.Value.Data(), b.Value.Data(), 0, 0)
	v, _ := tp.output(out, backAddReLU, a, b, nil)
	return v
}

// backAddReLU masks dy by the output's sign in place (it is spent once
// this op has run), then passes it to both inputs as backAdd does.
func backAddReLU(tp *Tape, n *node) {
	dy := n.out.Grad.Data()
	tp.runElem(elemReluBack, dy, dy, n.out.Value.Data(), 0, 0)
	tp.addPair(n, 1, 1)
}

// backAdd: ∂a = ∂b = dy, summed over broadcast axes.
func backAdd(tp *Tape, n *node) {
	tp.addPair(n, 1, 1)
}

// backSub: ∂a = dy, ∂b = −dy, summed over broadcast axes.
func backSub(tp *Tape, n *node) {
	tp.addPair(n, 1, -1)
}

// addPair passes sa·dy to input 0 and sb·dy to input 1 of n, reducing
// over broadcast axes. dy itself may become the gradient of one of them.
func (tp *Tape) addPair(n *node, sa, sb float32) {
	dy := n.out.Grad
	shared := false
	for i, s := range [2]float32{sa, sb} {
		if v := n.in[i]; needs(v) {
			if tensor.SameShape(v.Value, dy) {
				shared = tp.pass(n, v, s, !shared) || shared
			} else {
				tp.reduceGrad(v, dy, s)
			}
		}
	}
}

// reduceGrad adds s·g, a gradient of the broadcast shape, to v's gradient,
// summing over the axes along which v was broadcast.
func (tp *Tape) reduceGrad(v *Var, g *tensor.Tensor, s float32) {
	buf := tp.gradBuf(v)
	tensor.SumTo(buf, g, v.Value.Shape())
	if s != 1 {
		tensor.MulScalar(buf, buf, s)
	}
	tp.commit(v, buf)
}

// backMul: ∂a = dy ⊙ b, ∂b = dy ⊙ a, summed over broadcast axes.
func backMul(tp *Tape, n *node) {
	dy := n.out.Grad
	for i := range 2 {
		v, other := n.in[i], n.in[1-i]
		if !needs(v) {
			continue
		}
		if tensor.SameShape(v.Value, dy) {
			buf := tp.gradBuf(v)
			tensor.Mul(buf, dy, other.Value)
			tp.commit(v, buf)
			continue
		}
		t := tp.arena.GetUninit(dy.Shape()...)
		tensor.Mul(t, dy, other.Value)
		tp.reduceGrad(v, t, 1)
		tp.arena.Free(t)
	}
}

// AddScalar returns a + s elementwise.
func (tp *Tape) AddScalar(a *Var, s float32) *Var {
	out := tensor.AddScalar(tp.arena.GetUninit(a.Value.Shape()...), a.Value, s)
	v, _ := tp.output(out, backAddScalar, a, nil, nil)
	return v
}

// backAddScalar: ∂a = dy.
func backAddScalar(tp *Tape, n *node) { tp.pass(n, n.in[0], 1, true) }

// MulScalar returns a·s elementwise.
func (tp *Tape) MulScalar(a *Var, s float32) *Var {
	out := tensor.MulScalar(tp.arena.GetUninit(a.Value.Shape()...), a.Value, s)
	v, nd := tp.output(out, backMulScalar, a, nil, nil)
	if nd != nil {
		nd.f[0] = s
	}
	return v
}

// backMulScalar: ∂a = s·dy.
func backMulScalar(tp *Tape, n *node) { tp.pass(n, n.in[0], n.f[0], true) }
