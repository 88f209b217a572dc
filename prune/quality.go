package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/tensor"
)

// Pearson returns the Pearson correlation of x and y, in float64 with the
// means subtracted first. It is NaN if either is constant.
func Pearson(x, y []float32) (float64, error) {
	if err := checkPair(x, y); err != nil {
		return 0, fmt.Errorf("pearson: %w", err)
	}
	return pearson(x, y), nil
}

// Spearman returns the Spearman rank correlation of x and y: the Pearson
// correlation of their ranks, where tied values share the average of the
// ranks they span. It is NaN if either is constant.
func Spearman(x, y []float32) (float64, error) {
	if err := checkPair(x, y); err != nil {
		return 0, fmt.Errorf("spearman: %w", err)
	}
	return pearson(ranks(x), ranks(y)), nil
}

// VarianceRatio returns Var(pred)/Var(truth). kNN averaging over-smooths,
// so for extrapolated scores it is expected below 1.
func VarianceRatio(pred, truth []float32) (float64, error) {
	if err := checkPair(pred, truth); err != nil {
		return 0, fmt.Errorf("variance ratio: %w", err)
	}
	return variance(pred) / variance(truth), nil
}

// checkPair checks that x and y are equally long, hold at least two
// values, and are finite.
func checkPair(x, y []float32) error {
	if len(x) != len(y) {
		return fmt.Errorf("%d values against %d", len(x), len(y))
	}
	if len(x) < 2 {
		return fmt.Errorf("%d values, need at least 2", len(x))
	}
	if err := checkFinite("x", x); err != nil {
		return err
	}
	return checkFinite("y", y)
}

// mean, variance and pearson compute in float64 over scores (float32,
// each value widened as it is read, with no float64 copy of the slice) or
// ranks (float64).

func mean[T float32 | float64](x []T) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s / float64(len(x))
}

// variance is the population variance (the ratio does not care which).
func variance[T float32 | float64](x []T) float64 {
	mu := mean(x)
	var ss float64
	for _, xv := range x {
		v := float64(xv)
		ss += (v - mu) * (v - mu)
	}
	return ss / float64(len(x))
}

func pearson[T float32 | float64](x, y []T) float64 {
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := float64(x[i])-mx, float64(y[i])-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks returns the 1-based rank of every value of x, ties averaged.
func ranks(x []float32) []float64 {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	out := make([]float64, len(x))
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && x[order[hi]] == x[order[lo]] {
			hi++
		}
		r := float64(lo+hi+1) / 2 // mean of ranks lo+1 .. hi
		for _, i := range order[lo:hi] {
			out[i] = r
		}
		lo = hi
	}
	return out
}

// ClassMeanPredict is the class-mean baseline: it predicts for each sample
// in targets the mean score of the seeds of its class, or the mean of all
// seeds if its class has none. labels covers all samples.
func ClassMeanPredict(labels, seeds []int, seedScores []float32, targets []int) ([]float32, error) {
	if len(seedScores) != len(seeds) {
		return nil, fmt.Errorf("class mean: %d seed scores for %d seeds", len(seedScores), len(seeds))
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("class mean: no seeds")
	}
	if err := checkIndices("seeds", seeds, len(labels)); err != nil {
		return nil, fmt.Errorf("class mean: %w (labels cover %d samples)", err, len(labels))
	}
	for j, i := range targets {
		if i < 0 || i >= len(labels) {
			return nil, fmt.Errorf("class mean: targets[%d] = %d is outside [0, %d)", j, i, len(labels))
		}
	}
	sum, count := map[int]float64{}, map[int]int{}
	var all float64
	for j, i := range seeds {
		sum[labels[i]] += float64(seedScores[j])
		count[labels[i]]++
		all += float64(seedScores[j])
	}
	all /= float64(len(seeds))
	out := make([]float32, len(targets))
	for j, i := range targets {
		if c := count[labels[i]]; c > 0 {
			out[j] = float32(sum[labels[i]] / float64(c))
		} else {
			out[j] = float32(all)
		}
	}
	return out, nil
}

