package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// randMatrix returns rows×cols normal values scaled by scale, plus offset.
func randMatrix(g *tensor.RNG, rows, cols int, scale, offset float32) []float32 {
	x := tensor.Randn(g, rows*cols).Data()
	for i := range x {
		x[i] = x[i]*scale + offset
	}
	return x
}

// bruteKNN is the reference search: float64 distances from query q to
// every reference, ranked by (distance, index). It returns all m ranks.
func bruteKNN(refs, q []float32, dim int, metric Metric) (idx []int, dist []float64) {
	m := len(refs) / dim
	dist = make([]float64, m)
	var qq float64
	for _, v := range q {
		qq += float64(v) * float64(v)
	}
	for r := range m {
		var dd, rr, qr float64
		for c, v := range refs[r*dim : (r+1)*dim] {
			diff := float64(q[c]) - float64(v)
			dd += diff * diff
			rr += float64(v) * float64(v)
			qr += float64(q[c]) * float64(v)
		}
		if metric == Cosine {
			dist[r] = 1 - qr/math.Sqrt(qq*rr)
		} else {
			dist[r] = math.Sqrt(dd)
		}
	}
	idx = make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if dist[a] != dist[b] {
			if dist[a] < dist[b] {
				return -1
			}
			return 1
		}
		return a - b
	})
	return idx, dist
}

// checkNeighbors compares a search with bruteKNN query by query: every
// reported distance must match the true distance of the reported index to
// tol, the t-th reported true distance must equal the t-th smallest, and
// where the true distances around rank t are separated by more than 2·tol
// the index must be exactly the reference's.
func checkNeighbors(t *testing.T, nb *Neighbors, refs, queries []float32, dim int, metric Metric, tol float64) {
	t.Helper()
	k := nb.K
	for q := range nb.Queries {
		want, dist := bruteKNN(refs, queries[q*dim:(q+1)*dim], dim, metric)
		for r := range k {
			got := int(nb.Index[q*k+r])
			if got < 0 || got >= len(want) {
				t.Fatalf("query %d rank %d: index %d out of range", q, r, got)
			}
			if d := float64(nb.Dist[q*k+r]); math.Abs(d-dist[got]) > tol {
				t.Fatalf("query %d rank %d: distance %g to ref %d, true %g", q, r, d, got, dist[got])
			}
			if math.Abs(dist[got]-dist[want[r]]) > 2*tol {
				t.Fatalf("query %d rank %d: ref %d at %g, want ref %d at %g", q, r, got, dist[got], want[r], dist[want[r]])
			}
			sep := r+1 >= len(want) || dist[want[r+1]]-dist[want[r]] > 2*tol
			if r > 0 {
				sep = sep && dist[want[r]]-dist[want[r-1]] > 2*tol
			}
			if sep && got != want[r] {
				t.Fatalf("query %d rank %d: ref %d, want ref %d (distances %g, %g)", q, r, got, want[r], dist[got], dist[want[r]])
			}
		}
	}
}

// TestSearch checks exact kNN against float64 brute force over odd shapes,
// k = 1 and k = m, tiny scratch budgets (many tiles in both directions),
// both metrics and several thread counts.
func TestSearch(t *testing.T) {
	cases := []struct {
		m, n, dim, k, budget int
	}{
		{1, 5, 3, 1, 0},
		{37, 53, 7, 1, 0},
		{37, 53, 7, 37, 0},
		{100, 301, 13, 12, 4 * 7 * 5},
		{257, 600, 33, 5, 4 * 64 * 100},
		{1500, 300, 64, 12, 0},
		{2100, 300, 17, 12, 4 * 40 * 300},
	}
	g := tensor.NewRNG(1)
	for _, threads := range []int{1, 2, 3} {
		for _, metric := range []Metric{Euclidean, Cosine} {
			for _, c := range cases {
				name := fmt.Sprintf("threads=%d/%v/m=%d,n=%d,dim=%d,k=%d,budget=%d", threads, metric, c.m, c.n, c.dim, c.k, c.budget)
				t.Run(name, func(t *testing.T) {
					defer kernels.SetThreads(kernels.SetThreads(threads))
					refs := randMatrix(g, c.m, c.dim, 1, 0.5)
					queries := randMatrix(g, c.n, c.dim, 1, 0.5)
					nb, err := Search(refs, queries, c.dim, KNNOptions{K: c.k, Metric: metric, MaxScratchBytes: c.budget})
					if err != nil {
						t.Fatal(err)
					}
					tol := 1e-3 * math.Sqrt(float64(c.dim))
					if metric == Cosine {
						tol = 1e-5
					}
					checkNeighbors(t, nb, refs, queries, c.dim, metric, tol)
				})
			}
		}
	}
}

