package prune

import (
	"fmt"
	"math"
)

// Predict returns each query's predicted score from the scores of its
// neighbours (scores[r] belongs to reference row r): the plain mean, or if
// weighted the mean weighted by w = exp(−e), where e is the Euclidean
// distance between the embeddings (between the L2-normalized embeddings,
// sqrt(2·d), under Cosine). The nearest neighbour's e (Dist is sorted) is
// subtracted inside exp; it cancels in Σ w·S / Σ w and keeps the largest
// weight at 1, so far-away queries cannot underflow every weight to 0.
func (nb *Neighbors) Predict(scores []float32, weighted bool) ([]float32, error) {
	if err := nb.check(); err != nil {
		return nil, err
	}
	if len(scores) != nb.Refs {
		return nil, fmt.Errorf("knn: %d scores for %d references", len(scores), nb.Refs)
	}
	if err := checkFinite("scores", scores); err != nil {
		return nil, err
	}
	out := make([]float32, nb.Queries)
	for q := range out {
		idx := nb.Index[q*nb.K : (q+1)*nb.K]
		dist := nb.Dist[q*nb.K : (q+1)*nb.K]
		nearest := nb.euclidean(dist[0])
		var sum, wsum float64
		for t, r := range idx {
			w := 1.0
			if weighted {
				w = math.Exp(nearest - nb.euclidean(dist[t]))
			}
			sum += w * float64(scores[r])
			wsum += w
		}
		out[q] = float32(sum / wsum)
	}
	return out, nil
}

// check returns an error unless nb is consistent: a search result, or
// one read back from files.
func (nb *Neighbors) check() error {
	if nb.Queries < 0 || nb.K < 1 || nb.Refs < nb.K {
		return fmt.Errorf("knn: invalid neighbours shape: %d queries, k = %d, %d references", nb.Queries, nb.K, nb.Refs)
	}
	if len(nb.Index) != nb.Queries*nb.K || len(nb.Dist) != nb.Queries*nb.K {
		return fmt.Errorf("knn: %d indices and %d distances for %d queries × k = %d",
			len(nb.Index), len(nb.Dist), nb.Queries, nb.K)
	}
	for j, r := range nb.Index {
		if r < 0 || int(r) >= nb.Refs {
			return fmt.Errorf("knn: neighbour %d of query %d is reference %d, outside [0, %d)", j%nb.K, j/nb.K, r, nb.Refs)
		}
	}
	for j, d := range nb.Dist {
		if !(d >= 0) || math.IsInf(float64(d), 0) { // also catches NaN
			return fmt.Errorf("knn: distance to neighbour %d of query %d is %v", j%nb.K, j/nb.K, d)
		}
	}
	return nil
}

// euclidean returns the Euclidean distance between embeddings (normalized
// ones under Cosine) at metric distance d.
func (nb *Neighbors) euclidean(d float32) float64 {
	if nb.Metric == Cosine {
		return math.Sqrt(2 * float64(d))
	}
	return float64(d)
}

// Extrapolation is the result of Extrapolate.
type Extrapolation struct {
	// Scores holds a score for every sample: the seeds' own, and the kNN
	// prediction for the rest.
	Scores []float32
	// Queries lists the samples that were predicted (those not seeds), in
	// increasing order.
	Queries []int
	// Neighbors holds the search behind the predictions, for diagnostics:
	// its row q belongs to sample Queries[q], and its Index holds
	// positions in the seed list (seeds[Index[...]] is the sample).
	Neighbors *Neighbors
}

// Extrapolate scores every sample from the scored seeds. emb holds the
// embeddings of all N samples (N×dim, row-major); seeds lists the scored
// samples and seedScores their scores. Seeds keep their own scores; every
// other sample gets the kNN prediction from the seeds' scores, under opt.
// Invalid input returns an error naming what is wrong and where.
func Extrapolate(emb []float32, dim int, seeds []int, seedScores []float32, opt KNNOptions) (*Extrapolation, error) {
	if dim < 1 {
		return nil, fmt.Errorf("extrapolate: dim = %d, need at least 1", dim)
	}
	if len(emb)%dim != 0 {
		return nil, fmt.Errorf("extrapolate: embeddings have %d values, not a multiple of dim = %d", len(emb), dim)
	}
	n := len(emb) / dim
	if len(seeds) == 0 { // also keeps nil, which means "all rows" to newSearcher, out
		return nil, fmt.Errorf("extrapolate: no seeds")
	}
	if len(seedScores) != len(seeds) {
		return nil, fmt.Errorf("extrapolate: %d seed scores for %d seeds", len(seedScores), len(seeds))
	}
	if err := checkIndices("seeds", seeds, n); err != nil {
		return nil, fmt.Errorf("extrapolate: %w (embeddings have %d rows)", err, n)
	}
	if err := checkFinite("seed scores", seedScores); err != nil {
		return nil, fmt.Errorf("extrapolate: %w", err)
	}
	s, err := newSearcher("embeddings", emb, seeds, dim, opt)
	if err != nil {
		return nil, fmt.Errorf("extrapolate: %w", err)
	}
	ex := &Extrapolation{Scores: make([]float32, n), Queries: Complement(seeds, n)}
	for j, i := range seeds {
		ex.Scores[i] = seedScores[j]
	}
	qn, err := s.queryNorms("embeddings", emb, ex.Queries)
	if err != nil {
		return nil, fmt.Errorf("extrapolate: %w", err)
	}
	ex.Neighbors = s.search(emb, ex.Queries, qn)
	pred, err := ex.Neighbors.Predict(seedScores, opt.Weighted)
	if err != nil {
		return nil, fmt.Errorf("extrapolate: %w", err)
	}
	for q, i := range ex.Queries {
		ex.Scores[i] = pred[q]
	}
	return ex, nil
}

// Complement returns the indices in [0, n) not in idx, in increasing
// order: the samples Extrapolate predicts, given the seeds. Every index
// in idx must lie in [0, n).
func Complement[I int | int64](idx []I, n int) []int {
	in := make([]bool, n)
	for _, i := range idx {
		in[i] = true
	}
	out := make([]int, 0, n-len(idx))
	for i, x := range in {
		if !x {
			out = append(out, i)
		}
	}
	return out
}
