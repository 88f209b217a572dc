package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// Each vector kernel is checked on every implementation against a float64
// reference, on odd sizes, at unaligned offsets, with guard bands.

func TestVectorKernels(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, n := range testSizes {
			for _, off := range []int{0, 1, 3} {
				testVecOnce(t, rng, n, off)
			}
		}
	})
}

func testVecOnce(t *testing.T, rng *rand.Rand, n, off int) {
	mk := func() guarded { return newGuardedAt(n, off, rng) }
	x, y, dst := mk(), mk(), mk()
	x64 := widen(x.inner)
	y64 := widen(y.inner)

	// want returns the exact value and the magnitude of its terms, which
	// bounds the rounding error.
	elementwise := func(name string, run func(), want func(i int) (float64, float64)) {
		t.Helper()
		run()
		for i, v := range dst.inner {
			w, scale := want(i)
			if !testutil.Close(float64(v), w, scale, 2*eps32) {
				t.Fatalf("%s n=%d off=%d: [%d] = %v, want %v", name, n, off, i, v, w)
			}
		}
		dst.check(t, name)
	}
	elementwise("Add", func() { Add(dst.inner, x.inner, y.inner) }, func(i int) (float64, float64) { return x64[i] + y64[i], math.Abs(x64[i]) + math.Abs(y64[i]) })
	elementwise("Mul", func() { Mul(dst.inner, x.inner, y.inner) }, func(i int) (float64, float64) { return x64[i] * y64[i], math.Abs(x64[i] * y64[i]) })
	elementwise("Relu", func() { Relu(dst.inner, x.inner) }, func(i int) (float64, float64) { return math.Max(x64[i], 0), 0 })
	elementwise("ReluBackward", func() { ReluBackward(dst.inner, y.inner, x.inner) }, func(i int) (float64, float64) {
		if x64[i] > 0 {
			return y64[i], 0
		}
		return 0, 0
	})
	elementwise("ScaleShift", func() { ScaleShift(dst.inner, x.inner, 1.5, -0.25) }, func(i int) (float64, float64) { return x64[i]*1.5 - 0.25, math.Abs(x64[i]*1.5) + 0.25 })

	copy(dst.inner, y.inner)
	elementwise("Axpy", func() { Axpy(-0.75, x.inner, dst.inner) }, func(i int) (float64, float64) { return y64[i] - 0.75*x64[i], math.Abs(y64[i]) + math.Abs(0.75*x64[i]) })
	copy(dst.inner, y.inner)
	elementwise("Scale", func() { Scale(3.25, dst.inner) }, func(i int) (float64, float64) { return 3.25 * y64[i], math.Abs(3.25 * y64[i]) })

	var dot, sum, abs, max64 float64
	max64 = math.Inf(-1)
	for i := range x64 {
		dot += x64[i] * y64[i]
		abs += math.Abs(x64[i] * y64[i])
		sum += x64[i]
		max64 = math.Max(max64, x64[i])
	}
	tol := float64(n+4) * eps32
	if got := Dot(x.inner, y.inner); !testutil.Close(float64(got), dot, abs, tol) {
		t.Fatalf("Dot n=%d off=%d: %v, want %v", n, off, got, dot)
	}
	if got := Sum(x.inner); !testutil.Close(float64(got), sum, sumAbs(x64), tol) {
		t.Fatalf("Sum n=%d off=%d: %v, want %v", n, off, got, sum)
	}
	if got := Max(x.inner); float64(got) != max64 {
		t.Fatalf("Max n=%d off=%d: %v, want %v", n, off, got, max64)
	}
	if n > 0 {
		saved := x.inner[n/2]
		x.inner[n/2] = float32(math.NaN())
		if got := Max(x.inner); !math.IsNaN(float64(got)) {
			t.Fatalf("Max n=%d with a NaN: %v, want NaN", n, got)
		}
		x.inner[n/2] = saved
	}
	x.check(t, "inputs")
	y.check(t, "inputs")
}

// reluBits is what Relu must store for v, as bits: +0 for v < 0 (-Inf
// included), else v itself, so a NaN keeps its exact bits (payload, sign,
// signalling or quiet) and -0 stays -0.
func reluBits(v float32) uint32 {
	if v < 0 {
		return 0
	}
	return math.Float32bits(v)
}

