package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// Benchmarks of the vector kernels on every implementation this CPU
// supports, at an L1/L2-resident size and a memory-bound size. Throughput is
// reported as bytes of float32 operands read and written per second:
//
//	go test ./kernels/ -run '^$' -bench 'Vec' -benchtime 200ms

var vecBenchSizes = []int{4096, 1 << 20}

// benchVec runs f for every implementation and size. streams is the number
// of n-float arrays read or written per call, for b.SetBytes.
func benchVec(b *testing.B, streams int, f func(x, y, z []float32)) {
	testutil.ForEachImpl(b, Implementations(), Use, func(b *testing.B) {
		for _, n := range vecBenchSizes {
			b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(5, 6))
				x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
					y[i] = float32(rng.NormFloat64())
				}
				b.SetBytes(int64(streams * 4 * n))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					f(x, y, z)
				}
			})
		}
	})
}

var benchSink float32

func BenchmarkVecAxpy(b *testing.B) {
	// Reads x and y, writes y. Alternating signs keep y bounded.
	alpha := float32(1e-3)
	benchVec(b, 3, func(x, y, _ []float32) { Axpy(alpha, x, y); alpha = -alpha })
}

func BenchmarkVecDot(b *testing.B) {
	benchVec(b, 2, func(x, y, _ []float32) { benchSink = Dot(x, y) })
}

func BenchmarkVecAdd(b *testing.B) {
	benchVec(b, 3, func(x, y, z []float32) { Add(z, x, y) })
}

func BenchmarkVecRelu(b *testing.B) {
	benchVec(b, 2, func(x, _, z []float32) { Relu(z, x) })
}

func BenchmarkVecSum(b *testing.B) {
	benchVec(b, 1, func(x, _, _ []float32) { benchSink = Sum(x) })
}

func BenchmarkVecMax(b *testing.B) {
	benchVec(b, 1, func(x, _, _ []float32) { benchSink = Max(x) })
}

// TestVectorSpecialValues checks that every implementation agrees bit for
// bit with the generic one on NaN, signed zeros, infinities and subnormals
// for the kernels whose result is exactly defined (no fused multiply-adds,
// no reassociated sums), at sizes that exercise the 32-wide, 8-wide and
// scalar loops, and that Max finds a NaN wherever it sits.
func TestVectorSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	sub := math.Float32frombits(1) // smallest positive subnormal
	special := []float32{nan, negZero, 0, inf, -inf, sub, -sub, 1, -1, math.Float32frombits(0xffc00001)}

	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 43, 75} {
			x, y := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i] = special[i%len(special)]
				y[i] = special[(i*7+3)%len(special)]
			}
			got, want := make([]float32, n), make([]float32, n)
			same := func(name string) {
				t.Helper()
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s n=%d: [%d] = %v (%#08x), generic gives %v (%#08x) for x=%v y=%v",
							name, n, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]), x[i], y[i])
					}
				}
			}
			Relu(got, x)
			reluGeneric(want, x)
			same("Relu")
			ReluBackward(got, y, x)
			reluBackwardGeneric(want, y, x)
			same("ReluBackward")
			// Arithmetic on NaN operands yields some NaN, with a payload that
			// depends on the instruction; compare only non-NaN results exactly.
			arith := func(name string) {
				t.Helper()
				for i := range got {
					if got[i] != got[i] && want[i] != want[i] {
						got[i] = want[i]
					}
				}
				same(name)
			}
			Add(got, x, y)
			addGeneric(want, x, y)
			arith("Add")
			Mul(got, x, y)
			mulGeneric(want, x, y)
			arith("Mul")
			copy(got, x)
			copy(want, x)
			Scale(-2.5, got)
			scaleGeneric(-2.5, want)
			arith("Scale")
		}

		if got := Max(nil); !math.IsInf(float64(got), -1) {
			t.Fatalf("Max(nil) = %v, want -Inf", got)
		}
		for n := 1; n <= 75; n++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%13) - 100
			}
			if got := Max(x); got != maxGeneric(x) {
				t.Fatalf("Max n=%d = %v, want %v", n, got, maxGeneric(x))
			}
			for i := range x {
				x[i] = float32(math.Inf(-1))
			}
			if got := Max(x); !math.IsInf(float64(got), -1) {
				t.Fatalf("Max of %d -Infs = %v", n, got)
			}
			for k := range x {
				x[k] = nan
				if got := Max(x); got == got {
					t.Fatalf("Max n=%d with NaN at %d = %v, want NaN", n, k, got)
				}
				x[k] = inf
				if got := Max(x); !math.IsInf(float64(got), 1) {
					t.Fatalf("Max n=%d with +Inf at %d = %v, want +Inf", n, k, got)
				}
				x[k] = float32(math.Inf(-1))
			}
		}
	})
}
