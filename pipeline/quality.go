package pipeline

import (
	"fmt"
	"math"
	"slices"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/tensor"
)

// QualityAgainst measures the extrapolation of seedScores (the scores of
// the samples seeds, from the seed run) against truth, the scores of all
// N samples from another run (a full-set run, say; NaN where it has none),
// on the samples that are not seeds, next to the class-mean and
// shuffled-kNN baselines. It also compares seedScores with truth on the
// seeds truth covers: the agreement of the two runs without any
// extrapolation, the ceiling of what kNN can reach.
func QualityAgainst(emb []float32, dim int, labels, seeds []int, seedScores, truth []float32, opt prune.KNNOptions, seed uint64) (QualityReport, error) {
	q, err := prune.MeasureQuality(emb, dim, labels, seeds, seedScores, truth, opt, tensor.NewRNG(seed^0x5f1e))
	if err != nil {
		return QualityReport{}, err
	}
	rep := qualityReport(q)
	var own, other []float32
	for j, i := range seeds {
		if !math.IsNaN(float64(truth[i])) {
			own, other = append(own, seedScores[j]), append(other, truth[i])
		}
	}
	r, err := prune.Spearman(own, other)
	if err != nil {
		return QualityReport{}, err
	}
	rep.SeedSpearman = Num(r)
	return rep, nil
}

// holdOutQuality measures extrapolation within the scored samples
// seedIdx: it holds out a share h of those at or after from (the pool's,
// when the base set's come first), drawn with seed, extrapolates their
// scores from all the others, and compares with their own. It returns the
// report and the held-out true and predicted scores.
func holdOutQuality(emb []float32, dim int, labels, seedIdx []int, seedScores []float32, opt prune.KNNOptions, h float64, seed uint64, from int) (QualityReport, []float32, []float32, error) {
	m := len(seedIdx)
	var cand []int // positions in seedIdx that may be held out
	for j, i := range seedIdx {
		if i >= from {
			cand = append(cand, j)
		}
	}
	held := int(math.Round(h * float64(len(cand))))
	if held < 1 || m-held < opt.K {
		return QualityReport{}, nil, nil, fmt.Errorf("holding out %g of the %d scored pool samples leaves %d references for k=%d", h, len(cand), m-held, opt.K)
	}
	out := make([]bool, m)
	for _, p := range tensor.NewRNG(seed ^ 0x401d).Perm(len(cand))[:held] {
		out[cand[p]] = true
	}
	sub := make([]float32, m*dim)
	subLabels := make([]int, m)
	refs := make([]int, 0, m-held)
	for j, i := range seedIdx {
		copy(sub[j*dim:(j+1)*dim], emb[i*dim:(i+1)*dim])
		subLabels[j] = labels[i]
		if !out[j] {
			refs = append(refs, j)
		}
	}
	q, err := prune.MeasureQuality(sub, dim, subLabels, refs, prune.Gather(seedScores, refs), seedScores, opt, tensor.NewRNG(seed^0x5eed))
	if err != nil {
		return QualityReport{}, nil, nil, err
	}
	return qualityReport(q), prune.Gather(seedScores, q.Queries), q.Predicted, nil
}

// qualityReport flattens q for the report.
func qualityReport(q *prune.Quality) QualityReport {
	return QualityReport{HeldOut: q.HeldOut, Pearson: Num(q.KNN.Pearson), Spearman: Num(q.KNN.Spearman),
		ClassMean: Num(q.ClassMean.Spearman), ClassMeanP: Num(q.ClassMean.Pearson),
		Shuffled: Num(q.Shuffled.Spearman), ShuffledP: Num(q.Shuffled.Pearson), VarianceRatio: Num(q.KNN.VarianceRatio)}
}

// holdOutFile names the file of method m's held-out true and predicted
// scores (a float32 2×h array) in a seed directory.
func holdOutFile(m string) string { return "holdout_" + m + ".npy" }

// writeHoldOut writes the held-out true and predicted scores.
func writeHoldOut(path string, truth, pred []float32) error {
	return data.WriteNpy(path, []int{2, len(truth)}, slices.Concat(truth, pred))
}

// readHoldOut reads a file written by writeHoldOut.
func readHoldOut(path string) (truth, pred []float32, err error) {
	v, rows, cols, err := ReadMatrix(path)
	if err != nil {
		return nil, nil, err
	}
	if rows != 2 || cols == 0 {
		return nil, nil, fmt.Errorf("%s: %d×%d, want 2×h (true; predicted)", path, rows, cols)
	}
	return v[:cols], v[cols:], nil
}

// WriteSelection writes a selection's counts as JSON: kept and removed
// samples, and the kept samples per class when labels were given.
func WriteSelection(path string, sel *prune.Selection) error {
	return WriteJSON(path, map[string]any{"kept": len(sel.Kept), "removed": sel.Removed, "kept_per_class": sel.KeptPerClass})
}
