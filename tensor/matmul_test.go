package tensor

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
)

// refMatMul computes op(a)·op(b) for stored row-major matrices with plain
// float64 loops, returning the product and Σ|a||b| per element (the scale
// of float32 rounding error).
func refMatMul(a []float32, ar, ac int, b []float32, br, bc int, transA, transB bool) (c, scale []float64, m, n int) {
	at := func(i, p int) float64 { return float64(a[i*ac+p]) }
	if transA {
		at = func(i, p int) float64 { return float64(a[p*ac+i]) }
	}
	bt := func(p, j int) float64 { return float64(b[p*bc+j]) }
	if transB {
		bt = func(p, j int) float64 { return float64(b[j*bc+p]) }
	}
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	n = bc
	if transB {
		n = br
	}
	c, scale = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			for p := range k {
				c[i*n+j] += at(i, p) * bt(p, j)
				scale[i*n+j] += abs64(at(i, p) * bt(p, j))
			}
		}
	}
	return c, scale, m, n
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// stored returns the stored shape of op(X) = rows×cols.
func stored(rows, cols int, trans bool) []int {
	if trans {
		return []int{cols, rows}
	}
	return []int{rows, cols}
}

// TestMatMul checks every transpose combination on odd sizes (below,
// at and above the microkernel tile) and on a product big enough to be
// split over threads.
func TestMatMul(t *testing.T) {
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, testMatMul)
}

func testMatMul(t *testing.T) {
	g := NewRNG(20)
	dims := [][3]int{{1, 1, 1}, {1, 7, 3}, {3, 5, 7}, {7, 3, 1}, {17, 17, 17}, {5, 33, 9}, {0, 3, 4}, {3, 0, 4},
		{3, 4, 0}, {130, 70, 257}}
	withThreads(4, func() {
		for _, d := range dims {
			m, n, k := d[0], d[1], d[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					a, b := Randn(g, stored(m, k, ta)...), Randn(g, stored(k, n, tb)...)
					want, scale, _, _ := refMatMul(a.data, a.shape[0], a.shape[1], b.data, b.shape[0], b.shape[1], ta, tb)
					what := fmt.Sprintf("MatMul(%v, %v, %v, %v)", a.shape, b.shape, ta, tb)
					got := MatMul(nil, a, b, ta, tb)
					if !slices.Equal(got.shape, []int{m, n}) {
						t.Fatalf("%s: shape %v", what, got.shape)
					}
					checkClose(t, what, got.data, want, scale, 1e-6*float64(k+1))
					out := New(m, n).Fill(99)
					if MatMul(out, a, b, ta, tb) != out {
						t.Fatalf("%s: did not return out", what)
					}
					checkClose(t, what+" into out", out.data, want, scale, 1e-6*float64(k+1))
				}
			}
		}
	})
}

// TestBatchedMatMul checks 3-D by 3-D and 3-D by shared 2-D products with
// every transpose combination, including batches spread over threads.
func TestBatchedMatMul(t *testing.T) {
	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, testBatchedMatMul)
}

