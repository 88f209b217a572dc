package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// gemmCase is one Sgemm call to check against the float64 oracle.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra leading-dimension stride beyond the minimum
	padC           int
	alpha, beta    float32
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d pads=%d/%d/%d alpha=%v beta=%v",
		g.transA, g.transB, g.m, g.n, g.k, g.padA, g.padB, g.padC, g.alpha, g.beta)
}

// runGemmCase runs Sgemm on random operands with guard bands around C (and
// in the row gaps of a strided C) and compares with gonum's float64 Dgemm.
func runGemmCase(t *testing.T, rng *rand.Rand, g gemmCase) {
	t.Helper()
	ar, ac := g.m, g.k
	if g.transA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.transB {
		br, bc = g.n, g.k
	}
	lda, ldb, ldc := max(1, ac)+g.padA, max(1, bc)+g.padB, max(1, g.n)+g.padC
	a := randMatrix(rng, ar, lda)
	b := randMatrix(rng, br, ldb)
	cg := newGuarded(max(0, (g.m-1)*ldc+g.n), rng)
	c := cg.inner
	// Gaps between rows of C must survive untouched too.
	for i := 0; i+1 < g.m; i++ {
		for j := g.n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	// Oracle in float64.
	ref := blas64.General{Rows: g.m, Cols: g.n, Stride: max(1, g.n), Data: make([]float64, g.m*max(1, g.n))}
	bound := make([]float64, g.m*g.n) // magnitude of the terms, for the tolerance
	for i := range g.m {
		for j := range g.n {
			ref.Data[i*ref.Stride+j] = float64(c[i*ldc+j])
			bound[i*g.n+j] = math.Abs(float64(g.beta) * float64(c[i*ldc+j]))
		}
	}
	if g.m > 0 && g.n > 0 && g.k > 0 {
		ta, tb := blas.NoTrans, blas.NoTrans
		if g.transA {
			ta = blas.Trans
		}
		if g.transB {
			tb = blas.Trans
		}
		A := blas64.General{Rows: ar, Cols: ac, Stride: lda, Data: widen(a)}
		B := blas64.General{Rows: br, Cols: bc, Stride: ldb, Data: widen(b)}
		blas64.Gemm(ta, tb, float64(g.alpha), A, B, float64(g.beta), ref)
		absA := General64Abs(A)
		absB := General64Abs(B)
		absRef := blas64.General{Rows: g.m, Cols: g.n, Stride: g.n, Data: make([]float64, g.m*g.n)}
		blas64.Gemm(ta, tb, math.Abs(float64(g.alpha)), absA, absB, 0, absRef)
		for i := range bound {
			bound[i] += absRef.Data[i]
		}
	} else {
		for i := range g.m {
			for j := range g.n {
				ref.Data[i*ref.Stride+j] *= float64(g.beta)
			}
		}
	}
	if g.beta == 0 {
		// beta = 0 must not read C: poison it.
		for i := range g.m {
			for j := range g.n {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, c, ldc)
	tol := float64(g.k+4) * 2 * eps32
	for i := range g.m {
		for j := range g.n {
			got, want := c[i*ldc+j], ref.Data[i*ref.Stride+j]
			if !testutil.Close(float64(got), want, bound[i*g.n+j], tol) {
				t.Fatalf("%v: C[%d,%d] = %v, want %v", g, i, j, got, want)
			}
		}
		for j := g.n; j < ldc && i+1 < g.m; j++ {
			if math.Float32bits(c[i*ldc+j]) != math.Float32bits(sentinel) {
				t.Fatalf("%v: wrote into the gap of row %d at column %d", g, i, j)
			}
		}
	}
	cg.check(t, g.String())
}

func randMatrix(rng *rand.Rand, rows, ld int) []float32 {
	x := make([]float32, max(0, rows*ld))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// General64Abs returns a copy of g with every element replaced by its
// absolute value.
func General64Abs(g blas64.General) blas64.General {
	out := g
	out.Data = make([]float64, len(g.Data))
	for i, v := range g.Data {
		out.Data[i] = math.Abs(v)
	}
	return out
}

var gemmScalars = [][2]float32{{1, 0}, {1, 1}, {0, 0.5}, {-1.5, 0}, {0.75, -2}, {2, 1}}

func TestSgemmSmallShapes(t *testing.T) {
	sizes := []int{1, 2, 3, 5, 7, 15, 17, 33}
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, m := range sizes {
			for _, n := range sizes {
				for _, k := range sizes {
					for tr := range 4 {
						s := gemmScalars[rng.IntN(len(gemmScalars))]
						runGemmCase(t, rng, gemmCase{
							transA: tr&1 != 0, transB: tr&2 != 0, m: m, n: n, k: k,
							padA: rng.IntN(3), padB: rng.IntN(3), padC: rng.IntN(3),
							alpha: s[0], beta: s[1],
						})
					}
				}
			}
		}
	})
}

func TestSgemmLargerShapes(t *testing.T) {
	shapes := [][3]int{{255, 255, 255}, {6, 16, 1000}, {97, 301, 129}, {300, 17, 513}, {16, 1100, 144}, {64, 257, 576}, {513, 40, 33}, {0, 5, 5}, {5, 0, 5}, {5, 5, 0}}
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, sh := range shapes {
			for tr := range 4 {
				for _, s := range gemmScalars {
					if testing.Short() && sh[0]*sh[1]*sh[2] > 1e6 && s != gemmScalars[4] {
						continue
					}
					runGemmCase(t, rng, gemmCase{
						transA: tr&1 != 0, transB: tr&2 != 0, m: sh[0], n: sh[1], k: sh[2],
						padA: 3, padB: 1, padC: 5, alpha: s[0], beta: s[1],
					})
				}
			}
		}
	})
}

