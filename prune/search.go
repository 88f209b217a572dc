package prune

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/kernels"
)

// Default tile: tileRows queries against tileCols references, a 512 KiB
// block of keys that stays in L2 between the GEMM writing it and the scan
// reading it, whatever the number of references. On Zen 4 (1 MiB L2, one
// thread, BenchmarkKNNTile, a shared and noisy machine) 256 rows ran best
// at 49–56 GFLOP/s and 64 rows 10–15% slower; the tile's width mattered
// little there, but at 10,000 references even a full-width tile fits L3.
const (
	tileRows = 256
	tileCols = 512
)

// searcher is an exact kNN search prepared for one reference set.
type searcher struct {
	dim, k, m  int
	metric     Metric
	refs       []float32 // m×dim, rows scaled to unit length under Cosine
	bias       []float32 // ‖r‖² per reference under Euclidean, nil under Cosine
	alpha      float32   // GEMM scale: key = bias + alpha·q·r
	rows, cols int       // tile shape
}

// newSearcher validates refs (the listed rows of an m×dim matrix, or all
// rows if rows is nil; what names it in errors) and the options, and
// prepares the references: copied when rows are listed, copied and
// normalized under Cosine.
func newSearcher(what string, refs []float32, rows []int, dim int, opt KNNOptions) (*searcher, error) {
	if dim < 1 {
		return nil, fmt.Errorf("knn: dim = %d, need at least 1", dim)
	}
	if len(refs)%dim != 0 {
		return nil, fmt.Errorf("knn: %s have %d values, not a multiple of dim = %d", what, len(refs), dim)
	}
	if opt.Metric != Euclidean && opt.Metric != Cosine {
		return nil, fmt.Errorf("knn: unknown metric %v", opt.Metric)
	}
	sq, err := rowSquares(what, refs, dim, rows, opt.Metric)
	if err != nil {
		return nil, err
	}
	m, k := len(sq), opt.k()
	if m == 0 {
		return nil, fmt.Errorf("knn: no references")
	}
	if m > math.MaxInt32 {
		return nil, fmt.Errorf("knn: %d references, at most %d supported", m, math.MaxInt32)
	}
	if k < 1 || k > m {
		return nil, fmt.Errorf("knn: k = %d, need 1 ≤ k ≤ %d (the number of references)", k, m)
	}
	s := &searcher{dim: dim, k: k, m: m, metric: opt.Metric, refs: refs}
	if rows != nil || opt.Metric == Cosine {
		s.refs = make([]float32, m*dim)
		for i := range m {
			src := i
			if rows != nil {
				src = rows[i]
			}
			copy(s.refs[i*dim:(i+1)*dim], refs[src*dim:(src+1)*dim])
		}
	}
	if opt.Metric == Cosine {
		s.alpha = -1
		for i, ss := range sq {
			if err := checkCosineNorm(what, refRow(rows, i), ss); err != nil {
				return nil, err
			}
			norm := math.Sqrt(ss)
			row := s.refs[i*dim : (i+1)*dim]
			for c, v := range row {
				row[c] = float32(float64(v) / norm) // in float64: 1/norm may overflow float32
			}
		}
	} else {
		s.alpha = -2
		s.bias = make([]float32, m)
		for i, ss := range sq {
			s.bias[i] = float32(ss)
		}
	}
	s.rows, s.cols = tileShape(m, opt.MaxScratchBytes)
	return s, nil
}

// refRow maps position i of a reference list back to its row.
func refRow(rows []int, i int) int {
	if rows == nil {
		return i
	}
	return rows[i]
}

// tileShape returns the default tile for m references, shrunk (query rows
// first, then references) so that one tile per thread fits in budget
// bytes; budget 0 means no cap.
func tileShape(m, budget int) (rows, cols int) {
	rows, cols = tileRows, min(tileCols, m)
	if budget <= 0 {
		return rows, cols
	}
	per := max(1, budget/(4*kernels.Threads())) // floats per thread
	rows = min(rows, max(1, per/cols))
	cols = min(cols, max(1, per/rows))
	return rows, cols
}

// queryNorms validates the listed query rows (all if rows is nil) and
// returns what distances need of each: ‖q‖² under Euclidean, ‖q‖ under
// Cosine.
func (s *searcher) queryNorms(what string, queries []float32, rows []int) ([]float32, error) {
	sq, err := rowSquares(what, queries, s.dim, rows, s.metric)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(sq))
	for i, ss := range sq {
		if s.metric == Cosine {
			if err := checkCosineNorm(what, refRow(rows, i), ss); err != nil {
				return nil, err
			}
			ss = math.Sqrt(ss)
		}
		out[i] = float32(ss)
	}
	return out, nil
}

// minCosineNorm is the smallest row norm Cosine accepts: below it the
// direction is noise, and the norm itself nears float32's underflow.
const minCosineNorm = 1e-30

// checkCosineNorm returns an error if row's squared norm ss is too small
// for its direction to be defined.
func checkCosineNorm(what string, row int, ss float64) error {
	if ss < minCosineNorm*minCosineNorm {
		return fmt.Errorf("%s: row %d has norm %.3g, too close to zero for a cosine distance", what, row, math.Sqrt(ss))
	}
	return nil
}

