//go:build !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackRowsAVX2 checks the assembly row packing against packRowsGo,
// bit for bit, for every row count (the assembly takes 4 and 8, Go the
// rest), lengths around the 8-column blocks and panel widths wider than
// the rows: the floats between columns and the guard bands stay as they
// were.
func TestPackRowsAVX2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n <= 8; n++ {
		for _, kc := range []int{0, 1, 7, 8, 9, 16, 17, 33, 64, 257} {
			for _, stride := range []int{n, 8, 12, 13} {
				if stride < n {
					continue
				}
				t.Run(fmt.Sprintf("n=%d/kc=%d/stride=%d", n, kc, stride), func(t *testing.T) {
					var rows [8][]float32
					for r := range n {
						rows[r] = newGuarded(kc, rng).inner
					}
					size := 0
					if kc > 0 {
						size = (kc-1)*stride + n
					}
					got, want := newGuarded(size, rng), make([]float32, size)
					for i := range got.inner {
						got.inner[i] = sentinel
						want[i] = sentinel
					}
					packRowsAVX2(got.inner, stride, rows, n, kc)
					packRowsGo(want, stride, rows, n, kc)
					got.check(t, "packRowsAVX2")
					for i, w := range want {
						if math.Float32bits(got.inner[i]) != math.Float32bits(w) {
							t.Fatalf("dst[%d] = %v, want %v", i, got.inner[i], w)
						}
					}
				})
			}
		}
	}
}
