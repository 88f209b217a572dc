package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// TestMaxPool2x2Row checks MaxPool2x2Row on every implementation against
// the plain scan, bit for bit and index for index, on lengths around the
// 8-output blocks, with NaNs, infinities and ties planted, and guard bands
// around the outputs.
func TestMaxPool2x2Row(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 33} {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				w := 2*n + 3 // rows wider than the windows, as with an odd width
				x := make([]float32, 2*w)
				for i := range x {
					switch p := rng.IntN(20); {
					case p == 0:
						x[i] = nan
					case p == 1:
						x[i] = -inf
					case p == 2:
						x[i] = inf
					case p < 8:
						x[i] = float32(rng.IntN(3)) // ties
					default:
						x[i] = float32(rng.NormFloat64())
					}
				}
				y := newGuarded(n, rng)
				idxAll := make([]int32, n+2*guardLen)
				for i := range idxAll {
					idxAll[i] = -7
				}
				idx := idxAll[guardLen : guardLen+n : guardLen+n]
				const at0 = 40
				MaxPool2x2Row(y.inner, idx, x[:w], x[w:], at0, w)
				y.check(t, "y")
				for i, v := range idxAll {
					if (i < guardLen || i >= guardLen+n) && v != -7 {
						t.Fatalf("idx written outside the output at %d", i-guardLen)
					}
				}
				for o := range n {
					best, at := x[2*o], 0
					for k, v := range [3]float32{x[2*o+1], x[w+2*o], x[w+2*o+1]} {
						if v > best || v != v {
							best, at = v, [3]int{1, w, w + 1}[k]
						}
					}
					if math.Float32bits(y.inner[o]) != math.Float32bits(best) || idx[o] != int32(at0+2*o+at) {
						t.Fatalf("output %d = %v at %d, want %v at %d", o, y.inner[o], idx[o], best, at0+2*o+at)
					}
				}
			})
		}
	})
}