func testBatchedMatMul(t *testing.T) {
	g := NewRNG(21)
	cases := [][4]int{{1, 3, 5, 7}, {3, 1, 1, 1}, {5, 7, 3, 17}, {0, 3, 3, 3}, {2, 0, 3, 4}, {1000, 16, 16, 16}, {3, 60, 50, 70}}
	withThreads(4, func() {
		for _, c := range cases {
			t.Run(fmt.Sprint(c), func(t *testing.T) {
				bs, m, n, k := c[0], c[1], c[2], c[3]
				for _, shared := range []bool{false, true} {
					for _, ta := range []bool{false, true} {
						for _, tb := range []bool{false, true} {
							a := Randn(g, append([]int{bs}, stored(m, k, ta)...)...)
							bShape := stored(k, n, tb)
							if !shared {
								bShape = append([]int{bs}, bShape...)
							}
							b := Randn(g, bShape...)
							sa, sb := m*k, k*n
							if shared {
								sb = 0
							}
							want, scale := make([]float64, 0, bs*m*n), make([]float64, 0, bs*m*n)
							for i := range bs {
								ai := a.data[i*sa : (i+1)*sa]
								bi := b.data[i*sb : i*sb+k*n]
								w, s, _, _ := refMatMul(ai, a.shape[1], a.shape[2], bi, bShape[len(bShape)-2], bShape[len(bShape)-1], ta, tb)
								want, scale = append(want, w...), append(scale, s...)
							}
							what := fmt.Sprintf("BatchedMatMul(%v, %v, %v, %v)", a.shape, b.shape, ta, tb)
							got := BatchedMatMul(nil, a, b, ta, tb)
							if !slices.Equal(got.shape, []int{bs, m, n}) {
								t.Fatalf("%s: shape %v", what, got.shape)
							}
							checkClose(t, what, got.data, want, scale, 1e-6*float64(k+1))
							out := New(bs, m, n).Fill(-5)
							BatchedMatMul(out, a, b, ta, tb)
							checkClose(t, what+" into out", out.data, want, scale, 1e-6*float64(k+1))
						}
					}
				}
			})
		}
	})
}

func TestMatMulMisuse(t *testing.T) {
	testutil.CheckPanic(t, func() { MatMul(nil, New(2, 3), New(4, 5), false, false) },
		"tensor.MatMul: shapes [2 3] and [4 5] do not match")
	testutil.CheckPanic(t, func() { MatMul(nil, New(2, 3), New(2, 5), false, false) }, "tensor.MatMul", "[2 3]", "[2 5]")
	MatMul(nil, New(2, 3), New(2, 5), true, false) // fine transposed
	testutil.CheckPanic(t, func() { MatMul(nil, New(2, 3), New(5, 2), false, false) }, "transB=false")
	testutil.CheckPanic(t, func() { MatMul(nil, New(6), New(6, 2), false, false) }, "tensor.MatMul: shapes [6] and [6 2] are not both 2-D")
	testutil.CheckPanic(t, func() { MatMul(New(3, 3), New(2, 3), New(3, 3), false, false) },
		"tensor.MatMul: out has shape [3 3], want [2 3]")
	testutil.CheckPanic(t, func() { BatchedMatMul(nil, New(2, 3, 4), New(3, 4, 5), false, false) },
		"tensor.BatchedMatMul", "[2 3 4]", "[3 4 5]")
	testutil.CheckPanic(t, func() { BatchedMatMul(nil, New(2, 3, 4), New(2, 5, 5), false, false) },
		"tensor.BatchedMatMul: shapes [2 3 4] and [2 5 5] do not match")
	testutil.CheckPanic(t, func() { BatchedMatMul(nil, New(3, 4), New(4, 5), false, false) }, "tensor.BatchedMatMul", "[3 4]")
	testutil.CheckPanic(t, func() { BatchedMatMul(New(2, 3, 4), New(2, 3, 4), New(4, 5), false, false) },
		"tensor.BatchedMatMul: out has shape [2 3 4], want [2 3 5]")
}

// TestMatMulNoAlloc checks that products into provided outputs do not
// allocate. The kernels and ops recycle their scratch in freelist.Lists,
// which, unlike a sync.Pool, keep it under the race detector too.
func TestMatMulNoAlloc(t *testing.T) {
	g := NewRNG(22)
	a, b := Randn(g, 64, 48), Randn(g, 48, 33)
	c, bt := New(64, 33), b.Reshape(33, 48)
	ba, bb, bc := Randn(g, 300, 8, 12), Randn(g, 300, 12, 9), New(300, 8, 9)
	withThreads(4, func() {
		allocs := testing.AllocsPerRun(20, func() {
			MatMul(c, a, b, false, false)
			MatMul(c, a, bt, false, true)
			BatchedMatMul(bc, ba, bb, false, false)
		})
		if allocs != 0 {
			t.Errorf("%v allocations per run", allocs)
		}
	})
}
