package tensor

import (
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/internal/freelist"
	"github.com/bulwark-ml/bulwark/kernels"
)

// reduceKind selects what a reduction computes.
type reduceKind uint8

const (
	reduceSum reduceKind = iota
	reduceMax
	reduceMin
)

// sumChunk is how many elements kernels.Sum adds in float32 before the
// partial sum joins a float64 accumulator: the SIMD speed of the kernel
// with rounding error that does not grow with the length of the input.
const sumChunk = 1024

// reduceTile is how many adjacent outputs a reduction over outer axes
// accumulates at once, in float64 on the stack.
const reduceTile = 256

// sumFloat64 returns the sum of x, accumulated as described at sumChunk.
func sumFloat64(x []float32) float64 {
	var s float64
	for len(x) > sumChunk {
		s += float64(kernels.Sum(x[:sumChunk]))
		x = x[sumChunk:]
	}
	return s + float64(kernels.Sum(x))
}

// minFloat32 returns the smallest element of x, NaN if any is NaN, +Inf
// if x is empty.
func minFloat32(x []float32) float32 {
	m := float32(math.Inf(1))
	for _, v := range x {
		if v < m {
			m = v
		} else if v != v {
			return v
		}
	}
	return m
}

// SumAll returns the sum of all elements. Chunks are summed with SIMD in
// float32 and combined in float64, so the error does not grow with size.
func SumAll(a *Tensor) float32 { return float32(sumFloat64(a.data)) }

// MeanAll returns the mean of all elements (NaN for an empty tensor).
func MeanAll(a *Tensor) float32 {
	return float32(sumFloat64(a.data) / float64(len(a.data)))
}

// MaxAll returns the largest element, NaN if any element is NaN. It panics
// on an empty tensor, which has no maximum.
func MaxAll(a *Tensor) float32 {
	if len(a.data) == 0 {
		panicf("MaxAll", "empty tensor of shape %s", fmtShape(a.shape))
	}
	return kernels.Max(a.data)
}

// MinAll returns the smallest element, NaN if any element is NaN. It
// panics on an empty tensor, which has no minimum.
func MinAll(a *Tensor) float32 {
	if len(a.data) == 0 {
		panicf("MinAll", "empty tensor of shape %s", fmtShape(a.shape))
	}
	return minFloat32(a.data)
}

// Sum returns the sum of a over the given axes (all axes if none are
// given). Negative axes count from the end. With keepDims the reduced axes
// stay in the result with size 1, so it broadcasts against a.
func Sum(out, a *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce("Sum", reduceSum, false, out, a, keepDims, axes)
}

// Mean returns the mean of a over the given axes; see Sum for the axes.
// A mean over an empty axis is NaN.
func Mean(out, a *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce("Mean", reduceSum, true, out, a, keepDims, axes)
}

// Max returns the maximum of a over the given axes; see Sum for the axes.
// NaNs propagate. It panics if a reduced axis is empty.
func Max(out, a *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce("Max", reduceMax, false, out, a, keepDims, axes)
}

// Min returns the minimum of a over the given axes; see Sum for the axes.
// NaNs propagate. It panics if a reduced axis is empty.
func Min(out, a *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce("Min", reduceMin, false, out, a, keepDims, axes)
}

// SumTo sums a, the result of broadcasting some tensor of the given shape,
// back to that shape: the gradient of a broadcasting op with respect to
// an input. shape must broadcast to a's shape; leading axes a has in
// addition are summed away, and axes where shape has 1 are summed with the
// 1 kept.
func SumTo(out, a *Tensor, shape []int) *Tensor {
	ra, rs := len(a.shape), len(shape)
	ok := rs <= ra && ra <= 64
	var mask uint64
	for i := 0; ok && i < ra; i++ {
		k := i - (ra - rs)
		switch {
		case k < 0:
			mask |= 1 << i
		case shape[k] == a.shape[i]:
		case shape[k] == 1:
			mask |= 1 << i
		default:
			ok = false
		}
	}
	if !ok {
		panicf("SumTo", "cannot reduce shape %s to %s", fmtShape(a.shape), fmtShape(shape))
	}
	out = output("SumTo", out, shape)
	reduceInto("SumTo", reduceSum, 1, out.data, a, mask)
	return out
}

