package tensor

import (
	"fmt"
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/internal/freelist"
	"github.com/bulwark-ml/bulwark/kernels"
)

// This file holds the elementwise ops and the machinery the other op files
// share: output checking, panic messages and the odometer that walks merged
// dimensions. The splitting of work over the kernels worker pool is in
// scratch.go.

// maxDims bounds how many dimensions an op walks after merging the
// dimensions it can walk as one. Merging makes this a limit on how often
// the broadcast or reduction pattern alternates, not on the rank.
const maxDims = 16

// parallelGrain is the least number of elements worth handing to another
// thread; smaller ops run on the calling goroutine.
const parallelGrain = 1 << 15

// fmtShape formats a shape for a panic message. It copies the shape, so
// that passing a caller's (possibly stack-allocated) shape to a panic path
// does not make it escape to the heap.
func fmtShape(s []int) string { return fmt.Sprint(slices.Clone(s)) }

// panicf panics with "tensor.<op>: " followed by the formatted message.
func panicf(op, format string, args ...any) {
	panic("tensor." + op + ": " + fmt.Sprintf(format, args...))
}

// newTensor allocates a zero tensor with a copy of shape. Unlike New it
// does not let shape escape, so ops can build result shapes on the stack.
func newTensor(op string, shape []int) *Tensor {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panicf(op, "negative dimension in shape %s", fmtShape(shape))
		}
		n *= d
	}
	return &Tensor{shape: slices.Clone(shape), data: make([]float32, n)}
}

// ownShape returns a zero tensor that takes ownership of shape, a freshly
// allocated and valid shape, saving newTensor's copy.
func ownShape(shape []int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{shape: shape, data: make([]float32, n)}
}

// output implements the output convention: a nil out yields a new tensor
// of the given shape; otherwise out must have exactly that shape.
func output(op string, out *Tensor, shape []int) *Tensor {
	if out == nil {
		return newTensor(op, shape)
	}
	if !slices.Equal(out.shape, shape) {
		panicf(op, "out has shape %s, want %s", fmtShape(out.shape), fmtShape(shape))
	}
	return out
}

// normAxis resolves a possibly negative axis against a rank, panicking
// (naming op and shape) if it is out of range.
func normAxis(op string, axis int, shape []int) int {
	if axis < -len(shape) || axis >= len(shape) {
		panicf(op, "axis %d out of range for shape %s", axis, fmtShape(shape))
	}
	if axis < 0 {
		axis += len(shape)
	}
	return axis
}

// odometer walks a multi-index over up to maxDims dimensions, fastest
// first, and keeps the matching element offsets into two operands, so a
// step costs a few additions instead of a division per dimension.
type odometer struct {
	n    int
	dims [maxDims]int
	st   [2][maxDims]int
	idx  [maxDims]int
	off  [2]int
}

// push adds a dimension of size d, slower than those already pushed, with
// strides s0 and s1 in the two operands.
func (o *odometer) push(op string, d, s0, s1 int) {
	if o.n == maxDims {
		panicf(op, "more than %d dimensions remain after merging", maxDims)
	}
	o.dims[o.n], o.st[0][o.n], o.st[1][o.n] = d, s0, s1
	o.n++
}

// count returns the number of positions (1 for no dimensions).
func (o *odometer) count() int {
	c := 1
	for _, d := range o.dims[:o.n] {
		c *= d
	}
	return c
}

// seek moves to the i-th position in walking order.
func (o *odometer) seek(i int) {
	o.off = [2]int{}
	for d := range o.n {
		x := i % o.dims[d]
		i /= o.dims[d]
		o.idx[d] = x
		o.off[0] += x * o.st[0][d]
		o.off[1] += x * o.st[1][d]
	}
}

