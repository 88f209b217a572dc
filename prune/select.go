package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"
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

// Selection is the result of Select.
type Selection struct {
	// Kept lists the kept samples in increasing order.
	Kept []int
	// Removed is how many samples were removed.
	Removed int
	// KeptPerClass[c] counts the kept samples of class c, prunable or not;
	// nil without labels.
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
	if !(opt.Ratio >= 0 && opt.Ratio < 1) {
		return nil, fmt.Errorf("select: prune ratio %v is outside [0, 1)", opt.Ratio)
	}
	if opt.Labels != nil && len(opt.Labels) != len(scores) {
		return nil, fmt.Errorf("select: %d labels for %d scores", len(opt.Labels), len(scores))
	}
	if opt.ClassBalanced && opt.Labels == nil {
		return nil, fmt.Errorf("select: class-balanced selection needs labels")
	}
	classes := 0
	for i, y := range opt.Labels {
		if y < 0 {
			return nil, fmt.Errorf("select: labels[%d] = %d is negative", i, y)
		}
		classes = max(classes, y+1)
	}
	groups := map[int][]int{} // label (or 0 when not balancing) → prunable samples
	for i, s := range scores {
		if opt.Prunable != nil && !opt.Prunable(i) {
			continue
		}
		if math.IsNaN(float64(s)) {
			return nil, fmt.Errorf("select: scores[%d] is NaN", i)
		}
		g := 0
		if opt.ClassBalanced {
			g = opt.Labels[i]
		}
		groups[g] = append(groups[g], i)
	}
	removed := make([]bool, len(scores))
	sel := &Selection{}
	for _, pool := range groups {
		slices.SortFunc(pool, func(a, b int) int {
			return cmp.Or(cmp.Compare(scores[a], scores[b]), cmp.Compare(a, b))
		})
		r := floorCount(opt.Ratio, len(pool))
		drop := pool[:r]
		if opt.KeepLow {
			drop = pool[len(pool)-r:]
		}
		for _, i := range drop {
			removed[i] = true
		}
		sel.Removed += r
	}
	sel.Kept = make([]int, 0, len(scores)-sel.Removed)
	if opt.Labels != nil {
		sel.KeptPerClass = make([]int, classes)
	}
	for i, gone := range removed {
		if gone {
			continue
		}
		sel.Kept = append(sel.Kept, i)
		if opt.Labels != nil {
			sel.KeptPerClass[opt.Labels[i]]++
		}
	}
	return sel, nil
}

// floorCount returns ⌊ratio·n⌋ for ratio in [0, 1), allowing for the
// rounding of ratio·n in float64 (see Select).
func floorCount(ratio float64, n int) int {
	return min(n, int(math.Floor(ratio*float64(n)*(1+1e-12))))
}