// distance turns a selection key into the metric's distance: keys are
// ‖r‖² − 2q·r under Euclidean (‖q‖² is the same for every reference of a
// query, so it is left out of the ranking) and −q·r̂ under Cosine.
func (s *searcher) distance(key, qnorm float32) float32 {
	if s.metric == Cosine {
		return min(2, max(0, 1+key/qnorm))
	}
	return float32(math.Sqrt(float64(max(0, key+qnorm))))
}

// search runs the search for the listed query rows (all if rows is nil),
// whose norms from queryNorms are qnorm.
func (s *searcher) search(queries []float32, rows []int, qnorm []float32) *Neighbors {
	n := len(qnorm)
	j := &searchJob{s: s, queries: queries, rows: rows, qnorm: qnorm, out: &Neighbors{
		Queries: n, K: s.k, Refs: s.m, Metric: s.metric,
		Index: make([]int32, n*s.k), Dist: make([]float32, n*s.k),
	}}
	parts := (n + s.rows - 1) / s.rows
	workers := min(kernels.Threads(), parts)
	j.free = make(chan *tileScratch, workers)
	for range workers {
		j.free <- s.newScratch()
	}
	kernels.Run(j, parts)
	return j.out
}

// tileScratch is one thread's working memory.
type tileScratch struct {
	q     []float32 // gathered query rows
	dist  []float32 // the tile of keys
	heaps []topK
}

func (s *searcher) newScratch() *tileScratch {
	t := &tileScratch{dist: make([]float32, s.rows*s.cols), heaps: make([]topK, s.rows)}
	key, idx := make([]float32, s.rows*s.k), make([]int32, s.rows*s.k)
	for i := range t.heaps {
		t.heaps[i] = topK{key: key[i*s.k : (i+1)*s.k], idx: idx[i*s.k : (i+1)*s.k]}
	}
	return t
}

// searchJob runs one search on the worker pool, one part per tile of
// query rows. Each part computes its own GEMMs on the thread running it, so
// a tile is written and scanned by the same core, in that core's cache,
// and parts are handed out dynamically, which balances a busy machine.
// The alternative, each tile's GEMM on all threads and then its scan split
// over them, measured about 12% slower on two threads of a busy machine
// (44 against 50 GFLOP/s at the BenchmarkKNN size).
type searchJob struct {
	s       *searcher
	queries []float32
	rows    []int
	qnorm   []float32
	out     *Neighbors
	free    chan *tileScratch
}

func (j *searchJob) RunPart(p int) {
	s := j.s
	t := <-j.free
	defer func() { j.free <- t }()
	lo := p * s.rows
	r := min(s.rows, len(j.qnorm)-lo)
	q := j.queryTile(t, lo, r)
	heaps := t.heaps[:r]
	for i := range heaps {
		heaps[i].reset()
	}
	for c0 := 0; c0 < s.m; c0 += s.cols {
		c := min(s.cols, s.m-c0)
		// Under Euclidean the tile starts as ‖r‖² in every row and the GEMM
		// adds −2·q·r to it, so the scan reads finished keys.
		var beta float32
		if s.bias != nil {
			beta = 1
			for i := range r {
				copy(t.dist[i*c:(i+1)*c], s.bias[c0:c0+c])
			}
		}
		kernels.Sgemm(false, true, r, c, s.dim, s.alpha, q, s.dim, s.refs[c0*s.dim:], s.dim, beta, t.dist, c)
		for i := range heaps {
			scan(&heaps[i], t.dist[i*c:(i+1)*c], int32(c0))
		}
	}
	for i := range heaps {
		h := &heaps[i]
		h.sort()
		row := (lo + i) * s.k
		for c := range s.k {
			j.out.Index[row+c] = h.idx[c]
			j.out.Dist[row+c] = s.distance(h.key[c], j.qnorm[lo+i])
		}
	}
}

// queryTile returns the r query rows starting at list position lo as one
// contiguous matrix: in place if the queries are not listed, else copied
// into t.q.
func (j *searchJob) queryTile(t *tileScratch, lo, r int) []float32 {
	d := j.s.dim
	if j.rows == nil {
		return j.queries[lo*d : (lo+r)*d]
	}
	if t.q == nil {
		t.q = make([]float32, j.s.rows*d)
	}
	for i, src := range j.rows[lo : lo+r] {
		copy(t.q[i*d:(i+1)*d], j.queries[src*d:(src+1)*d])
	}
	return t.q[:r*d]
}

// scan offers h the keys in row with indices base + j, in increasing
// index order. Almost every key loses to the k-th best, so it tests the
// minimum of each run of 8 first (a branch-free tree of MINSS, measured
// 1.8× faster than a branch per key on data in L1) and looks closer only
// at a run that holds a winner.
func scan(h *topK, row []float32, base int32) {
	thr := h.worst()
	j := 0
	for ; j+8 <= len(row); j += 8 {
		r := row[j : j+8 : j+8]
		if min(min(min(r[0], r[1]), min(r[2], r[3])), min(min(r[4], r[5]), min(r[6], r[7]))) >= thr {
			continue
		}
		for t, v := range r {
			if v < thr {
				h.push(v, base+int32(j+t))
				thr = h.worst()
			}
		}
	}
	for ; j < len(row); j++ {
		if row[j] < thr {
			h.push(row[j], base+int32(j))
			thr = h.worst()
		}
	}
}
