package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// TestInterleave checks Deinterleave and Interleave against the plain
// loops on every implementation, for lengths around the 8-pair blocks,
// with guard bands that must stay untouched and NaN/Inf carried bitwise.
func TestInterleave(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, c := range [][2]int{{0, 0}, {1, 0}, {1, 1}, {8, 8}, {9, 8}, {8, 7}, {16, 16}, {17, 17}, {37, 36}, {64, 64}, {15, 14}} {
			ne, no := c[0], c[1]
			srcLen := max(2*ne-1, 2*no, 0)
			src := newGuarded(srcLen, rng)
			if srcLen > 3 {
				src.inner[1], src.inner[2] = float32(math.NaN()), float32(math.Inf(-1))
			}
			even, odd := newGuarded(ne, rng), newGuarded(no, rng)
			Deinterleave(even.inner, odd.inner, src.inner)
			for i := range ne {
				if math.Float32bits(even.inner[i]) != math.Float32bits(src.inner[2*i]) {
					t.Fatalf("Deinterleave %d/%d: even[%d] = %v, want %v", ne, no, i, even.inner[i], src.inner[2*i])
				}
			}
			for i := range no {
				if math.Float32bits(odd.inner[i]) != math.Float32bits(src.inner[2*i+1]) {
					t.Fatalf("Deinterleave %d/%d: odd[%d] = %v, want %v", ne, no, i, odd.inner[i], src.inner[2*i+1])
				}
			}
			even.check(t, "Deinterleave even")
			odd.check(t, "Deinterleave odd")

			dst := newGuarded(srcLen, rng)
			before := append([]float32(nil), dst.inner...)
			Interleave(dst.inner, even.inner, odd.inner)
			for i := range dst.inner {
				want := before[i]
				if i%2 == 0 && i/2 < ne || i%2 == 1 && i/2 < no {
					want = src.inner[i]
				}
				if math.Float32bits(dst.inner[i]) != math.Float32bits(want) {
					t.Fatalf("Interleave %d/%d: dst[%d] = %v, want %v", ne, no, i, dst.inner[i], want)
				}
			}
			dst.check(t, "Interleave")
		}
	})
	testutil.CheckPanic(t, func() { Deinterleave(make([]float32, 4), make([]float32, 4), make([]float32, 7)) }, "kernels.Deinterleave: len(src)")
	testutil.CheckPanic(t, func() { Interleave(make([]float32, 6), make([]float32, 4), make([]float32, 3)) }, "kernels.Interleave: len(dst)")
}
