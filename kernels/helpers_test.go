package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// forEachImpl runs f once per implementation this CPU supports.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, name := range Implementations() {
		t.Run(name, func(t *testing.T) {
			restore, err := Use(name)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
}

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

// mustPanic checks that f panics with a message containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic; want one mentioning %q", want)
		}
		msg, _ := r.(string)
		if err, ok := r.(error); ok {
			msg = err.Error()
		}
		if !strings.Contains(msg, want) {
			t.Fatalf("panic %q does not mention %q", msg, want)
		}
	}()
	f()
}

// closeTo reports whether got is within tol·scale of want, with NaN equal
// to NaN.
func closeTo(got float32, want, scale, tol float64) bool {
	g := float64(got)
	if math.IsNaN(want) {
		return math.IsNaN(g)
	}
	return math.Abs(g-want) <= tol*math.Max(scale, 1e-30)
}

// eps32 is float32's unit roundoff.
const eps32 = 1.0 / (1 << 23)

var testSizes = []int{0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255, 256, 1000, 1031}
