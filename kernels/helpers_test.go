package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// guarded is a slice with sentinel bands before and after it, to catch
// out-of-bounds writes by kernels given the inner slice.
type guarded struct {
	all   []float32
	inner []float32
	start int // index of inner[0] in all
}

const guardLen = 67

var sentinel = float32(math.Float32frombits(0x7fc0dead)) // a NaN with a payload

func newGuarded(n int, rng *rand.Rand) guarded { return newGuardedAt(n, 0, rng) }

// newGuardedAt is newGuarded with the output starting off elements past the
// front band, to test unaligned data.
func newGuardedAt(n, off int, rng *rand.Rand) guarded {
	all := make([]float32, n+off+2*guardLen)
	for i := range all {
		all[i] = sentinel
	}
	start := guardLen + off
	g := guarded{all: all, inner: all[start : start+n : start+n], start: start}
	for i := range g.inner {
		g.inner[i] = float32(rng.NormFloat64())
	}
	return g
}

func (g guarded) check(t *testing.T, what string) {
	t.Helper()
	end := g.start + len(g.inner)
	for i, v := range g.all {
		if (i < g.start || i >= end) && math.Float32bits(v) != math.Float32bits(sentinel) {
			t.Fatalf("%s: write outside the output at offset %d (guard band touched)", what, i-g.start)
		}
	}
}

// eps32 is float32's unit roundoff.
const eps32 = 1.0 / (1 << 23)

var testSizes = []int{0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255, 256, 1000, 1031}