// TestSgemmBlockingAndThreads forces tiny cache blocks and several threads
// so that every loop of the nest and every split runs more than once.
func TestSgemmBlockingAndThreads(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		prev := SetThreads(threads)
		for _, blk := range []Blocking{{MC: 1, KC: 1, NC: 1}, {MC: 24, KC: 7, NC: 48}, {MC: 30, KC: 64, NC: 100}} {
			t.Run(fmt.Sprintf("threads%d/MC%d_KC%d_NC%d", threads, blk.MC, blk.KC, blk.NC), func(t *testing.T) {
				SetBlocking(&blk)
				testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
					rng := rand.New(rand.NewPCG(11, uint64(threads)))
					for _, sh := range [][3]int{{70, 90, 50}, {131, 67, 29}, {200, 200, 200}} {
						for tr := range 4 {
							runGemmCase(t, rng, gemmCase{transA: tr&1 != 0, transB: tr&2 != 0,
								m: sh[0], n: sh[1], k: sh[2], padA: 1, padB: 2, padC: 3, alpha: 0.5, beta: 1.25})
						}
					}
				})
			})
		}
		SetBlocking(nil)
		SetThreads(prev)
	}
}

// TestSgemmDeterministic checks that a fixed thread count gives bitwise
// identical results run after run.
func TestSgemmDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	m, n, k := 150, 170, 300
	a, b := randMatrix(rng, m, k), randMatrix(rng, k, n)
	first := make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, first, n)
	for range 5 {
		c := make([]float32, m*n)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		for i := range c {
			if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
				t.Fatalf("run differs at %d: %v vs %v", i, c[i], first[i])
			}
		}
	}
}

func TestSgemmMisuse(t *testing.T) {
	a := make([]float32, 12)
	testutil.CheckPanic(t, func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) }, "kernels.Sgemm: negative size")
	testutil.CheckPanic(t, func() { Sgemm(false, false, 2, 2, 3, 1, a, 1, a, 2, 0, a, 2) }, "lda = 1, need at least 3")
	testutil.CheckPanic(t, func() { Sgemm(false, false, 2, 4, 2, 1, a, 2, a, 2, 0, a, 4) }, "ldb = 2, need at least 4")
	testutil.CheckPanic(t, func() { Sgemm(false, false, 4, 2, 4, 1, a, 4, a, 2, 0, a, 2) }, "len(a) = 12")
	testutil.CheckPanic(t, func() { Sgemm(false, false, 4, 4, 1, 1, a, 1, a, 4, 0, a, 4) }, "len(c) = 12")
	testutil.CheckPanic(t, func() { Sgemm(false, false, 1, 4, 1, 1, a, 1, a, 4, 0, a, 3) }, "ldc = 3, need at least 4")
}

func TestSgemmNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	n := 200
	a, b, c := randMatrix(rng, n, n), randMatrix(rng, n, n), make([]float32, n*n)
	Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	allocs := testing.AllocsPerRun(20, func() { Sgemm(false, true, n, n, n, 1, a, n, b, n, 0, c, n) })
	if allocs != 0 {
		t.Fatalf("Sgemm allocates %v times per call in steady state", allocs)
	}
}

