package tensor

import (
	"math"

	"github.com/bulwark-ml/bulwark/internal/freelist"
	"github.com/bulwark-ml/bulwark/kernels"
)

// AxisView describes a tensor as [Outer, N, Inner] around one axis: the
// vectors along the axis have N elements at stride Inner, and vector u
// (u < Outer·Inner) starts at Start(u) = (u/Inner)·N·Inner + u%Inner.
// Softmax-like ops here and their gradients in autograd walk it.
type AxisView struct{ Outer, N, Inner int }

// ViewAxis splits shape around axis (negative counts from the end), or
// reports false if the axis is out of range.
func ViewAxis(shape []int, axis int) (AxisView, bool) {
	if axis < -len(shape) || axis >= len(shape) {
		return AxisView{}, false
	}
	if axis < 0 {
		axis += len(shape)
	}
	v := AxisView{Outer: 1, N: shape[axis], Inner: 1}
	for _, d := range shape[:axis] {
		v.Outer *= d
	}
	for _, d := range shape[axis+1:] {
		v.Inner *= d
	}
	return v, true
}

// viewAxis is ViewAxis panicking, naming op and shape, if the axis is out
// of range.
func viewAxis(op string, shape []int, axis int) AxisView {
	v, ok := ViewAxis(shape, axis)
	if !ok {
		normAxis(op, axis, shape) // panics with the message
	}
	return v
}

// Start returns the offset of the first element of vector u.
func (v AxisView) Start(u int) int { return u/v.Inner*v.N*v.Inner + u%v.Inner }

// Argmax returns, for every vector along axis, the index of its largest
// element (the first one on ties; the first NaN if there is one). The
// result lists the vectors in row-major order of the other axes, so for
// logits [N, classes] and axis -1 it holds the N predicted classes. out,
// if not nil, must have that length. It panics if the axis is empty.
func Argmax(out []int, a *Tensor, axis int) []int {
	v := viewAxis("Argmax", a.shape, axis)
	units := v.Outer * v.Inner
	if v.N == 0 && units > 0 {
		panicf("Argmax", "axis %d is empty in shape %s", axis, fmtShape(a.shape))
	}
	if out == nil {
		out = make([]int, units)
	} else if len(out) != units {
		panicf("Argmax", "len(out) = %d, want %d for shape %s and axis %d", len(out), units, fmtShape(a.shape), axis)
	}
	for u := range units {
		base := v.Start(u)
		best, bi := a.data[base], 0
		for k := 1; k < v.N && best == best; k++ {
			if x := a.data[base+k*v.Inner]; x > best || x != x {
				best, bi = x, k
			}
		}
		out[u] = bi
	}
	return out
}

// ArgmaxRow returns the index of the largest element of row, with
// Argmax's rules: the first one on ties, the first NaN if there is one (so
// a NaN logit never counts as the right class by luck), and 0 for an
// empty row. It serves per-sample loops over logits.
func ArgmaxRow(row []float32) int {
	bi := 0
	for k, x := range row {
		if x != x {
			return k
		}
		if x > row[bi] {
			bi = k
		}
	}
	return bi
}

// LogSumExpRow returns log Σ exp(row[k]) in float64, computed stably as
// m + log Σ exp(row[k] − m) with m the row's maximum, so large logits do
// not overflow and very negative ones do not all underflow. It is the
// log-partition of a row of logits: log softmax(row)[k] = row[k] − the
// result. An empty row or a row of −Inf gives −Inf; a row holding +Inf
// gives +Inf; a NaN anywhere gives NaN. It is the one implementation the
// losses and attacks share.
func LogSumExpRow(row []float32) float64 {
	return logSumExp(row, 1, kernels.Max(row))
}