// TestReluSpecialValues checks every implementation of Relu against its
// definition, bit for bit, on NaNs, signed zeros, infinities and
// subnormals placed in every position of the vector loops and of the
// scalar tail (odd sizes, rotated patterns, unaligned starts), out of
// place with guard bands and in place.
func TestReluSpecialValues(t *testing.T) {
	bits := math.Float32frombits
	special := []float32{
		bits(0x7fc00000), // the default quiet NaN
		bits(0x7fc0beef), // a quiet NaN with a payload
		bits(0xffc00001), // a negative quiet NaN
		bits(0x7f800001), // a signalling NaN
		bits(0xffa00005), // a negative signalling NaN
		float32(math.Copysign(0, -1)), 0,
		float32(math.Inf(1)), float32(math.Inf(-1)),
		bits(1), bits(0x80000001), // ± the smallest subnormal
		math.MaxFloat32, -math.MaxFloat32, 1, -1, 2.5, -0.5,
	}
	// Spot-check the definition itself.
	for _, c := range []struct {
		in   float32
		want uint32
	}{{special[1], 0x7fc0beef}, {special[2], 0xffc00001}, {special[5], 0x80000000},
		{special[7], 0x7f800000}, {special[8], 0}, {-1, 0}, {2.5, 0x40200000}} {
		t.Run(fmt.Sprintf("%#08x", math.Float32bits(c.in)), func(t *testing.T) {
			if got := reluBits(c.in); got != c.want {
				t.Fatalf("reluBits(%v) = %#08x, want %#08x", c.in, got, c.want)
			}
		})
	}
	if t.Failed() {
		t.FailNow()
	}
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, n := range []int{1, 3, 5, 7, 9, 15, 17, 23, 31, 33, 39, 45, 63, 65, 75, 101} {
			for _, off := range []int{0, 1, 3} {
				for shift := range special {
					x, dst := newGuardedAt(n, off, rng), newGuardedAt(n, off, rng)
					for i := range x.inner {
						x.inner[i] = special[(i+shift)%len(special)]
					}
					in := append([]float32(nil), x.inner...)
					check := func(what string, got []float32) {
						t.Helper()
						for i, v := range got {
							if math.Float32bits(v) != reluBits(in[i]) {
								t.Fatalf("Relu %s n=%d off=%d shift=%d: [%d] = %v (%#08x) for x = %v (%#08x), want %#08x",
									what, n, off, shift, i, v, math.Float32bits(v), in[i], math.Float32bits(in[i]), reluBits(in[i]))
							}
						}
					}
					Relu(dst.inner, x.inner)
					check("out of place", dst.inner)
					dst.check(t, "Relu")
					for i, v := range x.inner {
						if math.Float32bits(v) != math.Float32bits(in[i]) {
							t.Fatalf("Relu n=%d: input [%d] changed", n, i)
						}
					}
					Relu(x.inner, x.inner)
					check("in place", x.inner)
					x.check(t, "Relu in place")
				}
			}
		}
	})
}

func TestVectorAliasing(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		x := []float32{-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -16}
		Relu(x, x)
		Add(x, x, x)
		Mul(x, x, x)
		ScaleShift(x, x, 0.5, 1)
		for i, v := range x {
			r := math.Max([]float64{-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -16}[i], 0)
			want := float32(2*r*2*r*0.5 + 1)
			if v != want {
				t.Fatalf("[%d] = %v, want %v", i, v, want)
			}
		}
	})
}

func TestScaleShiftChannels(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		n, c, s := 3, 5, 7
		x := newGuarded(n*c*s, rng)
		dst := newGuarded(n*c*s, rng)
		scale := []float32{1, 2, 3, 4, 5}
		shift := []float32{-1, 0, 1, 2, 3}
		ScaleShiftChannels(dst.inner, x.inner, scale, shift, n, c, s)
		for i, v := range dst.inner {
			ch := i / s % c
			want := float64(x.inner[i])*float64(scale[ch]) + float64(shift[ch])
			if !testutil.Close(float64(v), want, math.Abs(float64(x.inner[i])*float64(scale[ch]))+math.Abs(float64(shift[ch])), 2*eps32) {
				t.Fatalf("[%d] = %v, want %v", i, v, want)
			}
		}
		dst.check(t, "ScaleShiftChannels")
	})
}

func TestVectorMisuse(t *testing.T) {
	short, long := make([]float32, 3), make([]float32, 4)
	testutil.CheckPanic(t, func() { Axpy(1, long, short) }, "kernels.Axpy: len(y)")
	testutil.CheckPanic(t, func() { Dot(long, short) }, "kernels.Dot: len(y)")
	testutil.CheckPanic(t, func() { Add(long, short, long) }, "kernels.Add: len(x)")
	testutil.CheckPanic(t, func() { Mul(long, long, short) }, "kernels.Mul: len(y)")
	testutil.CheckPanic(t, func() { Relu(long, short) }, "kernels.Relu: len(x)")
	testutil.CheckPanic(t, func() { ReluBackward(long, long, short) }, "kernels.ReluBackward: len(x)")
	testutil.CheckPanic(t, func() { ScaleShift(long, short, 1, 0) }, "kernels.ScaleShift: len(x)")
	testutil.CheckPanic(t, func() { ScaleShiftChannels(long, long, short[:1], short, 1, 2, 2) }, "kernels.ScaleShiftChannels: len(scale)")
	testutil.CheckPanic(t, func() { ScaleShiftChannels(long, long, short, short, -1, 2, 2) }, "kernels.ScaleShiftChannels: negative")
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func sumAbs(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += math.Abs(v)
	}
	return s
}

func TestCopyRows(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, c := range [][4]int{{1, 1, 1, 1}, {3, 5, 7, 9}, {32, 32, 34, 32}, {17, 13, 13, 20}, {4, 0, 3, 3}} {
			rows, width, ss, ds := c[0], c[1], c[2], c[3]
			src := newGuarded(max(0, (rows-1)*ss+width), rng)
			dst := newGuarded(max(0, (rows-1)*ds+width), rng)
			before := append([]float32(nil), dst.inner...)
			CopyRows(dst.inner, ds, src.inner, ss, rows, width)
			for r := range rows {
				for q := range ds {
					i := r*ds + q
					if i >= len(dst.inner) {
						break
					}
					want := before[i]
					if q < width {
						want = src.inner[r*ss+q]
					}
					if math.Float32bits(dst.inner[i]) != math.Float32bits(want) {
						t.Fatalf("rows=%d width=%d: dst[%d] = %v, want %v", rows, width, i, dst.inner[i], want)
					}
				}
			}
			dst.check(t, "CopyRows")
		}
	})
	testutil.CheckPanic(t, func() { CopyRows(make([]float32, 4), 1, make([]float32, 4), 2, 2, 2) }, "kernels.CopyRows")
	testutil.CheckPanic(t, func() { CopyRows(make([]float32, 8), 4, make([]float32, 5), 4, 2, 3) }, "len(src)")
}
