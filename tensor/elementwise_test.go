package tensor

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
)

// Helpers shared by the op tests.

// checkClose checks got[i] against want[i] within tol·(1+scale[i]), scale
// being |want| if nil. NaN must match NaN; tol 0 demands exact float32
// results (want rounded to float32).
func checkClose(t *testing.T, what string, got []float32, want, scale []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		g := float64(got[i])
		s := math.Abs(w)
		if scale != nil {
			s = scale[i]
		}
		ok := g == float64(float32(w)) || testutil.Close(g, w, 1+s, tol)
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s: [%d] = %v, want %v", what, i, g, w)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d mismatches in all", what, bad)
	}
}

// numel returns the element count of shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// unravel writes the multi-index of flat index i in shape into idx.
func unravel(i int, shape, idx []int) {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
}

// refIndex returns the flat index into shape of the multi-index idx of a
// (higher or equal rank) broadcast result: leading extra axes are ignored
// and size-1 axes read index 0.
func refIndex(shape, idx []int) int {
	off := len(idx) - len(shape)
	f := 0
	for d, n := range shape {
		i := idx[off+d]
		if n == 1 {
			i = 0
		}
		f = f*n + i
	}
	return f
}

// refBroadcast computes f over the broadcast of a and b with plain loops
// in float64, returning the result shape and values.
func refBroadcast(a, b *Tensor, f func(x, y float64) float64) ([]int, []float64) {
	r := max(a.Rank(), b.Rank())
	shape := make([]int, r)
	for i := range shape {
		da, db := 1, 1
		if k := i - (r - a.Rank()); k >= 0 {
			da = a.shape[k]
		}
		if k := i - (r - b.Rank()); k >= 0 {
			db = b.shape[k]
		}
		shape[i] = max(da, db)
		if da != db && da != 1 && db != 1 {
			panic("test shapes do not broadcast")
		}
		if da == 0 || db == 0 {
			shape[i] = 0
		}
	}
	want := make([]float64, numel(shape))
	idx := make([]int, r)
	for i := range want {
		unravel(i, shape, idx)
		want[i] = f(float64(a.data[refIndex(a.shape, idx)]), float64(b.data[refIndex(b.shape, idx)]))
	}
	return shape, want
}

// withThreads runs f with the kernels thread count set to n, so the
// parallel paths run even on a machine with few cores.
func withThreads(n int, f func()) {
	defer kernels.SetThreads(kernels.SetThreads(n))
	f()
}

var binaryCases = []struct {
	name string
	fn   func(out, a, b *Tensor) *Tensor
	ref  func(x, y float64) float64
}{
	{"Add", Add, func(x, y float64) float64 { return x + y }},
	{"Sub", Sub, func(x, y float64) float64 { return x - y }},
	{"Mul", Mul, func(x, y float64) float64 { return x * y }},
	{"Div", Div, func(x, y float64) float64 { return x / y }},
	{"Maximum", Maximum, func(x, y float64) float64 {
		if math.IsNaN(x) || math.IsNaN(y) {
			return math.NaN()
		}
		return math.Max(x, y)
	}},
	{"Minimum", Minimum, func(x, y float64) float64 {
		if math.IsNaN(x) || math.IsNaN(y) {
			return math.NaN()
		}
		return math.Min(x, y)
	}},
}

// broadcastPairs covers same shapes, scalars on either side, rows,
// columns, outer products, rank differences on both sides, alternating
// patterns, empty tensors, and sizes above the parallel grain.
var broadcastPairs = [][2][]int{
	{{1}, {1}},
	{{3}, {3}},
	{{5, 7}, {5, 7}},
	{{}, {}},
	{{5, 7}, {}},
	{{}, {5, 7}},
	{{1}, {17}},
	{{17, 5}, {5}},
	{{5}, {17, 5}},
	{{17, 5}, {17, 1}},
	{{17, 1}, {17, 5}},
	{{17, 1}, {1, 5}},
	{{3, 1, 5}, {7, 1}},
	{{2, 3, 4, 5}, {3, 1, 5}},
	{{1, 1, 3}, {3}},
	{{4, 1, 3, 1, 5}, {1, 2, 1, 7, 1}},
	{{3, 17, 5, 7}, {3, 1, 5, 1}},
	{{0, 3}, {3}},
	{{3, 0}, {1}},
	{{101, 1031}, {1031}},
	{{101, 1031}, {101, 1031}},
	{{37, 1, 1031}, {3, 1}},
	{{100003}, {}},
}

