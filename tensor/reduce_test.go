package tensor

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
)

// refReduce reduces a over the axes marked in mask with plain float64
// loops. It returns the keepDims shape, the values, and the sum of |x| per
// output (the scale of a sum's rounding error).
func refReduce(a *Tensor, mask []bool, kind string) (shape []int, vals, scale []float64) {
	shape = slices.Clone(a.shape)
	for i, m := range mask {
		if m {
			shape[i] = 1
		}
	}
	n := numel(shape)
	vals, scale = make([]float64, n), make([]float64, n)
	count := make([]int, n)
	for i := range vals {
		switch kind {
		case "Max":
			vals[i] = math.Inf(-1)
		case "Min":
			vals[i] = math.Inf(1)
		}
	}
	idx := make([]int, len(a.shape))
	for i, v := range a.data {
		unravel(i, a.shape, idx)
		o := refIndex(shape, idx)
		x := float64(v)
		count[o]++
		scale[o] += math.Abs(x)
		switch {
		case math.IsNaN(vals[o]):
		case math.IsNaN(x):
			vals[o] = x
		case kind == "Max":
			vals[o] = math.Max(vals[o], x)
		case kind == "Min":
			vals[o] = math.Min(vals[o], x)
		default:
			vals[o] += x
		}
	}
	if kind == "Mean" {
		for i := range vals {
			vals[i] /= float64(count[i])
			scale[i] /= float64(count[i])
		}
	}
	return shape, vals, scale
}

var reduceOps = map[string]func(out, a *Tensor, keepDims bool, axes ...int) *Tensor{
	"Sum": Sum, "Mean": Mean, "Max": Max, "Min": Min,
}

// TestReduce checks Sum, Mean, Max and Min against float64 loops over
// every subset of axes, with and without keepDims, with positive and
// negative axes, into new and provided outputs.
func TestReduce(t *testing.T) {
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, testReduce)
}

func testReduce(t *testing.T) {
	g := NewRNG(10)
	shapes := [][]int{{}, {1}, {7}, {1, 1}, {5, 7}, {17, 1, 3}, {3, 5, 7}, {2, 3, 4, 5}, {1, 6, 1, 5},
		{300, 257}, {3, 70, 257}, {40, 3, 17, 19}}
	withThreads(4, func() {
		for _, shape := range shapes {
			a := Randn(g, shape...)
			if len(a.data) > 9 && len(a.data)%2 == 1 {
				a.data[len(a.data)/3] = float32(math.NaN()) // must propagate through Max and Min
			}
			for m := range 1 << len(shape) {
				if m == 0 && len(shape) > 0 {
					continue // no axes means all axes
				}
				mask := make([]bool, len(shape))
				var axes []int
				for i := range shape {
					if m&(1<<i) != 0 {
						mask[i] = true
						ax := i
						if len(axes)%2 == 1 {
							ax -= len(shape) // alternate negative axes
						}
						axes = append(axes, ax)
					}
				}
				if len(axes) == len(shape) && m%2 == 1 {
					axes = nil // no axes means all
				}
				for name, op := range reduceOps {
					keepShape, want, scale := refReduce(a, mask, name)
					for _, keep := range []bool{false, true} {
						what := fmt.Sprintf("%s(%v, keepDims=%v, axes=%v)", name, shape, keep, axes)
						wantShape := keepShape
						if !keep {
							wantShape = reducedShape(shape, uint64(m), false)
						}
						got := op(nil, a, keep, axes...)
						if !slices.Equal(got.shape, wantShape) {
							t.Fatalf("%s: shape %v, want %v", what, got.shape, wantShape)
						}
						checkClose(t, what, got.data, want, scale, 2e-6)
						out := New(wantShape...).Fill(7)
						if op(out, a, keep, axes...) != out {
							t.Fatalf("%s: did not return out", what)
						}
						checkClose(t, what+" into out", out.data, want, scale, 2e-6)
					}
				}
			}
		}
	})
}