// TestSearchTies checks that exactly equal distances rank by reference
// index: every reference appears three times, and a query sitting on a
// reference must list its copies in index order at distance 0.
func TestSearchTies(t *testing.T) {
	const m0, dim = 40, 9
	g := tensor.NewRNG(2)
	base := randMatrix(g, m0, dim, 1, 0)
	refs := slices.Concat(base, base, base) // ref r, r+m0, r+2m0 are equal
	for _, budget := range []int{0, 4 * 3 * 7} {
		nb, err := Search(refs, base, dim, KNNOptions{K: 3, MaxScratchBytes: budget})
		if err != nil {
			t.Fatal(err)
		}
		for q := range m0 {
			want := []int32{int32(q), int32(q + m0), int32(q + 2*m0)}
			if got := nb.Index[q*3 : q*3+3]; !slices.Equal(got, want) {
				t.Fatalf("budget %d query %d: neighbours %v, want %v", budget, q, got, want)
			}
			for _, d := range nb.Dist[q*3 : q*3+3] {
				// ‖q‖² + ‖r‖² − 2q·r cancels: d² carries an error of a few
				// float32 ulps of ‖q‖² ≈ dim, so d of about sqrt(dim·1e-7).
				if d > 1e-2 {
					t.Fatalf("budget %d query %d: distance %g to its own copy", budget, q, d)
				}
			}
		}
	}
}

// TestSearchErrors checks that invalid input returns errors naming what
// is wrong, and does not panic.
func TestSearchErrors(t *testing.T) {
	ok := []float32{1, 2, 3, 4, 5, 6}
	nan := []float32{1, 2, 3, float32(math.NaN()), 5, 6}
	zero := []float32{1, 2, 0, 0, 5, 6}
	cases := []struct {
		refs, queries []float32
		dim           int
		opt           KNNOptions
		want          string
	}{
		{ok, ok, 0, KNNOptions{K: 1}, "dim = 0"},
		{ok, ok, 4, KNNOptions{K: 1}, "references have 6 values, not a multiple of dim = 4"},
		{ok, ok[:5], 2, KNNOptions{K: 1}, "queries have 5 values"},
		{ok, ok, 2, KNNOptions{}, "k = 12, need 1 ≤ k ≤ 3"},
		{ok, ok, 2, KNNOptions{K: -1}, "k = -1"},
		{nil, ok, 2, KNNOptions{K: 1}, "no references"},
		{nan, ok, 2, KNNOptions{K: 1}, "references: row 1, column 1 is NaN"},
		{ok, nan, 2, KNNOptions{K: 1}, "queries: row 1, column 1 is NaN"},
		{zero, ok, 2, KNNOptions{K: 1, Metric: Cosine}, "references: row 1 has norm 0, too close to zero"},
		{ok, zero, 2, KNNOptions{K: 1, Metric: Cosine}, "queries: row 1 has norm 0"},
		{ok, []float32{1, 3e19}, 2, KNNOptions{K: 1}, "queries: row 0 has squared norm"},
		{ok, ok, 2, KNNOptions{K: 1, Metric: 7}, "unknown metric"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := Search(c.refs, c.queries, c.dim, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Search(%v, %v, %d, %+v) = %v, want error containing %q", c.refs, c.queries, c.dim, c.opt, err, c.want)
			}
		})
	}
}

// TestSearchThreadInvariant checks that the thread count does not change
// a single bit of the result: each query's keys come from the same GEMM
// tiles whichever thread computes them.
func TestSearchThreadInvariant(t *testing.T) {
	g := tensor.NewRNG(11)
	const m, n, dim = 1100, 600, 37
	refs, queries := randMatrix(g, m, dim, 1, 0.5), randMatrix(g, n, dim, 1, 0.5)
	var first *Neighbors
	for _, threads := range []int{1, 2, 3} {
		func() {
			defer kernels.SetThreads(kernels.SetThreads(threads))
			nb, err := Search(refs, queries, dim, KNNOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = nb
			} else if !slices.Equal(nb.Index, first.Index) || !slices.Equal(nb.Dist, first.Dist) {
				t.Errorf("%d threads changed the result", threads)
			}
		}()
	}
}

// TestSearchCosineScale: cosine distance ignores length, down to rows of
// norm 1e-20 whose inverse norm would overflow float32.
func TestSearchCosineScale(t *testing.T) {
	refs := []float32{1e-20, 0, 0, 3e20}
	queries := []float32{5, 1, 1e-20, 2e-20}
	nb, err := Search(refs, queries, 2, KNNOptions{K: 2, Metric: Cosine})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nb.Index, []int32{0, 1, 1, 0}) {
		t.Errorf("neighbours %v, want [0 1 1 0]", nb.Index)
	}
	want := []float64{1 - 5/math.Sqrt(26), 1 - 1/math.Sqrt(26), 1 - 2/math.Sqrt(5), 1 - 1/math.Sqrt(5)}
	for i, w := range want {
		if math.Abs(float64(nb.Dist[i])-w) > 1e-6 {
			t.Errorf("distance %d = %g, want %g", i, nb.Dist[i], w)
		}
	}
	if _, err := Search(refs, []float32{1e-31, 0}, 2, KNNOptions{K: 1, Metric: Cosine}); err == nil ||
		!strings.Contains(err.Error(), "queries: row 0 has norm 1e-31, too close to zero") {
		t.Errorf("tiny query: %v", err)
	}
}