// next moves to the following position, wrapping to the first after the
// last.
func (o *odometer) next() {
	for d := range o.n {
		o.idx[d]++
		o.off[0] += o.st[0][d]
		o.off[1] += o.st[1][d]
		if o.idx[d] < o.dims[d] {
			return
		}
		o.idx[d] = 0
		o.off[0] -= o.st[0][d] * o.dims[d]
		o.off[1] -= o.st[1][d] * o.dims[d]
	}
}

// binaryOp is an elementwise binary operation as three slice kernels, one
// per pattern the innermost merged dimension can have: both operands
// contiguous (vv), b broadcast (vs) and a broadcast (sv). dst may alias
// the slice operands.
type binaryOp struct {
	name string
	vv   func(dst, x, y []float32)
	vs   func(dst, x []float32, s float32)
	sv   func(dst []float32, s float32, y []float32)
}

// commuted returns the sv kernel of a commutative op given its vs kernel.
func commuted(vs func(dst, x []float32, s float32)) func(dst []float32, s float32, y []float32) {
	return func(dst []float32, s float32, y []float32) { vs(dst, y, s) }
}

var (
	opAdd = &binaryOp{"Add", kernels.Add, addVS, commuted(addVS)}
	opSub = &binaryOp{"Sub", subVV, subVS, subSV}
	opMul = &binaryOp{"Mul", kernels.Mul, mulVS, commuted(mulVS)}
	opDiv = &binaryOp{"Div", divVV, divVS, divSV}
	opMax = &binaryOp{"Maximum", maxVV, maxVS, commuted(maxVS)}
	opMin = &binaryOp{"Minimum", minVV, minVS, commuted(minVS)}
)

// binaryJob is a broadcast binary op reduced to runs along the innermost
// merged dimension (length inner, operand strides ia and ib, each 0 or 1)
// and an odometer over the outer merged dimensions. Units are output
// elements.
type binaryJob struct {
	op        *binaryOp
	dst, a, b []float32
	inner     int
	ia, ib    int
	outer     odometer
}

var binaryRuns = freelist.List[chunked[binaryJob, *binaryJob]]{Max: scratchMax}

// setup merges the broadcast of shapes as and bs into runs, walking from
// the innermost dimension out. Size-1 result dimensions are dropped, and a
// dimension joins the one inside it when both operands step through the
// pair as through one dimension. So same shapes become one contiguous run
// (a single vv call), a scalar operand one vs or sv call, and a bias row
// [N,C]+[C] N vv calls of length C. It reports false if the shapes do not
// broadcast.
func (j *binaryJob) setup(as, bs []int) bool {
	var dims, sa, sb [maxDims + 1]int
	k := 0
	stA, stB := 1, 1
	for i := 1; i <= max(len(as), len(bs)); i++ {
		d, da, db, ok := broadcastDim(as, bs, i)
		if !ok {
			return false
		}
		if d != 1 {
			ta, tb := stA, stB
			if da == 1 {
				ta = 0
			}
			if db == 1 {
				tb = 0
			}
			if k > 0 && ta == sa[k-1]*dims[k-1] && tb == sb[k-1]*dims[k-1] {
				dims[k-1] *= d
			} else {
				if k == maxDims+1 {
					panicf(j.op.name, "shapes %s and %s need more than %d dimensions after merging",
						fmtShape(as), fmtShape(bs), maxDims)
				}
				dims[k], sa[k], sb[k] = d, ta, tb
				k++
			}
		}
		stA *= da
		stB *= db
	}
	if k == 0 { // a single element
		dims[0], sa[0], sb[0], k = 1, 1, 1, 1
	}
	j.inner, j.ia, j.ib = dims[0], sa[0], sb[0]
	for i := 1; i < k; i++ {
		j.outer.push(j.op.name, dims[i], sa[i], sb[i])
	}
	return true
}