// TestReduceEmpty covers empty reduced and kept axes.
func TestReduceEmpty(t *testing.T) {
	a := New(0, 3)
	if s := Sum(nil, a, false, 0); !slices.Equal(s.shape, []int{3}) || s.data[0] != 0 || s.data[2] != 0 {
		t.Errorf("Sum over empty axis = %v %v", s.shape, s.data)
	}
	if m := Mean(nil, a, true, 0); !slices.Equal(m.shape, []int{1, 3}) || !math.IsNaN(float64(m.data[1])) {
		t.Errorf("Mean over empty axis = %v %v, want NaNs", m.shape, m.data)
	}
	if s := Max(nil, a, false, 1); !slices.Equal(s.shape, []int{0}) {
		t.Errorf("Max keeping an empty axis has shape %v", s.shape)
	}
	if s := SumAll(a); s != 0 {
		t.Errorf("SumAll(empty) = %v", s)
	}
	testutil.CheckPanic(t, func() { Max(nil, a, false, 0) }, "tensor.Max", "empty axis", "[0 3]")
	testutil.CheckPanic(t, func() { Min(nil, a, false) }, "tensor.Min", "empty axis")
	testutil.CheckPanic(t, func() { MaxAll(a) }, "tensor.MaxAll", "empty")
	testutil.CheckPanic(t, func() { MinAll(a) }, "tensor.MinAll", "empty")
}

// TestReduceAll checks the whole-tensor reductions, including the
// accuracy that float64 accumulation buys: a float32 running sum of 2^22
// copies of 0.1 is off by several percent.
func TestReduceAll(t *testing.T) {
	g := NewRNG(11)
	for _, n := range []int{1, 3, 17, 1023, 1025, 100003} {
		a := Randn(g, n)
		var s, abs float64
		mx, mn := math.Inf(-1), math.Inf(1)
		for _, v := range a.data {
			s += float64(v)
			abs += math.Abs(float64(v))
			mx, mn = math.Max(mx, float64(v)), math.Min(mn, float64(v))
		}
		checkClose(t, fmt.Sprint("SumAll ", n), []float32{SumAll(a)}, []float64{s}, []float64{abs}, 1e-6)
		checkClose(t, fmt.Sprint("MeanAll ", n), []float32{MeanAll(a)}, []float64{s / float64(n)},
			[]float64{abs / float64(n)}, 1e-6)
		checkClose(t, fmt.Sprint("MaxAll ", n), []float32{MaxAll(a)}, []float64{mx}, nil, 0)
		checkClose(t, fmt.Sprint("MinAll ", n), []float32{MinAll(a)}, []float64{mn}, nil, 0)
	}
	// Equal values make the chunk rounding errors add up instead of
	// cancelling; they stay within the chunk's bound (~1e-5 relative for
	// the pure-Go kernel's four accumulators), while a running float32
	// sum stalls and ends orders of magnitude further off.
	big := New(1 << 22).Fill(0.1)
	want := float64(float32(0.1)) * (1 << 22)
	var naive float32
	for _, v := range big.data {
		naive += v
	}
	if got := float64(SumAll(big)); math.Abs(got-want) > 2e-5*want || math.Abs(got-want) > math.Abs(float64(naive)-want)/100 {
		t.Errorf("SumAll(2^22 × 0.1) = %v, want %v (naive float32 sum %v)", got, want, naive)
	}
	if got := float64(Sum(nil, big.Reshape(1<<11, 1<<11), false, 0).data[5]); math.Abs(got-0.1*(1<<11)) > 1e-3 {
		t.Errorf("column sum of 2048 × 0.1 = %v", got)
	}
	nan := New(5)
	nan.data[3] = float32(math.NaN())
	if !math.IsNaN(float64(MaxAll(nan))) || !math.IsNaN(float64(MinAll(nan))) || !math.IsNaN(float64(SumAll(nan))) {
		t.Error("NaN does not propagate through the whole-tensor reductions")
	}
	if v := MeanAll(New(0)); !math.IsNaN(float64(v)) {
		t.Errorf("MeanAll(empty) = %v, want NaN", v)
	}
}