// TestBinary checks every broadcasting op against float64 loops. Sums,
// differences, products and quotients of float32s rounded once are exact,
// so the results must match bit for bit (as float32) in every pattern.
func TestBinary(t *testing.T) {
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, testBinary)
}

func testBinary(t *testing.T) {
	g := NewRNG(1)
	withThreads(4, func() {
		for _, c := range binaryCases {
			t.Run(c.name, func(t *testing.T) {
				for _, p := range broadcastPairs {
					a, b := Randn(g, p[0]...), Randn(g, p[1]...)
					if len(a.data) > 0 {
						a.data[0] = float32(math.NaN())
					}
					shape, want := refBroadcast(a, b, c.ref)
					what := fmt.Sprintf("%s(%v, %v)", c.name, p[0], p[1])
					got := c.fn(nil, a, b)
					if !slices.Equal(got.shape, shape) {
						t.Fatalf("%s: shape %v, want %v", what, got.shape, shape)
					}
					checkClose(t, what, got.data, want, nil, 0)

					out := New(shape...).Fill(float32(math.Inf(1)))
					if r := c.fn(out, a, b); r != out {
						t.Fatalf("%s: did not return out", what)
					}
					checkClose(t, what+" into out", out.data, want, nil, 0)
				}
			})
		}
	})
}

// TestBinaryAlias checks out = a and out = b, including a full-shape
// operand overwritten while the other one broadcasts.
func TestBinaryAlias(t *testing.T) {
	g := NewRNG(2)
	for _, c := range binaryCases {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range [][2][]int{{{5, 7}, {5, 7}}, {{17, 5}, {5}}, {{17, 1}, {17, 5}}, {{}, {7, 3}}, {{3, 1}, {3, 9}}} {
				a, b := Randn(g, p[0]...), Randn(g, p[1]...)
				shape, want := refBroadcast(a, b, c.ref)
				what := fmt.Sprintf("%s(%v, %v)", c.name, p[0], p[1])
				if slices.Equal(a.shape, shape) {
					a2 := a.Clone()
					c.fn(a2, a2, b)
					checkClose(t, what+" into a", a2.data, want, nil, 0)
				}
				if slices.Equal(b.shape, shape) {
					b2 := b.Clone()
					c.fn(b2, a, b2)
					checkClose(t, what+" into b", b2.data, want, nil, 0)
				}
			}
		})
	}
	a := Randn(g, 4, 6)
	_, want := refBroadcast(a, a, func(x, y float64) float64 { return x * y })
	Mul(a, a, a)
	checkClose(t, "Mul(a, a, a)", a.data, want, nil, 0)
}

func TestBinaryMisuse(t *testing.T) {
	testutil.CheckPanic(t, func() { Add(nil, New(2, 3), New(4, 3)) }, "tensor.Add: shapes [2 3] and [4 3] do not broadcast")
	testutil.CheckPanic(t, func() { Sub(nil, New(3), New(4)) }, "tensor.Sub", "[3]", "[4]")
	testutil.CheckPanic(t, func() { Mul(nil, New(2, 3, 4), New(3, 5)) }, "tensor.Mul", "do not broadcast")
	testutil.CheckPanic(t, func() { Div(New(2, 3), New(2, 3), New(3, 3)) }, "tensor.Div", "[2 3]", "[3 3]")
	testutil.CheckPanic(t, func() { Maximum(New(2, 2), New(2, 3), New(3)) },
		"tensor.Maximum: out has shape [2 2], want [2 3]")
	testutil.CheckPanic(t, func() { Minimum(New(6), New(2, 3), New(2, 3)) }, "tensor.Minimum", "out has shape [6]")
	testutil.CheckPanic(t, func() { Add(New(3, 1), New(3, 1), New(3)) }, "tensor.Add: out has shape [3 1], want [3 3]")
	testutil.CheckPanic(t, func() { Add(New(1, 3), New(3), New(3)) }, "tensor.Add", "want [3]")
}