// runRange computes output elements [lo, hi), one run at a time.
func (j *binaryJob) runRange(lo, hi int) {
	o := j.outer
	o.seek(lo / j.inner)
	col := lo % j.inner
	for pos := lo; pos < hi; {
		n := min(j.inner-col, hi-pos)
		d := j.dst[pos : pos+n]
		oa, ob := o.off[0]+col*j.ia, o.off[1]+col*j.ib
		switch {
		case j.ia == j.ib:
			j.op.vv(d, j.a[oa:oa+n], j.b[ob:ob+n])
		case j.ib == 0:
			j.op.vs(d, j.a[oa:oa+n], j.b[ob])
		default:
			j.op.sv(d, j.a[oa], j.b[ob:ob+n])
		}
		pos += n
		col = 0
		o.next()
	}
}

// broadcastDim returns the i-th dimension from the end (i >= 1) of the
// broadcast of shapes as and bs, the operands' own sizes there (1 where
// an operand has too few axes), and whether they broadcast.
func broadcastDim(as, bs []int, i int) (d, da, db int, ok bool) {
	da, db = 1, 1
	if i <= len(as) {
		da = as[len(as)-i]
	}
	if i <= len(bs) {
		db = bs[len(bs)-i]
	}
	switch {
	case da == db || db == 1:
		return da, da, db, true
	case da == 1:
		return db, da, db, true
	}
	return 0, da, db, false
}

// broadcastShape returns the NumPy broadcast of shapes as and bs, which
// are known to broadcast.
func broadcastShape(as, bs []int) []int {
	s, _ := BroadcastShape(make([]int, max(len(as), len(bs))), as, bs)
	return s
}

// BroadcastShape writes the NumPy broadcast of shapes as and bs into dst,
// which must hold max(len(as), len(bs)) ints, and returns it resliced to
// that rank; ok is false if the shapes do not broadcast. It does not
// allocate, so ops can check shapes on the hot path.
func BroadcastShape(dst, as, bs []int) (shape []int, ok bool) {
	s := dst[:max(len(as), len(bs))]
	for i := 1; i <= len(s); i++ {
		d, _, _, ok := broadcastDim(as, bs, i)
		if !ok {
			return nil, false
		}
		s[len(s)-i] = d
	}
	return s, true
}

// isBroadcastOf reports whether shape is the broadcast of as and bs, which
// are known to broadcast. It does not allocate.
func isBroadcastOf(shape, as, bs []int) bool {
	if len(shape) != max(len(as), len(bs)) {
		return false
	}
	for i := 1; i <= len(shape); i++ {
		if d, _, _, _ := broadcastDim(as, bs, i); shape[len(shape)-i] != d {
			return false
		}
	}
	return true
}

// binary runs op with broadcasting: the shared body of Add, Sub, Mul, Div,
// Maximum and Minimum.
func binary(op *binaryOp, out, a, b *Tensor) *Tensor {
	j := binaryJob{op: op}
	if !j.setup(a.shape, b.shape) {
		panicf(op.name, "shapes %s and %s do not broadcast", fmtShape(a.shape), fmtShape(b.shape))
	}
	switch {
	case out == nil:
		out = ownShape(broadcastShape(a.shape, b.shape))
	case !isBroadcastOf(out.shape, a.shape, b.shape):
		panicf(op.name, "out has shape %s, want %s (the broadcast of %s and %s)",
			fmtShape(out.shape), fmtShape(broadcastShape(a.shape, b.shape)), fmtShape(a.shape), fmtShape(b.shape))
	}
	n := len(out.data)
	if n == 0 {
		return out
	}
	j.dst, j.a, j.b = out.data, a.data, b.data
	if parts := numParts(n, parallelGrain); parts > 1 {
		runChunked(&binaryRuns, j, n, parts)
	} else {
		j.runRange(0, n)
	}
	return out
}

// Add returns a + b elementwise, with broadcasting.
func Add(out, a, b *Tensor) *Tensor { return binary(opAdd, out, a, b) }

// Sub returns a - b elementwise, with broadcasting.
func Sub(out, a, b *Tensor) *Tensor { return binary(opSub, out, a, b) }

// Mul returns a * b elementwise, with broadcasting.
func Mul(out, a, b *Tensor) *Tensor { return binary(opMul, out, a, b) }

