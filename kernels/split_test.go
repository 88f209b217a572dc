package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// TestSgemmSplitInvariant checks that how a product is split across
// threads does not change a bit of its result: every element of C is the
// same dot product in the same order whichever part computes it. So a
// product may run in fewer parts than the thread count (nested inside
// another parallel call, say) without touching reproducibility.
func TestSgemmSplitInvariant(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		for _, sh := range [][3]int{{70, 900, 50}, {131, 67, 290}, {256, 256, 256}, {32, 676, 288}, {288, 32, 676}} {
			for tr := range 4 {
				tA, tB := tr&1 != 0, tr&2 != 0
				m, n, k := sh[0], sh[1], sh[2]
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				a, b := randMatrix(rng, max(m, k), max(lda, m, k)), randMatrix(rng, max(n, k), max(ldb, n, k))
				var first []float32
				for _, threads := range []int{1, 2, 3, 5} {
					prev := SetThreads(threads)
					c := make([]float32, m*n)
					Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
					SetThreads(prev)
					if first == nil {
						first = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%s: %d threads differ from 1 at %d: %v vs %v",
								fmt.Sprintf("tA=%v tB=%v %dx%dx%d", tA, tB, m, n, k), threads, i, c[i], first[i])
						}
					}
				}
			}
		}
	})
}
