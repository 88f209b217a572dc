package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// TestSgemmPacked checks that a product with A packed ahead is bit for bit
// the product Sgemm (or SgemmRows, for a row table) computes, on every
// implementation, for both layouts of A and every layout of B, with odd
// sizes, tiny blockings that cut M and K into several blocks, 1 to 3
// threads, and guard bands around C. One PackedA serves several products,
// as a convolution's weights serve every image.
func TestSgemmPacked(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		shapes := [][3]int{{1, 1, 1}, {5, 7, 3}, {16, 80, 576}, {32, 300, 288}, {33, 97, 129}, {64, 70, 600}, {100, 17, 300}, {13, 5, 0}}
		blockings := []*Blocking{nil, {MC: 1, KC: 7, NC: 1}, {MC: 24, KC: 64, NC: 96}}
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, blk := range blockings {
				for _, threads := range []int{1, 3} {
					name := fmt.Sprintf("%dx%dx%d/blk=%v/threads=%d", m, n, k, blk, threads)
					func() {
						if blk != nil {
							SetBlocking(blk)
							defer SetBlocking(nil)
						}
						defer SetThreads(SetThreads(threads))
						checkPacked(t, rng, name, m, n, k)
					}()
				}
			}
		}
	})
	testutil.CheckPanic(t, func() { SgemmPacked(&PackedA{}, false, 1, 1, nil, nil, 1, 0, nil, 1) }, "not packed")
	testutil.CheckPanic(t, func() { new(PackedA).Pack(false, 2, 3, make([]float32, 5), 3) }, "len(a) = 5")
	var pa PackedA
	pa.Pack(false, 2, 3, make([]float32, 6), 3)
	testutil.CheckPanic(t, func() { SgemmPacked(&pa, false, 4, 1, make([]float32, 11), nil, 4, 0, make([]float32, 8), 4) }, "len(b) = 11")
	testutil.CheckPanic(t, func() { SgemmPacked(&pa, false, 4, 1, make([]float32, 12), nil, 4, 0, make([]float32, 7), 4) }, "len(c) = 7")
}

// checkPacked runs one shape through SgemmPacked with A packed once, both
// layouts of A, and B in place, transposed and through a row table.
func checkPacked(t *testing.T, rng *rand.Rand, name string, m, n, k int) {
	t.Helper()
	a := randMatrix(rng, m, k)
	at := make([]float32, k*m) // Aᵀ stored k×m
	for i := range m {
		for p := range k {
			at[p*m+i] = a[i*k+p]
		}
	}
	b := randMatrix(rng, k, n)
	bt := make([]float32, n*k)
	for p := range k {
		for q := range n {
			bt[q*k+p] = b[p*n+q]
		}
	}
	store := randMatrix(rng, 1, 2*k+n+9)
	bRows := make([]int, k)
	for p := range bRows {
		bRows[p] = rng.IntN(len(store) - n + 1)
	}
	c0 := randMatrix(rng, m, n)
	var pa PackedA
	for _, transA := range []bool{false, true} {
		if transA {
			pa.Pack(true, m, k, at, m)
		} else {
			pa.Pack(false, m, k, a, max(1, k))
		}
		for mode := range 3 { // B in place, Bᵀ, B through a row table
			for _, beta := range []float32{0, 0.5} {
				want := append([]float32(nil), c0...)
				got := newGuarded(m*n, rng)
				copy(got.inner, c0)
				switch mode {
				case 0:
					Sgemm(transA, false, m, n, k, 1.5, pick(transA, at, a), pick(transA, m, max(1, k)), b, n, beta, want, n)
					SgemmPacked(&pa, false, n, 1.5, b, nil, n, beta, got.inner, n)
				case 1:
					Sgemm(transA, true, m, n, k, 1.5, pick(transA, at, a), pick(transA, m, max(1, k)), bt, max(1, k), beta, want, n)
					SgemmPacked(&pa, true, n, 1.5, bt, nil, max(1, k), beta, got.inner, n)
				case 2:
					if transA { // SgemmRows has no transposed A
						continue
					}
					SgemmRows(false, m, n, k, 1.5, a, nil, max(1, k), store, bRows, 0, beta, want, n)
					SgemmPacked(&pa, false, n, 1.5, store, bRows, 0, beta, got.inner, n)
				}
				what := fmt.Sprintf("%s transA=%v mode=%d beta=%v", name, transA, mode, beta)
				got.check(t, what)
				// Sgemm may take a narrow tile for n ≤ narrowMaxCols, and
				// so round differently; the product must still be right.
				exact := n > narrowMaxCols || active.gemmNarrow == nil
				for i := range want {
					if exact && math.Float32bits(got.inner[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: [%d] = %v, Sgemm gives %v", what, i, got.inner[i], want[i])
					}
					if !testutil.Close(float64(got.inner[i]), float64(want[i]), math.Abs(float64(want[i]))+float64(k), float64(k+4)*4*eps32) {
						t.Fatalf("%s: [%d] = %v, Sgemm gives %v", what, i, got.inner[i], want[i])
					}
				}
			}
		}
	}
}

func pick[T any](cond bool, yes, no T) T {
	if cond {
		return yes
	}
	return no
}