// TestSumTo checks the reduction of broadcast results back to the
// operands' shapes, against Sum with the matching axes.
func TestSumTo(t *testing.T) {
	g := NewRNG(12)
	cases := []struct{ from, to []int }{
		{[]int{3, 5}, []int{5}},
		{[]int{3, 5}, []int{3, 1}},
		{[]int{3, 5}, []int{1, 5}},
		{[]int{3, 5}, []int{}},
		{[]int{3, 5}, []int{1}},
		{[]int{3, 5}, []int{3, 5}},
		{[]int{4, 2, 3, 5}, []int{2, 1, 5}},
		{[]int{7, 1, 3}, []int{1, 3}},
		{[]int{128, 257}, []int{257}},
		{[]int{16, 8, 17, 19}, []int{1, 8, 1, 1}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v_to_%v", c.from, c.to), func(t *testing.T) {
			a := Randn(g, c.from...)
			// The reference: broadcasting c.to against c.from, summing what broadcast.
			mask := make([]bool, len(c.from))
			for i := range c.from {
				k := i - (len(c.from) - len(c.to))
				mask[i] = k < 0 || (c.to[k] == 1 && c.from[i] != 1)
			}
			_, want, scale := refReduce(a, mask, "Sum")
			what := fmt.Sprintf("SumTo(%v → %v)", c.from, c.to)
			got := SumTo(nil, a, c.to)
			if !slices.Equal(got.shape, c.to) {
				t.Fatalf("%s: shape %v", what, got.shape)
			}
			checkClose(t, what, got.data, want, scale, 2e-6)
			out := New(c.to...).Fill(3)
			SumTo(out, a, c.to)
			checkClose(t, what+" into out", out.data, want, scale, 2e-6)
		})
	}
	testutil.CheckPanic(t, func() { SumTo(nil, New(3, 5), []int{4}) }, "tensor.SumTo: cannot reduce shape [3 5] to [4]")
	testutil.CheckPanic(t, func() { SumTo(nil, New(5), []int{2, 5}) }, "tensor.SumTo", "[5]", "[2 5]")
	testutil.CheckPanic(t, func() { SumTo(New(5, 1), New(3, 5), []int{5}) }, "tensor.SumTo: out has shape [5 1], want [5]")
}

func TestReduceMisuse(t *testing.T) {
	a := New(4, 5)
	testutil.CheckPanic(t, func() { Sum(nil, a, false, 2) }, "tensor.Sum: axis 2 out of range for shape [4 5]")
	testutil.CheckPanic(t, func() { Mean(nil, a, false, -3) }, "tensor.Mean: axis -3 out of range for shape [4 5]")
	testutil.CheckPanic(t, func() { Max(nil, a, false, 1, -1) }, "tensor.Max", "twice", "[4 5]")
	testutil.CheckPanic(t, func() { Min(New(4), a, true, 1) }, "tensor.Min: out has shape [4], want [4 1]")
	testutil.CheckPanic(t, func() { Sum(New(5), a, false, 1) }, "tensor.Sum: out has shape [5], want [4]")
	testutil.CheckPanic(t, func() { Sum(New(1), a, false) }, "tensor.Sum: out has shape [1], want []")
}

// TestReduceNoAlloc checks that reductions into provided outputs do not
// allocate.
func TestReduceNoAlloc(t *testing.T) {
	g := NewRNG(13)
	shapes := [][]int{{17, 5}, {4, 3, 9, 11}, {64, 8, 17, 19}}
	withThreads(4, func() {
		for _, s := range shapes {
			a := Randn(g, s...)
			last, first, all, ch := New(s[:len(s)-1]...), New(s[1:]...), New(), New(s[1], 1)
			a3 := a.Reshape(s[0], s[1], -1)
			allocs := testing.AllocsPerRun(20, func() {
				Sum(last, a, false, -1)
				Max(first, a, false, 0)
				Mean(all, a, false)
				SumTo(ch, a3, []int{s[1], 1})
				SumAll(a)
			})
			if allocs != 0 {
				t.Errorf("%v: %v allocations per run", s, allocs)
			}
		}
	})
}

// TestReduceDeterministic checks that results do not depend on the thread
// count.
func TestReduceDeterministic(t *testing.T) {
	a := Randn(NewRNG(14), 1000, 301)
	for _, axis := range []int{0, 1} {
		var one, many *Tensor
		withThreads(1, func() { one = Sum(nil, a, false, axis) })
		withThreads(5, func() { many = Sum(nil, a, false, axis) })
		if !slices.Equal(one.data, many.data) {
			t.Errorf("Sum over axis %d differs between 1 and 5 threads", axis)
		}
	}
}