// SumExpRow returns the row's maximum m and s = Σ exp(row[k] − m), in
// float64, so that log Σ exp(row) = m + log s (LogSumExpRow) and
// softmax(row)[k] = exp(row[k] − m) / s: what a loss needs for both its
// value and its gradient. For an empty row, or one holding ±Inf or NaN,
// s is 1 and m is LogSumExpRow's result.
func SumExpRow(row []float32) (m, s float64) {
	mx := kernels.Max(row)
	m = float64(mx)
	if math.IsInf(m, 0) || mx != mx {
		return m, 1
	}
	return m, sumExpShifted(row, 1, m)
}

// logSumExp returns log Σ exp(x[k]) over k = 0, st, 2·st, … < len(x),
// given m, the maximum of those elements (NaN if one is NaN).
func logSumExp(x []float32, st int, m float32) float64 {
	mf := float64(m)
	if math.IsInf(mf, 0) || m != m {
		// Every term is 0 (all −Inf, or empty), or one is +Inf, or NaN:
		// shifting by m would make NaN of Inf − Inf.
		return mf
	}
	return mf + math.Log(sumExpShifted(x, st, mf))
}

// sumExpShifted returns Σ exp(x[k] − m) over k = 0, st, 2·st, … < len(x).
func sumExpShifted(x []float32, st int, m float64) float64 {
	var s float64
	for k := 0; k < len(x); k += st {
		s += math.Exp(float64(x[k]) - m)
	}
	return s
}

// Softmax returns exp(a) normalized to sum to 1 along axis (negative counts
// from the end). It subtracts each vector's maximum first, so large inputs
// do not overflow. out may be a.
func Softmax(out, a *Tensor, axis int) *Tensor {
	return softmax("Softmax", false, out, a, axis)
}

// LogSoftmax returns log(Softmax(a)) along axis, computed stably as
// a - max - log(Σ exp(a - max)), so it stays finite where Softmax
// underflows to 0. out may be a.
func LogSoftmax(out, a *Tensor, axis int) *Tensor {
	return softmax("LogSoftmax", true, out, a, axis)
}

// softmaxJob normalizes vectors along one axis; a unit is one vector.
type softmaxJob struct {
	log    bool
	dst, x []float32
	v      AxisView
}

var softmaxRuns = freelist.List[chunked[softmaxJob, *softmaxJob]]{Max: scratchMax}

// softmax is the shared body of Softmax and LogSoftmax.
func softmax(op string, log bool, out, a *Tensor, axis int) *Tensor {
	v := viewAxis(op, a.shape, axis)
	out = output(op, out, a.shape)
	if v.N == 0 {
		return out
	}
	j := softmaxJob{log: log, dst: out.data, x: a.data, v: v}
	units := v.Outer * v.Inner
	if parts := numParts(units, (parallelGrain+v.N-1)/v.N); parts > 1 {
		runChunked(&softmaxRuns, j, units, parts)
	} else {
		j.runRange(0, units)
	}
	return out
}

// runRange normalizes vectors [lo, hi). Each vector is read fully before
// its outputs are written element by element, so dst may alias x. Vectors
// along the last axis are contiguous and use the SIMD max and scale.
func (j *softmaxJob) runRange(lo, hi int) {
	n, st := j.v.N, j.v.Inner
	for u := lo; u < hi; u++ {
		base := j.v.Start(u)
		x := j.x[base : base+(n-1)*st+1]
		dst := j.dst[base : base+(n-1)*st+1]
		var m float32
		if st == 1 {
			m = kernels.Max(x)
		} else {
			m = float32(reduceMax.identity())
			for k := 0; k < len(x); k += st {
				m = max(m, x[k])
			}
		}
		if j.log {
			shift := logSumExp(x, st, m)
			for k := 0; k < len(x); k += st {
				dst[k] = float32(float64(x[k]) - shift)
			}
			continue
		}
		var s float64
		for k := 0; k < len(x); k += st {
			e := float32(math.Exp(float64(x[k]) - float64(m)))
			dst[k] = e
			s += float64(e)
		}
		r := float32(1 / s)
		if st == 1 {
			kernels.Scale(r, dst)
			continue
		}
		for k := 0; k < len(dst); k += st {
			dst[k] *= r
		}
	}
}