var unaryCases = []struct {
	name string
	fn   func(out, a *Tensor) *Tensor
	ref  func(x float64) float64
	tol  float64
}{
	{"Neg", Neg, func(x float64) float64 { return -x }, 0},
	{"Exp", Exp, math.Exp, 0},
	{"Log", Log, math.Log, 0},
	{"Sqrt", Sqrt, math.Sqrt, 0},
	{"Abs", Abs, math.Abs, 0},
	{"Sign", Sign, func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return x
	}, 0},
	{"Relu", Relu, func(x float64) float64 {
		if x < 0 {
			return 0 // also for -Inf
		}
		return x // NaN and -0 pass through (TestReluNaN checks the bits)
	}, 0},
	{"Clamp", func(out, a *Tensor) *Tensor { return Clamp(out, a, -0.5, 0.75) }, func(x float64) float64 {
		if math.IsNaN(x) {
			return x
		}
		return math.Min(math.Max(x, -0.5), 0.75)
	}, 0},
	{"AddScalar", func(out, a *Tensor) *Tensor { return AddScalar(out, a, 0.375) },
		func(x float64) float64 { return x + 0.375 }, 0},
	{"MulScalar", func(out, a *Tensor) *Tensor { return MulScalar(out, a, -1.7) },
		func(x float64) float64 { return x * float64(float32(-1.7)) }, 0},
}

// TestUnary checks the one-operand ops against float64 loops on odd and
// large sizes, with special values, into new, provided and aliased
// outputs.
func TestUnary(t *testing.T) {
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, testUnary)
}

func testUnary(t *testing.T) {
	g := NewRNG(3)
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1e-30, -1e30, 88, -104}
	withThreads(4, func() {
		for _, c := range unaryCases {
			t.Run(c.name, func(t *testing.T) {
				for _, shape := range [][]int{{}, {1}, {3}, {5, 7}, {17, 3, 5}, {0, 4}, {100003}} {
					a := Randn(g, shape...)
					copy(a.data, specials)
					want := make([]float64, len(a.data))
					for i, v := range a.data {
						want[i] = c.ref(float64(v))
					}
					what := fmt.Sprintf("%s(%v)", c.name, shape)
					checkClose(t, what, c.fn(nil, a).data, want, nil, c.tol)
					out := New(shape...).Fill(42)
					if c.fn(out, a) != out {
						t.Fatalf("%s: did not return out", what)
					}
					checkClose(t, what+" into out", out.data, want, nil, c.tol)
					c.fn(a, a)
					checkClose(t, what+" in place", a.data, want, nil, c.tol)
				}
			})
		}
	})
	// Signs of zero survive where IEEE says they should.
	z := Neg(nil, New(1))
	if !math.Signbit(float64(z.data[0])) {
		t.Errorf("Neg(0) = +0, want -0")
	}
	m := MulScalar(nil, New(1).Fill(float32(math.Copysign(0, -1))), 2)
	if !math.Signbit(float64(m.data[0])) {
		t.Errorf("MulScalar(-0, 2) = +0, want -0")
	}
}

