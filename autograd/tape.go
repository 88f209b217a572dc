package autograd

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/tensor"
)

// Tape records the ops of one forward pass so that Backward can replay
// them in reverse. It owns an arena for every intermediate value and
// gradient and a pool of the Vars it hands out, so a steady loop of
// forward, Backward and Reset allocates nothing after its first step. A Tape is not safe
// for concurrent use; give each goroutine its own.
//
// Vars returned by ops (and their Value and Grad) belong to the tape and
// are recycled by Reset. Backward gives an intermediate's gradient
// storage back to the arena as soon as the op that produced the Var has
// passed the gradient on to its inputs, so that a backward pass holds
// only the gradients alive at once, as values are consumed; an
// intermediate's Grad is therefore not readable after Backward. Leaves
// own theirs.
type Tape struct {
	arena  *tensor.Arena
	nodes  []node
	vars   varPool
	idx    slab[int32]   // MaxPool2d indices
	ints   slab[int]     // copies of CrossEntropy labels
	f64    slab[float64] // per-sample losses
	views  viewCache     // headers of Flatten and Reshape views
	noGrad bool

	elem elemJob // reused runner of the parallel elementwise kernels
	bn   bnJob   // reused runner of BatchNorm2d
	// scratch is per-part scratch of the parallel jobs; see partScratch.
	scratch []float32
}

// node is one recorded op: its backward step, output, inputs and whatever
// the backward step needs from the forward pass. The fields after in are
// a union: each op's forward fills the ones its backward reads.
type node struct {
	back  func(tp *Tape, n *node)
	out   *Var
	in    [3]*Var
	saved [2]*tensor.Tensor
	conv  tensor.ConvParams
	pool  tensor.PoolParams
	idx   []int32
	ints  []int
	f     [2]float32
	k     int
	flag  bool
}

// NewTape returns an empty tape with gradients enabled.
func NewTape() *Tape { return &Tape{arena: tensor.NewArena()} }

// Arena returns the tape's arena, so layers can take step-scoped scratch
// tensors that Reset recycles with everything else.
func (tp *Tape) Arena() *tensor.Arena { return tp.arena }

// Reset forgets the recorded ops and recycles every intermediate Var,
// value and gradient (they are invalid afterwards). Leaves keep their
// Value and Grad.
func (tp *Tape) Reset() {
	clear(tp.nodes) // drop references to leaves and saved tensors
	tp.nodes = tp.nodes[:0]
	tp.vars.reset()
	tp.idx.reset()
	tp.ints.reset()
	tp.f64.reset()
	tp.views.used = 0
	tp.arena.Reset()
}

// NoGrad turns recording off until the returned restore is called: ops
// still compute values but record nothing and return Vars that do not
// require grad. Use it for evaluation and for forward passes whose
// gradient is not wanted. Values still come from the arena, so Reset
// between batches as in training.
func (tp *Tape) NoGrad() (restore func()) {
	prev := tp.noGrad
	tp.noGrad = true
	return func() { tp.noGrad = prev }
}

// GradEnabled reports whether ops are being recorded (NoGrad is not
// active).
func (tp *Tape) GradEnabled() bool { return !tp.noGrad }

// Len returns the number of recorded ops, for tests and diagnostics.
func (tp *Tape) Len() int { return len(tp.nodes) }

// Backward computes the gradient of loss, which must have exactly one
// element, with respect to everything recorded that requires grad, and
// accumulates it into the leaves' Grad. It may be called again on the
// same graph (before Reset); leaves then accumulate once more.
func (tp *Tape) Backward(loss *Var) {
	if loss.Value.Len() != 1 {
		panic(fmt.Sprintf("autograd.Backward: loss has shape %v, want exactly one element (use BackwardFrom to seed a gradient)", loss.Value.Shape()))
	}
	seed := tp.arena.GetUninit(loss.Value.Shape()...)
	seed.Data()[0] = 1
	tp.BackwardFrom(loss, seed)
}

// BackwardFrom is Backward seeded with an explicit gradient of out (same
// shape as out), computing the vector-Jacobian product for every input
// that requires grad. grad is copied, not kept.
func (tp *Tape) BackwardFrom(out *Var, grad *tensor.Tensor) {
	if !tensor.SameShape(out.Value, grad) {
		panic(fmt.Sprintf("autograd.BackwardFrom: output has shape %v, gradient %v", out.Value.Shape(), grad.Shape()))
	}
	if !out.requiresGrad {
		panic(fmt.Sprintf("autograd.BackwardFrom: output %v does not require grad (no input does, or it was computed under NoGrad)", out.Value.Shape()))
	}
	for i := range tp.nodes { // a second Backward starts afresh
		tp.nodes[i].out.Grad, tp.nodes[i].out.owned = nil, nil
	}
	tp.gradElem(out, elemScale, grad.Data(), nil, 1, 0)
	for i := len(tp.nodes) - 1; i >= 0; i-- {
		if n := &tp.nodes[i]; n.out.Grad != nil {
			n.back(tp, n)
			// Every op that reads n.out ran before n (the tape is in
			// forward order), so its gradient is complete and now spent.
			tp.release(n.out)
		}
	}
}

