package prune

import (
	"fmt"
	"math"
)

// SelectOptions configures Select.
type SelectOptions struct {
	// Ratio is the fraction of the prunable samples removed, in [0, 1).
	Ratio float64
	// Labels holds every sample's class (non-negative), or nil. Required
	// by ClassBalanced; when given, Selection.KeptPerClass is filled.
	Labels []int
	// ClassBalanced removes ⌊Ratio·n_c⌋ of the n_c prunable samples of
	// each class c, instead of ⌊Ratio·n⌋ of all n.
	ClassBalanced bool
	// KeepLow removes the highest scores instead of the lowest: the
	// ablation that keeps the "unimportant" samples.
	KeepLow bool
	// Prunable, if not nil, reports whether sample i may be removed. The
	// others (in the mixed real+synthetic setting, the real samples) are
	// always kept, do not count toward n or n_c, and need no valid score.
	Prunable func(i int) bool
}

// Selection is the result of Select and SelectBy.
type Selection struct {
	// Kept lists the kept samples in increasing order. Under
	// RuleRandomReplace a sample drawn several times appears as often as
	// it was drawn (the duplicates adjacent), so len(Kept) is still the
	// size of the training set.
	Kept []int
	// Unique counts the distinct samples in Kept; it equals len(Kept)
	// except under RuleRandomReplace.
	Unique int
	// Removed is how many fewer samples Kept holds than the full set:
	// the sum of the ⌊Ratio·n⌋ (or ⌊Ratio·n_c⌋). Except under
	// RuleRandomReplace it is also the number of samples left out.
	Removed int
	// KeptPerClass[c] counts the entries of Kept of class c, prunable or
	// not (duplicates included); nil without labels.
	KeptPerClass []int
}

// Select prunes by score: of the prunable samples (all, unless
// opt.Prunable says otherwise) it removes the ⌊Ratio·n⌋ with the lowest
// scores, overall or per class, and keeps the rest. Samples are ranked by
// (score, index) ascending and removed from the front, so among equal
// scores the lower index goes first; with KeepLow they are removed from
// the back instead, so the higher index goes first.
//
// ⌊Ratio·n⌋ is taken with a relative slack of 1e-12, so that decimal
// ratios whose float64 product falls just short of an integer (0.29·100 =
// 28.999999999999996) remove the intended 29.
func Select(scores []float32, opt SelectOptions) (*Selection, error) {
	if err := checkFraction("prune ratio", opt.Ratio); err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	p, err := partition(len(scores), "scores", opt.Labels, opt.ClassBalanced, opt.Prunable,
		field{name: "scores", v: scores})
	if err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	p.dropByScore(scores, opt.Ratio, opt.KeepLow)
	return p.selection(), nil
}

// floorCount returns ⌊ratio·n⌋ for ratio in [0, 1), allowing for the
// rounding of ratio·n in float64 (see Select).
func floorCount(ratio float64, n int) int {
	return min(n, int(math.Floor(ratio*float64(n)*(1+1e-12))))
}
