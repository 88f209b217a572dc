package autograd

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// gemm computes c = op(a)·op(b) + beta·c for 2-D tensors, where op
// transposes when its flag is set. Shapes are the caller's to check.
func gemm(transA, transB bool, a, b *tensor.Tensor, beta float32, c *tensor.Tensor) {
	m, k := a.Dim(0), a.Dim(1)
	if transA {
		m, k = k, m
	}
	n := b.Dim(1)
	if transB {
		n = b.Dim(0)
	}
	kernels.Sgemm(transA, transB, m, n, k, 1, a.Data(), max(1, a.Dim(1)), b.Data(), max(1, b.Dim(1)),
		beta, c.Data(), max(1, n))
}

// gemmGrad adds op(a)·op(b) to v's gradient, writing it directly if v's
// gradient is fresh (the product's beta does the accumulation, with no
// scratch).
func (tp *Tape) gemmGrad(v *Var, transA, transB bool, a, b *tensor.Tensor) {
	if fresh(v) {
		gemm(transA, transB, a, b, 0, tp.freshGrad(v))
		return
	}
	gemm(transA, transB, a, b, 1, v.Grad)
}

// MatMul returns op(a)·op(b) for 2-D a and b, where op transposes its
// argument when transA (transB) is set, without copying it.
func (tp *Tape) MatMul(a, b *Var, transA, transB bool) *Var {
	as, bs := a.Value.Shape(), b.Value.Shape()
	if len(as) != 2 || len(bs) != 2 {
		panic(fmt.Sprintf("autograd.MatMul: shapes %v and %v are not both 2-D", as, bs))
	}
	m, k := as[0], as[1]
	if transA {
		m, k = k, m
	}
	k2, n := bs[0], bs[1]
	if transB {
		k2, n = n, k2
	}
	if k != k2 {
		panic(fmt.Sprintf("autograd.MatMul: shapes %v and %v do not match (transA=%v, transB=%v)", as, bs, transA, transB))
	}
	out := tp.arena.GetUninit(m, n)
	gemm(transA, transB, a.Value, b.Value, 0, out)
	v, nd := tp.output(out, backMatMul, a, b, nil)
	if nd != nil {
		nd.k = boolBits(transA, transB)
	}
	return v
}

// boolBits packs two flags into an int for node.k.
func boolBits(x, y bool) int {
	k := 0
	if x {
		k |= 1
	}
	if y {
		k |= 2
	}
	return k
}

// backMatMul: for C = op(A)·op(B),
// ∂A = dC·op(B)ᵀ (or op(B)·dCᵀ if A is transposed) and
// ∂B = op(A)ᵀ·dC (or dCᵀ·op(A) if B is transposed).
func backMatMul(tp *Tape, n *node) {
	dc, a, b := n.out.Grad, n.in[0], n.in[1]
	transA, transB := n.k&1 != 0, n.k&2 != 0
	if needs(a) {
		if transA {
			tp.gemmGrad(a, transB, true, b.Value, dc)
		} else {
			tp.gemmGrad(a, false, !transB, dc, b.Value)
		}
	}
	if needs(b) {
		if transB {
			tp.gemmGrad(b, true, transA, dc, a.Value)
		} else {
			tp.gemmGrad(b, !transA, false, a.Value, dc)
		}
	}
}

// Linear returns x·wᵀ + b for x [N, in], w [out, in] (PyTorch's layout)
// and b [out] or nil, as a fully connected layer.
func (tp *Tape) Linear(x, w, b *Var) *Var {
	xs, ws := x.Value.Shape(), w.Value.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		panic(fmt.Sprintf("autograd.Linear: input %v and weight %v: want [N, in] and [out, in]", xs, ws))
	}
	nb, nout := xs[0], ws[0]
	out := tp.arena.GetUninit(nb, nout)
	var beta float32
	if b != nil {
		if bs := b.Value.Shape(); len(bs) != 1 || bs[0] != nout {
			panic(fmt.Sprintf("autograd.Linear: bias %v and weight %v: want bias [%d]", bs, ws, nout))
		}
		od, bd := out.Data(), b.Value.Data()
		for i := range nb {
			copy(od[i*nout:(i+1)*nout], bd)
		}
		beta = 1
	}
	gemm(false, true, x.Value, w.Value, beta, out)
	v, _ := tp.output(out, backLinear, x, w, b)
	return v
}

// backLinear: ∂x = dy·w, ∂w = dyᵀ·x, ∂b = Σ_rows dy.
func backLinear(tp *Tape, n *node) {
	dy, x, w, b := n.out.Grad, n.in[0], n.in[1], n.in[2]
	if needs(x) {
		tp.gemmGrad(x, false, false, dy, w.Value)
	}
	if needs(w) {
		tp.gemmGrad(w, true, false, dy, x.Value)
	}
	if needs(b) {
		tp.reduceGrad(b, dy, 1)
	}
}