// FuzzSgemm checks random shapes, strides, transposes and scalars against
// the oracle. `go test -fuzz FuzzSgemm ./kernels/` explores further.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint8(1), uint8(2), uint8(0), uint64(1))
	f.Add(uint8(17), uint8(33), uint8(1), uint8(3), uint8(0), uint8(0), uint8(5), uint64(2))
	f.Add(uint8(6), uint8(16), uint8(255), uint8(1), uint8(4), uint8(4), uint8(9), uint64(3))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(2), uint8(0), uint8(0), uint8(0), uint64(4))
	f.Add(uint8(100), uint8(3), uint8(64), uint8(2), uint8(7), uint8(1), uint8(3), uint64(5))
	f.Fuzz(func(t *testing.T, m, n, k, trans, padA, padB, padC uint8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 99))
		s := gemmScalars[seed%uint64(len(gemmScalars))]
		testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
			runGemmCase(t, rng, gemmCase{transA: trans&1 != 0, transB: trans&2 != 0,
				m: int(m), n: int(n), k: int(k), padA: int(padA % 9), padB: int(padB % 9), padC: int(padC % 9),
				alpha: s[0], beta: s[1]})
		})
	})
}

// TestSgemmRows checks SgemmRows against Sgemm on the matrices its row
// tables describe, with overlapping rows as convolutions make them.
func TestSgemmRows(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		for _, sh := range [][3]int{{1, 1, 1}, {5, 7, 3}, {16, 200, 27}, {16, 1088, 144}, {40, 50, 33}, {100, 17, 300}, {7, 33, 600}} {
			m, n, k := sh[0], sh[1], sh[2]
			for mode := range 4 { // bit 0: rows for A; bit 1: rows for B (else B transposed)
				storeA := randMatrix(rng, 1, 3*m+k+5)
				storeB := randMatrix(rng, 1, 2*k+n+9)
				aRows := make([]int, m)
				for i := range aRows {
					aRows[i] = rng.IntN(len(storeA) - k + 1)
				}
				bRows := make([]int, k)
				for p := range bRows {
					bRows[p] = rng.IntN(len(storeB) - n + 1)
				}
				am, bm := make([]float32, m*k), make([]float32, k*n)
				for i := range m {
					copy(am[i*k:(i+1)*k], storeA[aRows[i]:])
				}
				for p := range k {
					copy(bm[p*n:(p+1)*n], storeB[bRows[p]:])
				}
				want := randMatrix(rng, m, n)
				got := append([]float32(nil), want...)
				transB := mode&2 == 0
				a, ar, lda := am, []int(nil), k
				if mode&1 != 0 {
					a, ar, lda = storeA, aRows, 0
				}
				b, br, ldb := bm, []int(nil), n
				if transB {
					// B given as Bᵀ (n×k), materialized.
					bt := make([]float32, n*k)
					for p := range k {
						for q := range n {
							bt[q*k+p] = bm[p*n+q]
						}
					}
					b, ldb = bt, k
				} else {
					b, br, ldb = storeB, bRows, 0
				}
				Sgemm(false, false, m, n, k, 1.5, am, k, bm, n, 0.5, want, n)
				SgemmRows(transB, m, n, k, 1.5, a, ar, lda, b, br, ldb, 0.5, got, n)
				for i := range got {
					if !testutil.Close(float64(got[i]), float64(want[i]), math.Abs(float64(want[i]))+float64(k), float64(k+4)*4*eps32) {
						t.Fatalf("m=%d n=%d k=%d mode=%d: [%d] = %v, want %v", m, n, k, mode, i, got[i], want[i])
					}
				}
			}
		}
	})
	testutil.CheckPanic(t, func() {
		SgemmRows(false, 1, 4, 1, 1, make([]float32, 4), nil, 4, make([]float32, 8), []int{5}, 0, 0, make([]float32, 4), 4)
	}, "bRows[0] = 5")
	testutil.CheckPanic(t, func() {
		SgemmRows(false, 2, 1, 1, 1, make([]float32, 4), []int{0}, 0, make([]float32, 1), nil, 1, 0, make([]float32, 2), 1)
	}, "len(aRows) = 1, need 2")
	testutil.CheckPanic(t, func() {
		SgemmRows(true, 1, 1, 1, 1, make([]float32, 1), nil, 1, make([]float32, 1), []int{0}, 0, 0, make([]float32, 1), 1)
	}, "non-transposed B")
}