// reduce is the shared body of Sum, Mean, Max and Min.
func reduce(op string, kind reduceKind, mean bool, out, a *Tensor, keepDims bool, axes []int) *Tensor {
	mask := axesMask(op, a.shape, axes)
	switch {
	case out == nil:
		out = ownShape(reducedShape(a.shape, mask, keepDims))
	case !isReducedShape(out.shape, a.shape, mask, keepDims):
		panicf(op, "out has shape %s, want %s (shape %s reduced over axes %v, keepDims=%v)",
			fmtShape(out.shape), fmtShape(reducedShape(a.shape, mask, keepDims)), fmtShape(a.shape),
			fmtShape(axes), keepDims)
	}
	scale := 1.0
	if mean {
		n := 1
		for i, d := range a.shape {
			if mask&(1<<i) != 0 {
				n *= d
			}
		}
		scale = 1 / float64(n)
	}
	reduceInto(op, kind, scale, out.data, a, mask)
	return out
}

// axesMask returns the set of axes as a bit mask, all axes if there are
// none, panicking on an axis out of range or given twice.
func axesMask(op string, shape []int, axes []int) uint64 {
	if len(shape) > 64 {
		panicf(op, "rank %d above 64 in shape %s", len(shape), fmtShape(shape))
	}
	if len(axes) == 0 {
		return 1<<uint(len(shape)) - 1
	}
	var m uint64
	for _, ax := range axes {
		i := normAxis(op, ax, shape)
		if m&(1<<i) != 0 {
			panicf(op, "axis %d given twice in %s for shape %s", ax, fmtShape(axes), fmtShape(shape))
		}
		m |= 1 << i
	}
	return m
}

// appendReduced appends to dst the shape with the axes in mask removed,
// or set to 1 with keepDims.
func appendReduced(dst, shape []int, mask uint64, keepDims bool) []int {
	for i, d := range shape {
		if mask&(1<<i) != 0 {
			if !keepDims {
				continue
			}
			d = 1
		}
		dst = append(dst, d)
	}
	return dst
}

// reducedShape returns a new slice holding the reduced shape.
func reducedShape(shape []int, mask uint64, keepDims bool) []int {
	return appendReduced(make([]int, 0, len(shape)), shape, mask, keepDims)
}

// isReducedShape reports whether got is the reduced shape, without
// allocating (shape has rank at most 64, checked by axesMask).
func isReducedShape(got, shape []int, mask uint64, keepDims bool) bool {
	var buf [64]int
	return slices.Equal(got, appendReduced(buf[:0], shape, mask, keepDims))
}

// reduceJob is a reduction of a contiguous input over a set of axes,
// merged into groups of adjacent axes that are all reduced or all kept.
// The innermost group has length inner. If it is reduced, a unit is one
// output element and each contiguous run of inner inputs collapses with a
// kernel; if it is kept, a unit is one tile of up to reduceTile adjacent
// outputs of an output row, accumulated elementwise over the reduced
// positions. kept walks the outer kept groups, red the outer reduced
// ones (input offsets in st[0]). Every output is accumulated in the same
// order however the units are split.
type reduceJob struct {
	kind         reduceKind
	scale        float64 // applied to sums: 1, or 1/count for a mean
	dst, x       []float32
	inner        int
	innerReduced bool
	tiles        int // tiles per output row, if the inner group is kept
	kept, red    odometer
}

var reduceRuns = freelist.List[chunked[reduceJob, *reduceJob]]{Max: scratchMax}

// addGroup records a merged group of axes, innermost first.
func (j *reduceJob) addGroup(op string, size, stride int, red bool) {
	switch {
	case j.inner == 0:
		j.inner, j.innerReduced = size, red
	case red:
		j.red.push(op, size, stride, 0)
	default:
		j.kept.push(op, size, stride, 0)
	}
}

// setup merges the axes of shape into groups, walking from the innermost
// out and skipping axes of size 1.
func (j *reduceJob) setup(op string, shape []int, mask uint64) {
	size, stride, red := 0, 0, false
	st := 1
	for i := len(shape) - 1; i >= 0; i-- {
		d := shape[i]
		if d == 1 {
			continue
		}
		r := mask&(1<<i) != 0
		if size > 0 && r == red {
			size *= d
		} else {
			if size > 0 {
				j.addGroup(op, size, stride, red)
			}
			size, stride, red = d, st, r
		}
		st *= d
	}
	if size == 0 { // a single element
		size, stride = 1, 1
	}
	j.addGroup(op, size, stride, red)
	if !j.innerReduced {
		j.tiles = (j.inner + reduceTile - 1) / reduceTile
	}
}