// Agreement compares predicted with true scores.
type Agreement struct {
	Pearson, Spearman float64
	// VarianceRatio is Var(predicted)/Var(true).
	VarianceRatio float64
}

func agreement(pred, truth []float32) (Agreement, error) {
	var a Agreement
	var err error
	if a.Pearson, err = Pearson(pred, truth); err != nil {
		return a, err
	}
	if a.Spearman, err = Spearman(pred, truth); err != nil {
		return a, err
	}
	a.VarianceRatio, err = VarianceRatio(pred, truth)
	return a, err
}

// Quality is how well extrapolation predicts the true scores of the
// held-out samples (all but the seeds), next to two baselines.
type Quality struct {
	HeldOut int
	// KNN is the extrapolation itself.
	KNN Agreement
	// ClassMean predicts the mean seed score of the sample's class.
	ClassMean Agreement
	// Shuffled is kNN after breaking the link between embedding and
	// score: reference j keeps its embedding but carries the score of
	// seed π(j) for a random permutation π of the seeds (equivalently,
	// the seeds' embeddings are permuted among them). Queries keep their
	// own embeddings. It measures what kNN scores without information.
	Shuffled Agreement
	// Queries lists the held-out samples in increasing order, and
	// Predicted their kNN predictions, for plots against the truth.
	Queries   []int
	Predicted []float32
}

// MeasureQuality extrapolates seedScores (the scores of the samples
// seeds) to every other sample and compares the predictions with truth on
// those held-out samples. emb (N×dim), labels and truth cover all N
// samples; truth is read only at held-out samples, so it may come from
// another scoring run than seedScores (the comparison whose ceiling is the
// agreement of two independent runs), or be the same run. rng draws the
// permutation of the shuffled baseline.
func MeasureQuality(emb []float32, dim int, labels, seeds []int, seedScores, truth []float32, opt KNNOptions, rng *tensor.RNG) (*Quality, error) {
	if dim < 1 || len(emb)%dim != 0 {
		return nil, fmt.Errorf("quality: embeddings have %d values, not a multiple of dim = %d", len(emb), dim)
	}
	n := len(emb) / dim
	if len(truth) != n {
		return nil, fmt.Errorf("quality: true scores have %d entries but embeddings have %d rows", len(truth), n)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("quality: labels have %d entries but embeddings have %d rows", len(labels), n)
	}
	ex, err := Extrapolate(emb, dim, seeds, seedScores, opt)
	if err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	held := Gather(truth, ex.Queries)
	if j := firstNonFinite(held); j >= 0 {
		return nil, fmt.Errorf("quality: true score of sample %d is %v", ex.Queries[j], held[j])
	}
	q := &Quality{HeldOut: len(ex.Queries), Queries: ex.Queries, Predicted: Gather(ex.Scores, ex.Queries)}
	if q.KNN, err = agreement(q.Predicted, held); err != nil {
		return nil, fmt.Errorf("quality: kNN: %w", err)
	}
	means, err := ClassMeanPredict(labels, seeds, seedScores, ex.Queries)
	if err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	if q.ClassMean, err = agreement(means, held); err != nil {
		return nil, fmt.Errorf("quality: class mean: %w", err)
	}
	shuffled := Gather(seedScores, rng.Perm(len(seeds)))
	pred, err := ex.Neighbors.Predict(shuffled, opt.Weighted)
	if err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	if q.Shuffled, err = agreement(pred, held); err != nil {
		return nil, fmt.Errorf("quality: shuffled: %w", err)
	}
	return q, nil
}

// Gather returns x[idx[0]], x[idx[1]], ...: the values of x at idx, in
// the order of idx.
func Gather(x []float32, idx []int) []float32 {
	out := make([]float32, len(idx))
	for j, i := range idx {
		out[j] = x[i]
	}
	return out
}
