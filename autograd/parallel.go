package autograd

import (
	"math"

	"github.com/bulwark-ml/bulwark/kernels"
)

// elemKind selects the kernel of an elemJob. Each kernel computes
// dst[i] = k(a[i], b[i], p, q); with elemAcc set it adds to dst instead.
type elemKind uint8

const (
	elemScale     elemKind = iota // p·a
	elemAxpy                      // dst + p·a (always accumulates)
	elemFill                      // p (a and b unused)
	elemReluBack                  // a if b > 0, else 0 (a: dy, b: relu output)
	elemClampBack                 // a if p ≤ b ≤ q, else 0 (a: dy, b: input)
	elemSiLUBack                  // a·σ(b)·(1 + b·(1−σ(b))) (a: dy, b: input)
	elemSiLU                      // a·σ(a) (forward)
	elemAddRelu                   // max(a + b, 0) (forward)

	elemAcc elemKind = 0x80 // flag: add the result to dst
)

// elemGrain is the least number of elements worth a thread of their own.
const elemGrain = 1 << 15

// elemBlock is how many elements an accumulating kernel computes into a
// stack buffer before adding them to dst.
const elemBlock = 512

// elemJob runs an elementwise kernel over contiguous parts of its slices;
// the tape keeps one, so running it allocates nothing.
type elemJob struct {
	kind      elemKind
	dst, a, b []float32
	p, q      float32
	per       int
	scratch   []float32 // elemBlock floats per part
}

// runElem runs kind over dst (and a, b, which are at least as long), in
// parallel when it is large.
func (tp *Tape) runElem(kind elemKind, dst, a, b []float32, p, q float32) {
	n := len(dst)
	parts := min(kernels.Threads(), max(1, n/elemGrain))
	j := &tp.elem
	*j = elemJob{kind: kind, dst: dst, a: a, b: b, p: p, q: q, per: (n + parts - 1) / parts,
		scratch: tp.partScratch(parts, elemBlock)}
	if parts <= 1 {
		j.run(0, n, j.scratch)
	} else {
		kernels.Run(j, parts)
	}
	*j = elemJob{}
}

// partScratch returns the tape's scratch for parts parallel parts of size
// floats each (part i takes [i·size, (i+1)·size)). Kernels are called
// through function values, so a stack buffer passed to them would escape
// to the heap on every call; this one is allocated once.
func (tp *Tape) partScratch(parts, size int) []float32 {
	if n := parts * size; len(tp.scratch) < n {
		tp.scratch = make([]float32, n)
	}
	return tp.scratch
}

// RunPart computes part i of the job.
func (j *elemJob) RunPart(i int) {
	lo := i * j.per
	j.run(lo, min(lo+j.per, len(j.dst)), j.scratch[i*elemBlock:(i+1)*elemBlock])
}

// run computes elements [lo, hi), using buf (elemBlock floats) as scratch.
func (j *elemJob) run(lo, hi int, buf []float32) {
	if j.kind == elemAxpy {
		kernels.Axpy(j.p, j.a[lo:hi], j.dst[lo:hi])
		return
	}
	if j.kind&elemAcc == 0 {
		j.kernel(j.kind, j.dst[lo:hi], lo)
		return
	}
	for s := lo; s < hi; s += elemBlock {
		e := min(s+elemBlock, hi)
		if j.kind&^elemAcc == elemScale { // the common case: one SIMD pass
			kernels.Axpy(j.p, j.a[s:e], j.dst[s:e])
			continue
		}
		t := buf[:e-s]
		j.kernel(j.kind&^elemAcc, t, s)
		kernels.Axpy(1, t, j.dst[s:e])
	}
}

// kernel writes the results for elements [off, off+len(dst)) to dst.
func (j *elemJob) kernel(kind elemKind, dst []float32, off int) {
	n := len(dst)
	var a, b []float32
	if j.a != nil {
		a = j.a[off : off+n]
	}
	if j.b != nil {
		b = j.b[off : off+n]
	}
	switch kind {
	case elemScale:
		if j.p == 1 {
			copy(dst, a)
		} else {
			kernels.ScaleShift(dst, a, j.p, 0)
		}
	case elemFill:
		for i := range dst {
			dst[i] = j.p
		}
	case elemReluBack:
		kernels.ReluBackward(dst, a, b)
	case elemClampBack:
		for i, x := range b {
			if x >= j.p && x <= j.q {
				dst[i] = a[i]
			} else {
				dst[i] = 0
			}
		}
	case elemSiLUBack:
		for i, x := range b {
			s := sigmoid(x)
			dst[i] = a[i] * s * (1 + x*(1-s))
		}
	case elemSiLU:
		for i, x := range a {
			dst[i] = x * sigmoid(x)
		}
	case elemAddRelu:
		// A block at a time, so the sum is rectified from cache.
		for s := 0; s < n; s += elemBlock {
			e := min(s+elemBlock, n)
			kernels.Add(dst[s:e], a[s:e], b[s:e])
			kernels.Relu(dst[s:e], dst[s:e])
		}
	default:
		panic("autograd: unknown elementwise kernel")
	}
}

// sigmoid returns 1/(1+e^-x), computed in float64.
func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }
