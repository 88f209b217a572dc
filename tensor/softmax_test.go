package tensor

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
)

// refAxis calls f for every vector along axis with the flat indices of its
// elements, in row-major order of the other axes.
func refAxis(shape []int, axis int, f func(idx []int)) {
	inner := numel(shape[axis+1:])
	n := shape[axis]
	for u := range numel(shape[:axis]) * inner {
		idx := make([]int, n)
		for k := range idx {
			idx[k] = u/inner*n*inner + k*inner + u%inner
		}
		f(idx)
	}
}

// refSoftmax returns softmax and log-softmax along axis in float64.
func refSoftmax(a *Tensor, axis int) (sm, lsm []float64) {
	sm, lsm = make([]float64, len(a.data)), make([]float64, len(a.data))
	refAxis(a.shape, axis, func(idx []int) {
		m := math.Inf(-1)
		for _, i := range idx {
			m = math.Max(m, float64(a.data[i]))
		}
		var s float64
		for _, i := range idx {
			s += math.Exp(float64(a.data[i]) - m)
		}
		for _, i := range idx {
			sm[i] = math.Exp(float64(a.data[i])-m) / s
			lsm[i] = float64(a.data[i]) - m - math.Log(s)
		}
	})
	return sm, lsm
}

// TestSoftmax checks Softmax and LogSoftmax along every axis (given both
// ways) against float64 loops, into new, provided and aliased outputs.
func TestSoftmax(t *testing.T) {
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, testSoftmax)
}

func testSoftmax(t *testing.T) {
	g := NewRNG(30)
	shapes := [][]int{{1}, {5}, {3, 7}, {2, 3, 5}, {4, 17, 3}, {1, 1, 9}, {300, 131}, {8, 10, 33, 17}}
	withThreads(4, func() {
		for _, shape := range shapes {
			a := Randn(g, shape...)
			MulScalar(a, a, 3)
			for axis := range shape {
				sm, lsm := refSoftmax(a, axis)
				for _, ax := range []int{axis, axis - len(shape)} {
					what := fmt.Sprintf("(%v, axis %d)", shape, ax)
					checkClose(t, "Softmax"+what, Softmax(nil, a, ax).data, sm, nil, 1e-6)
					checkClose(t, "LogSoftmax"+what, LogSoftmax(nil, a, ax).data, lsm, nil, 1e-6)
					out := New(shape...).Fill(float32(math.NaN()))
					Softmax(out, a, ax)
					checkClose(t, "Softmax into out"+what, out.data, sm, nil, 1e-6)
					LogSoftmax(out, a, ax)
					checkClose(t, "LogSoftmax into out"+what, out.data, lsm, nil, 1e-6)
				}
				b := a.Clone()
				checkClose(t, "Softmax in place", Softmax(b, b, axis).data, sm, nil, 1e-6)
				b = a.Clone()
				checkClose(t, "LogSoftmax in place", LogSoftmax(b, b, axis).data, lsm, nil, 1e-6)

				// Vectors sum to 1.
				s := Sum(nil, Softmax(nil, a, axis), false, axis)
				for i, v := range s.data {
					if math.Abs(float64(v)-1) > 1e-5 {
						t.Fatalf("Softmax(%v, axis %d): vector %d sums to %v", shape, axis, i, v)
					}
				}
			}
		}
	})
}

// TestSoftmaxStable checks inputs of magnitude 1e4, where exp overflows
// without the max shift, and a row where every other class underflows.
func TestSoftmaxStable(t *testing.T) {
	a, _ := FromSlice([]float32{1e4, 1e4 - 1, 1e4 - 2, -1e4, 0, 1e4}, 2, 3)
	sm, lsm := refSoftmax(a, 1)
	got, lgot := Softmax(nil, a, 1), LogSoftmax(nil, a, -1)
	for i, v := range lgot.data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.IsNaN(float64(got.data[i])) {
			t.Fatalf("not finite at %d: softmax %v, log-softmax %v", i, got.data, lgot.data)
		}
	}
	checkClose(t, "Softmax(1e4)", got.data, sm, nil, 1e-6)
	checkClose(t, "LogSoftmax(1e4)", lgot.data, lsm, nil, 1e-6)
	if lgot.data[3] != -2e4 { // log p of the -1e4 class: far below float32's smallest probability
		t.Errorf("LogSoftmax of an underflowing class = %v, want -2e4", lgot.data[3])
	}
}

func TestArgmax(t *testing.T) {
	a, _ := FromSlice([]float32{
		1, 5, 5, 2,
		7, 0, 7, -1,
		-3, -2, -9, -2,
	}, 3, 4)
	if got := Argmax(nil, a, 1); !slices.Equal(got, []int{1, 0, 1}) {
		t.Errorf("Argmax axis 1 = %v, want [1 0 1] (first on ties)", got)
	}
	if got := Argmax(nil, a, -2); !slices.Equal(got, []int{1, 0, 1, 0}) {
		t.Errorf("Argmax axis 0 = %v, want [1 0 1 0]", got)
	}
	a.data[6] = float32(math.NaN())
	if got := Argmax(make([]int, 3), a, 1); !slices.Equal(got, []int{1, 2, 1}) {
		t.Errorf("Argmax with NaN = %v, want [1 2 1] (NaN wins)", got)
	}

	g := NewRNG(31)
	for _, shape := range [][]int{{7}, {5, 3, 17}, {2, 1, 3, 4}} {
		x := Randn(g, shape...)
		for axis := range shape {
			var want []int
			refAxis(shape, axis, func(idx []int) {
				best := 0
				for k, i := range idx {
					if x.data[i] > x.data[idx[best]] {
						best = k
					}
				}
				want = append(want, best)
			})
			if got := Argmax(nil, x, axis); !slices.Equal(got, want) {
				t.Errorf("Argmax(%v, axis %d) = %v, want %v", shape, axis, got, want)
			}
		}
	}
}