// Div returns a / b elementwise, with broadcasting. Division by zero
// follows IEEE 754 (±Inf or NaN); it does not panic.
func Div(out, a, b *Tensor) *Tensor { return binary(opDiv, out, a, b) }

// Maximum returns the elementwise larger of a and b, with broadcasting. A
// NaN in either operand gives NaN, as in NumPy's maximum.
func Maximum(out, a, b *Tensor) *Tensor { return binary(opMax, out, a, b) }

// Minimum returns the elementwise smaller of a and b, with broadcasting. A
// NaN in either operand gives NaN, as in NumPy's minimum.
func Minimum(out, a, b *Tensor) *Tensor { return binary(opMin, out, a, b) }

// unaryJob applies a slice kernel with two scalar parameters to ranges of
// elements.
type unaryJob struct {
	fn     func(dst, x []float32, p, q float32)
	dst, x []float32
	p, q   float32
}

var unaryRuns = freelist.List[chunked[unaryJob, *unaryJob]]{Max: scratchMax}

func (j *unaryJob) runRange(lo, hi int) { j.fn(j.dst[lo:hi], j.x[lo:hi], j.p, j.q) }

// unary is the shared body of the one-operand elementwise ops.
func unary(op string, out, a *Tensor, fn func(dst, x []float32, p, q float32), p, q float32) *Tensor {
	out = output(op, out, a.shape)
	j := unaryJob{fn: fn, dst: out.data, x: a.data, p: p, q: q}
	n := len(out.data)
	if parts := numParts(n, parallelGrain); parts > 1 {
		runChunked(&unaryRuns, j, n, parts)
	} else {
		j.runRange(0, n)
	}
	return out
}

// AddScalar returns a + s elementwise.
func AddScalar(out, a *Tensor, s float32) *Tensor {
	return unary("AddScalar", out, a, addScalarU, s, 0)
}

// MulScalar returns a * s elementwise.
func MulScalar(out, a *Tensor, s float32) *Tensor {
	return unary("MulScalar", out, a, mulScalarU, s, 0)
}

// Neg returns -a elementwise.
func Neg(out, a *Tensor) *Tensor { return unary("Neg", out, a, negU, 0, 0) }

// Exp returns e^a elementwise, computed in float64 and rounded.
func Exp(out, a *Tensor) *Tensor { return unary("Exp", out, a, expU, 0, 0) }

// Log returns the natural logarithm of a elementwise: -Inf at 0, NaN below.
func Log(out, a *Tensor) *Tensor { return unary("Log", out, a, logU, 0, 0) }

// Sqrt returns the square root of a elementwise (NaN for negatives).
func Sqrt(out, a *Tensor) *Tensor { return unary("Sqrt", out, a, sqrtU, 0, 0) }

// Abs returns |a| elementwise.
func Abs(out, a *Tensor) *Tensor { return unary("Abs", out, a, absU, 0, 0) }

// Sign returns -1, 0 or +1 by the sign of each element of a (NaN stays
// NaN). FGSM and PGD step along the sign of the gradient.
func Sign(out, a *Tensor) *Tensor { return unary("Sign", out, a, signU, 0, 0) }

// Clamp limits every element of a to [lo, hi] (NaN stays NaN); attacks use
// it to project onto the ε-ball and the [0,1] image box. It panics if
// lo > hi.
func Clamp(out, a *Tensor, lo, hi float32) *Tensor {
	if lo > hi {
		panicf("Clamp", "lo %v > hi %v for shape %s", lo, hi, fmtShape(a.shape))
	}
	return unary("Clamp", out, a, clampU, lo, hi)
}

// Relu returns max(a, 0) elementwise: negatives become +0, while NaN
// (and -0) pass through, as in PyTorch, so a NaN inside a network reaches
// the loss (kernels.Relu).
func Relu(out, a *Tensor) *Tensor { return unary("Relu", out, a, reluU, 0, 0) }

