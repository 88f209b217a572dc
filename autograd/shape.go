package autograd

import (
	"slices"

	"github.com/bulwark-ml/bulwark/tensor"
)

// Flatten returns x [N, ...] as [N, prod(...)], a view sharing x's
// storage.
func (tp *Tape) Flatten(x *Var) *Var {
	xs := x.Value.Shape()
	if len(xs) == 0 {
		panic("autograd.Flatten: input has shape [], want a batch axis")
	}
	n := 1
	for _, d := range xs[1:] {
		n *= d
	}
	return tp.view(x, xs[0], n)
}

// Reshape returns a view of x with the given shape (one dimension may be
// -1), sharing x's storage; tensor panics, naming both shapes, if the
// element counts differ.
func (tp *Tape) Reshape(x *Var, shape ...int) *Var {
	return tp.view(x, shape...)
}

// view records a view of x's storage with the given shape, whose gradient
// is the output's gradient seen in x's shape.
func (tp *Tape) view(x *Var, shape ...int) *Var {
	v, _ := tp.output(tp.viewOf(x.Value, shape), backView, x, nil, nil)
	return v
}

// backView passes dy to x (its storage order is x's).
func backView(tp *Tape, n *node) { tp.pass(n, n.in[0], 1, true) }

// viewOf returns t viewed with shape (one dimension may be -1). A view
// header costs allocations, so the tape keeps the headers it made, in
// order, and reuses the i-th one of a step when the i-th view asks again
// for the same storage and shape, as every step of a steady loop does.
func (tp *Tape) viewOf(t *tensor.Tensor, shape []int) *tensor.Tensor {
	var buf [maxRank]int
	want, ok := resolveShape(t.Len(), shape, &buf)
	i := tp.views.used
	if i == len(tp.views.heads) {
		tp.views.heads = append(tp.views.heads, nil)
	}
	tp.views.used++
	if c := tp.views.heads[i]; ok && c != nil && sameStorage(c, t) && slices.Equal(c.Shape(), want) {
		return c
	}
	// Not cached, or an invalid shape for tensor.Reshape to report. The
	// copy keeps the caller's shape from escaping.
	v := t.Reshape(slices.Clone(shape)...)
	tp.views.heads[i] = v
	return v
}

// viewCache holds the view headers of the current and previous steps.
type viewCache struct {
	heads []*tensor.Tensor
	used  int
}

// sameStorage reports whether a and b are non-empty and share the same
// storage (same first element and length).
func sameStorage(a, b *tensor.Tensor) bool {
	ad, bd := a.Data(), b.Data()
	return len(ad) > 0 && len(ad) == len(bd) && &ad[0] == &bd[0]
}

// resolveShape writes shape to buf with a -1 dimension replaced by what
// is left of n elements, reporting false if the shape is invalid for n.
func resolveShape(n int, shape []int, buf *[maxRank]int) ([]int, bool) {
	if len(shape) > maxRank {
		return nil, false
	}
	s := buf[:len(shape)]
	infer, prod := -1, 1
	for i, d := range shape {
		s[i] = d
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, false
		default:
			prod *= d
		}
	}
	if infer >= 0 {
		if prod == 0 || n%prod != 0 {
			return nil, false
		}
		s[infer] = n / prod
		prod = n
	}
	return s, prod == n
}