func TestSoftmaxMisuse(t *testing.T) {
	testutil.CheckPanic(t, func() { Softmax(nil, New(2, 3), 2) }, "tensor.Softmax: axis 2 out of range for shape [2 3]")
	testutil.CheckPanic(t, func() { LogSoftmax(nil, New(2, 3), -3) }, "tensor.LogSoftmax: axis -3 out of range for shape [2 3]")
	testutil.CheckPanic(t, func() { Softmax(New(3, 2), New(2, 3), 1) }, "tensor.Softmax: out has shape [3 2], want [2 3]")
	testutil.CheckPanic(t, func() { Argmax(nil, New(2, 3), 5) }, "tensor.Argmax: axis 5 out of range")
	testutil.CheckPanic(t, func() { Argmax(make([]int, 3), New(2, 3), 1) }, "tensor.Argmax", "len(out) = 3, want 2")
	testutil.CheckPanic(t, func() { Argmax(nil, New(2, 0), 1) }, "tensor.Argmax", "empty")
}

func TestSoftmaxNoAlloc(t *testing.T) {
	g := NewRNG(32)
	shapes := [][]int{{17, 10}, {4, 5, 6}, {64, 10, 1024}}
	withThreads(4, func() {
		for _, s := range shapes {
			a := Randn(g, s...)
			out, idx := New(s...), make([]int, numel(s)/s[1])
			allocs := testing.AllocsPerRun(10, func() {
				Softmax(out, a, -1)
				LogSoftmax(out, a, 1)
				Argmax(idx, a, 1)
			})
			if allocs != 0 {
				t.Errorf("%v: %v allocations per run", s, allocs)
			}
		}
	})
}

func TestArgmaxRow(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		row  []float32
		want int
	}{
		{nil, 0}, {[]float32{3}, 0}, {[]float32{1, 5, 5, 2}, 1}, {[]float32{-1, -3}, 0},
		{[]float32{1, nan, 9}, 1}, {[]float32{nan, 2}, 0},
	} {
		t.Run(fmt.Sprint(c.row), func(t *testing.T) {
			if got := ArgmaxRow(c.row); got != c.want {
				t.Errorf("ArgmaxRow(%v) = %d, want %d", c.row, got, c.want)
			}
			if len(c.row) > 0 {
				x, _ := FromSlice(append([]float32(nil), c.row...), 1, len(c.row))
				if got := Argmax(nil, x, -1)[0]; got != c.want {
					t.Errorf("Argmax(%v) = %d, ArgmaxRow says %d", c.row, got, c.want)
				}
			}
		})
	}
}

// refLogSumExp is log Σ exp(x) by a different route than LogSumExpRow:
// a running log-add-exp in float64, r = max + log1p(exp(−|r − v|)).
func refLogSumExp(x []float32) float64 {
	r := math.Inf(-1)
	for _, v := range x {
		f := float64(v)
		switch {
		case f != f || r != r:
			r = math.NaN()
		case math.IsInf(f, 1) || math.IsInf(r, 1):
			r = math.Inf(1)
		case math.IsInf(f, -1):
		case math.IsInf(r, -1):
			r = f
		default:
			r = max(r, f) + math.Log1p(math.Exp(-math.Abs(r-f)))
		}
	}
	return r
}

func TestLogSumExpRow(t *testing.T) {
	g := NewRNG(41)
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	var rows [][]float32
	for _, n := range []int{1, 3, 7, 17, 33, 127, 1001} {
		for _, scale := range []float32{1, 30, 1e4, 3e38} {
			row := make([]float32, n)
			for k := range row {
				row[k] = scale * (2*g.Float32() - 1)
			}
			rows = append(rows, row)
			withNegInf := slices.Clone(row)
			for k := 0; k < n; k += 2 {
				withNegInf[k] = -inf
			}
			rows = append(rows, withNegInf)
		}
	}
	rows = append(rows, nil, []float32{-inf}, []float32{-inf, -inf, -inf},
		[]float32{1, inf, 2}, []float32{-inf, inf}, []float32{1, nan, 3},
		[]float32{inf, nan}, []float32{-100000, -100001}, []float32{88, 89, 90})
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, func(t *testing.T) { // the maximum is a SIMD kernel
		for _, row := range rows {
			got, want := LogSumExpRow(row), refLogSumExp(row)
			ok := got == want || (got != got && want != want) || testutil.Near(got, want, 1e-12)
			if !ok {
				t.Errorf("LogSumExpRow(%d elements, first %v) = %v, want %v", len(row), row[:min(len(row), 3)], got, want)
			}
		}
	})
	if n := testing.AllocsPerRun(10, func() { LogSumExpRow(rows[0]) }); n != 0 {
		t.Errorf("LogSumExpRow: %v allocations", n)
	}
}

// TestLogSoftmaxMatchesLogSumExpRow: LogSoftmax over contiguous and strided
// vectors is x − LogSumExpRow(x), rounded once.
func TestLogSoftmaxMatchesLogSumExpRow(t *testing.T) {
	a := Randn(NewRNG(42), 5, 13, 3)
	for _, axis := range []int{1, 2} {
		y := LogSoftmax(nil, a, axis)
		refAxis(a.shape, axis, func(idx []int) {
			x := make([]float32, len(idx))
			for k, i := range idx {
				x[k] = a.data[i]
			}
			lse := LogSumExpRow(x)
			for k, i := range idx {
				if want := float32(float64(x[k]) - lse); y.data[i] != want {
					t.Fatalf("axis %d: LogSoftmax element %d = %v, want %v", axis, i, y.data[i], want)
				}
			}
		})
	}
}