// release gives the storage of v's gradient back to the arena if v owns
// it (an intermediate's, not passed on to an input by pass).
func (tp *Tape) release(v *Var) {
	if v.owned != nil {
		tp.arena.Free(v.owned)
		v.owned = nil
	}
}

// anyGrad reports whether an op on these inputs is recorded: gradients
// are on and some input requires one. Nil inputs (absent biases) count as
// constants.
func (tp *Tape) anyGrad(a, b, c *Var) bool {
	if tp.noGrad {
		return false
	}
	return needs(a) || needs(b) || needs(c)
}

// needs reports whether v is present and requires a gradient.
func needs(v *Var) bool { return v != nil && v.requiresGrad }

// output wraps value as an op's result, recording a node with the given
// backward step if any input requires grad. It returns the Var and the
// node to fill with saved state (nil if nothing was recorded; the pointer
// is valid until the next op).
func (tp *Tape) output(value *tensor.Tensor, back func(*Tape, *node), a, b, c *Var) (*Var, *node) {
	v := tp.vars.get()
	v.Value = value
	if !tp.anyGrad(a, b, c) {
		return v, nil
	}
	v.requiresGrad = true
	tp.nodes = append(tp.nodes, node{back: back, out: v, in: [3]*Var{a, b, c}})
	return v, &tp.nodes[len(tp.nodes)-1]
}

// gradBuf returns a tensor for an op's gradient contribution to v, to be
// overwritten and then passed to commit. If v has no gradient yet (or it
// was cleared by ZeroGrad) the buffer is v.Grad itself, written directly
// with no zeroing or extra pass; otherwise it is arena scratch that commit
// adds to v.Grad.
func (tp *Tape) gradBuf(v *Var) *tensor.Tensor {
	if fresh(v) {
		return tp.freshGrad(v)
	}
	return tp.arena.GetUninit(v.Value.Shape()...)
}

// commit adds buf, from gradBuf(v), into v.Grad unless it already is,
// and gives buf back to the arena then: buf is dead after commit.
func (tp *Tape) commit(v *Var, buf *tensor.Tensor) {
	if buf != v.Grad {
		tp.runElem(elemAxpy, v.Grad.Data(), buf.Data(), nil, 1, 0)
		tp.arena.Free(buf)
	}
}

// fresh reports whether v's gradient is absent or cleared, so that the
// next contribution may be written over it.
func fresh(v *Var) bool { return v.Grad == nil || v.gradZero }

// freshGrad returns v's gradient storage for a contribution to be written
// over, allocating it on first use: owned by a leaf (kept across steps),
// from the arena for an intermediate.
func (tp *Tape) freshGrad(v *Var) *tensor.Tensor {
	if v.Grad == nil {
		if v.leaf {
			v.Grad = tensor.New(v.Value.Shape()...)
		} else {
			v.Grad = tp.arena.GetUninit(v.Value.Shape()...)
			v.owned = v.Grad
		}
	}
	v.gradZero = false
	return v.Grad
}

// pass adds s times the gradient of n's output to input v's gradient.
// If v is an intermediate with no gradient yet, share is set and s is 1,
// v.Grad becomes n.out.Grad itself (or a view of it in v's shape), with
// no copy, and v takes over giving its storage back; the caller must then
// not share it with another input. It reports whether it shared.
func (tp *Tape) pass(n *node, v *Var, s float32, share bool) bool {
	g := n.out.Grad
	if v.Grad == nil && share && !v.leaf && s == 1 {
		if !tensor.SameShape(v.Value, g) {
			g = tp.viewOf(g, v.Value.Shape())
		}
		v.Grad, v.owned, n.out.owned = g, n.out.owned, nil
		return true
	}
	tp.gradElem(v, elemScale, g.Data(), nil, s, 0) // g has v's element count
	return false
}

// gradElem writes (if v's gradient is fresh) or adds the elementwise
// kernel kind of (a, b, p, q) to v's gradient.
func (tp *Tape) gradElem(v *Var, kind elemKind, a, b []float32, p, q float32) {
	if fresh(v) {
		tp.runElem(kind, tp.freshGrad(v).Data(), a, b, p, q)
		return
	}
	tp.runElem(kind|elemAcc, v.Grad.Data(), a, b, p, q)
}

// varPool hands out the tape's Vars from fixed-size chunks, so pointers
// stay valid as it grows and Reset can reuse them all.
type varPool struct {
	chunks [][]Var
	used   int
}

const varChunk = 256

func (p *varPool) get() *Var {
	c, i := p.used/varChunk, p.used%varChunk
	if c == len(p.chunks) {
		p.chunks = append(p.chunks, make([]Var, varChunk))
	}
	p.used++
	v := &p.chunks[c][i]
	*v = Var{}
	return v
}

func (p *varPool) reset() { p.used = 0 }

// slab hands out reusable slices, one per request since the last reset, so
// a step that makes the same requests as the previous one allocates
// nothing.
type slab[T any] struct {
	bufs [][]T
	used int
}

// get returns a slice of length n (contents unspecified).
func (s *slab[T]) get(n int) []T {
	if s.used == len(s.bufs) {
		s.bufs = append(s.bufs, nil)
	}
	b := s.bufs[s.used]
	if cap(b) < n {
		b = make([]T, n)
		s.bufs[s.used] = b
	}
	s.used++
	return b[:n]
}

func (s *slab[T]) reset() { s.used = 0 }