// TestReluNaN checks that Relu propagates NaN, as PyTorch does, instead of
// erasing it: a NaN comes out with its exact bits, -0 stays -0, +Inf stays
// +Inf and negatives (-Inf too) become +0, on every kernel implementation,
// serially and split across threads, into new, provided and aliased
// outputs.
func TestReluNaN(t *testing.T) {
	bits := math.Float32frombits
	special := []float32{bits(0x7fc00000), bits(0x7fc0beef), bits(0xffc00001), bits(0x7f800001),
		float32(math.Copysign(0, -1)), 0, float32(math.Inf(1)), float32(math.Inf(-1)), -3, 3}
	want := func(v float32) uint32 {
		if v < 0 {
			return 0
		}
		return math.Float32bits(v)
	}
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, func(t *testing.T) {
		withThreads(4, func() {
			for _, n := range []int{1, 7, 37, 100003} {
				a := New(n)
				for i := range a.data {
					a.data[i] = special[i%len(special)]
				}
				in := slices.Clone(a.data)
				check := func(what string, got *Tensor) {
					t.Helper()
					for i, v := range got.data {
						if math.Float32bits(v) != want(in[i]) {
							t.Fatalf("Relu %s n=%d: [%d] = %v (%#08x) for %v (%#08x), want %#08x",
								what, n, i, v, math.Float32bits(v), in[i], math.Float32bits(in[i]), want(in[i]))
						}
					}
				}
				check("new", Relu(nil, a))
				check("into out", Relu(New(n).Fill(42), a))
				check("in place", Relu(a, a))
			}
		})
	})
	if y := Relu(nil, New(1).Fill(float32(math.NaN()))); !math.IsNaN(float64(y.data[0])) {
		t.Errorf("Relu(NaN) = %v, want NaN", y.data[0])
	}
}

func TestUnaryMisuse(t *testing.T) {
	testutil.CheckPanic(t, func() { Exp(New(3, 2), New(2, 3)) }, "tensor.Exp: out has shape [3 2], want [2 3]")
	testutil.CheckPanic(t, func() { Relu(New(6), New(2, 3)) }, "tensor.Relu", "[6]")
	testutil.CheckPanic(t, func() { Clamp(nil, New(2), 1, 0) }, "tensor.Clamp", "lo 1 > hi 0")
	testutil.CheckPanic(t, func() { MulScalar(New(1), New(2), 3) }, "tensor.MulScalar")
}

// TestElementwiseNoAlloc checks that ops with provided outputs do not
// allocate, serially and in parallel.
func TestElementwiseNoAlloc(t *testing.T) {
	g := NewRNG(4)
	sizes := [][2][]int{{{17, 5}, {17, 5}}, {{17, 5}, {5}}, {{3, 1, 5}, {7, 1}}, {{17, 5}, {}}, {{300, 257}, {257}}}
	withThreads(4, func() {
		for _, p := range sizes {
			a, b := Randn(g, p[0]...), Randn(g, p[1]...)
			out := Add(nil, a, b)
			u := New(a.shape...)
			allocs := testing.AllocsPerRun(20, func() {
				Add(out, a, b)
				Mul(out, out, b)
				Exp(u, a)
				Clamp(u, u, 0, 1)
			})
			if allocs != 0 {
				t.Errorf("%v: %v allocations per run", p, allocs)
			}
		}
	})
}

// TestElementwiseDeterministic checks that results do not depend on the
// thread count.
func TestElementwiseDeterministic(t *testing.T) {
	g := NewRNG(5)
	a, b := Randn(g, 131, 997), Randn(g, 997)
	var one, many *Tensor
	withThreads(1, func() { one = Div(nil, a, b) })
	withThreads(5, func() { many = Div(nil, a, b) })
	if !slices.Equal(one.data, many.data) {
		t.Error("Div differs between 1 and 5 threads")
	}
}

func ExampleAdd() {
	x, _ := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	bias, _ := FromSlice([]float32{10, 20, 30}, 3)
	y := Add(nil, x, bias) // bias broadcasts over the rows
	Relu(y, y)             // in place
	fmt.Println(y.Shape(), y.Data())
	// Output: [2 3] [11 22 33 14 25 36]
}
