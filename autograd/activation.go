package autograd

import "github.com/bulwark-ml/bulwark/tensor"

// Relu returns max(x, 0) elementwise. Its gradient is 1 where the output
// is positive, else 0.
func (tp *Tape) Relu(x *Var) *Var {
	out := tensor.Relu(tp.arena.GetUninit(x.Value.Shape()...), x.Value)
	v, _ := tp.output(out, backRelu, x, nil, nil)
	return v
}

// backRelu masks dy by the output's sign (y > 0 exactly where x > 0).
func backRelu(tp *Tape, n *node) {
	tp.gradElem(n.in[0], elemReluBack, n.out.Grad.Data(), n.out.Value.Data(), 0, 0)
}

// SiLU returns x·sigmoid(x) elementwise (also called swish).
func (tp *Tape) SiLU(x *Var) *Var {
	out := tp.arena.GetUninit(x.Value.Shape()...)
	tp.runElem(elemSiLU, out.Data(), x.Value.Data(), nil, 0, 0)
	v, _ := tp.output(out, backSiLU, x, nil, nil)
	return v
}

// backSiLU: ∂x = dy·σ(x)·(1 + x·(1 − σ(x))).
func backSiLU(tp *Tape, n *node) {
	x := n.in[0]
	tp.gradElem(x, elemSiLUBack, n.out.Grad.Data(), x.Value.Data(), 0, 0)
}

// Clamp limits x to [lo, hi] elementwise. The gradient is 1 where lo ≤ x ≤
// hi (inclusive, as in PyTorch) and 0 outside.
func (tp *Tape) Clamp(x *Var, lo, hi float32) *Var {
	out := tensor.Clamp(tp.arena.GetUninit(x.Value.Shape()...), x.Value, lo, hi)
	v, nd := tp.output(out, backClamp, x, nil, nil)
	if nd != nil {
		nd.f = [2]float32{lo, hi}
	}
	return v
}

// backClamp passes dy where the input was inside [lo, hi].
func backClamp(tp *Tape, n *node) {
	x := n.in[0]
	tp.gradElem(x, elemClampBack, n.out.Grad.Data(), x.Value.Data(), n.f[0], n.f[1])
}
