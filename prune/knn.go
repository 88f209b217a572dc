package prune

import (
	"fmt"
	"math"
)

// Metric is the distance kNN extrapolation ranks references by.
type Metric int

const (
	// Euclidean is ‖q − r‖₂, the default.
	Euclidean Metric = iota
	// Cosine is 1 − q·r/(‖q‖‖r‖), in [0, 2]. It ranks like Euclidean
	// distance between L2-normalized embeddings, which is sqrt(2·cosine).
	Cosine
)

func (m Metric) String() string {
	switch m {
	case Euclidean:
		return "euclidean"
	case Cosine:
		return "cosine"
	}
	return fmt.Sprintf("Metric(%d)", int(m))
}

// ParseMetric returns the metric named s ("euclidean" or "cosine").
func ParseMetric(s string) (Metric, error) {
	for _, m := range []Metric{Euclidean, Cosine} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown metric %q, want euclidean or cosine", s)
}

// DefaultK is the number of neighbours of Nieth et al. (2024).
const DefaultK = 12

// KNNOptions configures a kNN search and prediction. The zero value is
// the paper's default: the plain mean over 12 Euclidean neighbours.
type KNNOptions struct {
	// K is the number of neighbours; 0 means DefaultK.
	K int
	// Metric is the distance; the zero value is Euclidean.
	Metric Metric
	// Weighted predicts Σ w·S / Σ w with w = exp(−‖q − r‖) instead of the
	// plain mean. See Neighbors.Predict.
	Weighted bool
	// MaxScratchBytes caps the distance tiles of all threads together;
	// 0 means no cap beyond the cache-sized default (512 KiB a thread).
	// Smaller tiles cost speed, not correctness.
	MaxScratchBytes int
}

func (o KNNOptions) k() int {
	if o.K == 0 {
		return DefaultK
	}
	return o.K
}

// Neighbors holds the result of a kNN search: for query q, row q of Index
// holds the reference rows of its K nearest references, nearest first
// (ties in computed distance go to the lower index), and row q of Dist
// their distances under Metric: ‖q − r‖ for Euclidean, 1 − cos for
// Cosine. Indices are int32 to halve the memory of large searches.
type Neighbors struct {
	Queries, K, Refs int
	Metric           Metric
	Index            []int32 // Queries×K
	Dist             []float32
}

// Search finds, for every row of queries (n×dim, row-major), the k
// nearest rows of refs (m×dim) exactly, using all kernels.Threads().
// Distances come from one GEMM per tile of queries × references,
// ‖q‖² + ‖r‖² − 2·q·r, and each query keeps its best k in a heap as the
// tiles stream past, so working memory stays at a tile per thread however
// large n and m are.
//
// The formula cancels in float32: a distance carries an absolute error of
// about sqrt(ε·(‖q‖² + ‖r‖²)), ε = 2⁻²⁴ (a query on top of a reference is
// reported some 1e-4 to 1e-3 times ‖q‖ away, not at 0; negative squares
// clamp to 0), and references closer in distance than that may swap
// ranks. Exactly equal computed distances rank by reference index.
//
// Invalid input (ragged matrices, k outside [1, m], NaN or ±Inf, rows too
// large for float32 squares, near-zero rows under Cosine) returns an error
// naming what is wrong and where.
func Search(refs, queries []float32, dim int, opt KNNOptions) (*Neighbors, error) {
	s, err := newSearcher("references", refs, nil, dim, opt)
	if err != nil {
		return nil, err
	}
	if len(queries)%dim != 0 {
		return nil, fmt.Errorf("knn: queries have %d values, not a multiple of dim = %d", len(queries), dim)
	}
	qn, err := s.queryNorms("queries", queries, nil)
	if err != nil {
		return nil, err
	}
	return s.search(queries, nil, qn), nil
}

// rowSquares returns the squared norm of each listed row (all if rows is
// nil) of the n×dim matrix x, in float64, checking that the values are
// finite and that the squares fit the metric's float32 arithmetic. what
// names x.
func rowSquares(what string, x []float32, dim int, rows []int, metric Metric) ([]float64, error) {
	// Euclidean adds ‖q‖², ‖r‖² and 2q·r; Cosine only needs ‖q‖ and q·r̂.
	limit := math.MaxFloat32 / 8
	if metric == Cosine {
		limit = (math.MaxFloat32 / 2) * (math.MaxFloat32 / 2)
	}
	n := len(x) / dim
	if rows != nil {
		n = len(rows)
	}
	out := make([]float64, n)
	for i := range out {
		r := i
		if rows != nil {
			r = rows[i]
		}
		row := x[r*dim : (r+1)*dim]
		if c := firstNonFinite(row); c >= 0 {
			return nil, fmt.Errorf("%s: row %d, column %d is %v", what, r, c, row[c])
		}
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		if ss > limit {
			return nil, fmt.Errorf("%s: row %d has squared norm %.3g, too large for float32 %v distances", what, r, ss, metric)
		}
		out[i] = ss
	}
	return out, nil
}