// The slice kernels below compute dst[i] from x[i] (and y[i] or s) for
// i < len(dst); dst may alias x or y.

func addVS(dst, x []float32, s float32) { kernels.ScaleShift(dst, x, 1, s) } // x·1+s is exactly x+s

// mulVS copies then scales in place, both SIMD, rather than using
// ScaleShift(x, s, 0), which would turn a product of -0 into +0.
func mulVS(dst, x []float32, s float32) {
	if len(dst) > 0 && &dst[0] != &x[0] {
		copy(dst, x[:len(dst)])
	}
	kernels.Scale(s, dst)
}

func subVV(dst, x, y []float32) { zipV(dst, x, y, func(a, b float32) float32 { return a - b }) }

func subVS(dst, x []float32, s float32) { kernels.ScaleShift(dst, x, 1, -s) }

func subSV(dst []float32, s float32, y []float32) { kernels.ScaleShift(dst, y, -1, s) }

func divVV(dst, x, y []float32) { zipV(dst, x, y, func(a, b float32) float32 { return a / b }) }

func divVS(dst, x []float32, s float32) { mapV(dst, x, func(a float32) float32 { return a / s }) }

func divSV(dst []float32, s float32, y []float32) {
	mapV(dst, y, func(b float32) float32 { return s / b })
}

func maxVV(dst, x, y []float32) { zipV(dst, x, y, func(a, b float32) float32 { return max(a, b) }) }

func maxVS(dst, x []float32, s float32) { mapV(dst, x, func(a float32) float32 { return max(a, s) }) }

func minVV(dst, x, y []float32) { zipV(dst, x, y, func(a, b float32) float32 { return min(a, b) }) }

func minVS(dst, x []float32, s float32) { mapV(dst, x, func(a float32) float32 { return min(a, s) }) }

// zipV sets dst[i] = f(x[i], y[i]) and mapV dst[i] = f(x[i]) for
// i < len(dst): the one loop of the kernels here that have no SIMD form,
// each of which passes its operation as a function literal. Both are
// small enough to inline, and the literal is then inlined into the loop,
// so a kernel compiles to the loop it would have written out.
func zipV(dst, x, y []float32, f func(a, b float32) float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		dst[i] = f(x[i], y[i])
	}
}

func mapV(dst, x []float32, f func(a float32) float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = f(x[i])
	}
}

// Unary kernels, in the form unaryJob calls: p and q are the op's scalar
// parameters, unused by most.

func addScalarU(dst, x []float32, s, _ float32) { addVS(dst, x, s) }

func mulScalarU(dst, x []float32, s, _ float32) { mulVS(dst, x, s) }

func reluU(dst, x []float32, _, _ float32) { kernels.Relu(dst, x) }

func negU(dst, x []float32, _, _ float32) { mapV(dst, x, func(a float32) float32 { return -a }) }

func expU(dst, x []float32, _, _ float32) {
	mapV(dst, x, func(a float32) float32 { return float32(math.Exp(float64(a))) })
}

func logU(dst, x []float32, _, _ float32) {
	mapV(dst, x, func(a float32) float32 { return float32(math.Log(float64(a))) })
}

// sqrtU rounds the float64 root, which equals the correctly rounded
// float32 root.
func sqrtU(dst, x []float32, _, _ float32) {
	mapV(dst, x, func(a float32) float32 { return float32(math.Sqrt(float64(a))) })
}

func absU(dst, x []float32, _, _ float32) {
	mapV(dst, x, func(a float32) float32 { return math.Float32frombits(math.Float32bits(a) &^ (1 << 31)) })
}

func signU(dst, x []float32, _, _ float32) {
	mapV(dst, x, func(v float32) float32 {
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		default: // ±0 and NaN map to themselves
			return v
		}
	})
}

func clampU(dst, x []float32, lo, hi float32) {
	mapV(dst, x, func(a float32) float32 { return min(max(a, lo), hi) })
}