// reduceInto reduces a over the axes in mask into dst, which has the
// reduced element count. Sums are multiplied by scale.
func reduceInto(op string, kind reduceKind, scale float64, dst []float32, a *Tensor, mask uint64) {
	if len(dst) == 0 {
		return
	}
	if len(a.data) == 0 { // some reduced axis is empty
		if kind != reduceSum {
			panicf(op, "reduction over an empty axis of shape %s", fmtShape(a.shape))
		}
		v := float32(0 * scale) // NaN for a mean
		for i := range dst {
			dst[i] = v
		}
		return
	}
	j := reduceJob{kind: kind, scale: scale, dst: dst, x: a.data}
	j.setup(op, a.shape, mask)
	units, work := j.kept.count(), j.red.count()*j.inner
	if !j.innerReduced {
		units, work = units*j.tiles, j.red.count()*min(j.inner, reduceTile)
	}
	grain := (parallelGrain + work - 1) / work
	if parts := numParts(units, grain); parts > 1 {
		runChunked(&reduceRuns, j, units, parts)
	} else {
		j.runRange(0, units)
	}
}

// identity returns the starting value of an accumulator.
func (k reduceKind) identity() float64 {
	switch k {
	case reduceMax:
		return math.Inf(-1)
	case reduceMin:
		return math.Inf(1)
	}
	return 0
}

// combine folds v into acc.
func (k reduceKind) combine(acc, v float64) float64 {
	switch k {
	case reduceMax:
		return max(acc, v)
	case reduceMin:
		return min(acc, v)
	}
	return acc + v
}

// run reduces a contiguous run of inputs.
func (k reduceKind) run(x []float32) float64 {
	switch k {
	case reduceMax:
		return float64(kernels.Max(x))
	case reduceMin:
		return float64(minFloat32(x))
	}
	return sumFloat64(x)
}

// accumulate folds x elementwise into acc (len(x) >= len(acc)).
func (k reduceKind) accumulate(acc []float64, x []float32) {
	x = x[:len(acc)]
	switch k {
	case reduceMax:
		for i, v := range x {
			acc[i] = max(acc[i], float64(v))
		}
	case reduceMin:
		for i, v := range x {
			acc[i] = min(acc[i], float64(v))
		}
	default:
		for i, v := range x {
			acc[i] += float64(v)
		}
	}
}

// finish converts an accumulator to the output value.
func (j *reduceJob) finish(acc float64) float32 {
	if j.kind == reduceSum {
		acc *= j.scale
	}
	return float32(acc)
}

// runRange computes units [lo, hi); see reduceJob.
func (j *reduceJob) runRange(lo, hi int) {
	kept, red := j.kept, j.red // private copies: ranges may run concurrently
	nred := red.count()
	if j.innerReduced {
		kept.seek(lo)
		for u := lo; u < hi; u++ {
			acc := j.kind.identity()
			for range nred { // red wraps back to its start after nred steps
				off := kept.off[0] + red.off[0]
				acc = j.kind.combine(acc, j.kind.run(j.x[off:off+j.inner]))
				red.next()
			}
			j.dst[u] = j.finish(acc)
			kept.next()
		}
		return
	}
	var buf [reduceTile]float64
	row, t := lo/j.tiles, lo%j.tiles
	kept.seek(row)
	for u := lo; u < hi; u++ {
		t0 := t * reduceTile
		acc := buf[:min(reduceTile, j.inner-t0)]
		id := j.kind.identity()
		for i := range acc {
			acc[i] = id
		}
		for range nred {
			j.kind.accumulate(acc, j.x[kept.off[0]+red.off[0]+t0:])
			red.next()
		}
		d := j.dst[row*j.inner+t0:][:len(acc)]
		for i, v := range acc {
			d[i] = j.finish(v)
		}
		if t++; t == j.tiles {
			t, row = 0, row+1
			kept.next()
		}
	}
}
