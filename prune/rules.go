package prune

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/bulwark-ml/bulwark/tensor"
)

// Rule names a selection rule: how SelectBy chooses the samples it keeps.
// Every rule keeps the same number of samples, so that every arm of a
// comparison trains on a set of the same size.
type Rule string

// The selection rules.
const (
	RuleTop           Rule = "top"            // keep the highest scores (the paper's rule; Select)
	RuleKeepLow       Rule = "keep-low"       // keep the lowest scores (ablation; Select with KeepLow)
	RuleStratified    Rule = "stratified"     // CCS, Zheng et al. 2023
	RuleDropTail      Rule = "drop-tail"      // remove the lowest-confidence tail, then random
	RuleRandom        Rule = "random"         // uniform, without replacement
	RuleRandomReplace Rule = "random-replace" // uniform WITH replacement: the seed paper's code's baseline, an ablation
)

// Rules lists the selection rules in presentation order.
var Rules = []Rule{RuleTop, RuleKeepLow, RuleStratified, RuleDropTail, RuleRandom, RuleRandomReplace}

// DefaultStrata is the number of score strata of RuleStratified when
// RuleOptions.Strata is 0, as in Zheng et al. (2023).
const DefaultStrata = 50

// ParseRule returns the rule named s.
func ParseRule(s string) (Rule, error) {
	if slices.Contains(Rules, Rule(s)) {
		return Rule(s), nil
	}
	return "", unknownRule(s)
}

func unknownRule(s string) error {
	names := make([]string, len(Rules))
	for i, r := range Rules {
		names[i] = string(r)
	}
	return fmt.Errorf("unknown selection rule %q, want one of %s", s, strings.Join(names, ", "))
}

// RuleOptions configures SelectBy.
type RuleOptions struct {
	Rule Rule
	// Ratio is the fraction of the prunable samples removed, in [0, 1).
	Ratio float64
	// Scores are the importance scores (higher = more important), needed
	// by top, keep-low and stratified; the random rules and drop-tail
	// ignore them, and they may be nil there.
	Scores []float32
	// Confidence is each sample's mean true-class probability over the
	// scoring trajectory (higher = easier; see Confidence). Stratified
	// drops its lowest Beta share first, drop-tail its lowest Tail share.
	// Needed by drop-tail, and by stratified when Beta > 0.
	Confidence []float32
	// Beta (stratified) is the share of the prunable samples removed
	// first as the hardest, in [0, 1).
	Beta float64
	// Tail (drop-tail) is the share of the prunable samples removed first
	// as the lowest in confidence, in [0, 1).
	Tail float64
	// Strata (stratified) is the number of equal-width score strata;
	// 0 means DefaultStrata.
	Strata int
	// Labels, ClassBalanced and Prunable are as in SelectOptions. With
	// ClassBalanced every rule works within each class.
	Labels        []int
	ClassBalanced bool
	Prunable      func(i int) bool
	// Seed drives the random draws of random, random-replace, stratified
	// and drop-tail. Each rule and each class derive their own stream
	// from it, so rules do not share draws and a class's selection does
	// not depend on the other classes.
	Seed uint64
}

// SelectBy selects from n samples by o.Rule. Of the n_g prunable samples
// of every group (each class with ClassBalanced, else all prunable
// samples) it keeps m_g = n_g − ⌊Ratio·n_g⌋, with ⌊·⌋ as in Select; the
// samples that are not prunable are always kept. The rules differ in
// which m_g they keep:
//
//   - top, keep-low: the highest, or lowest, scores: exactly Select's
//     result for the same inputs.
//   - random: m_g drawn uniformly without replacement.
//   - random-replace: m_g draws uniformly with replacement. Kept then
//     holds duplicates, and only about 1 − e^(−m_g/n_g) of the group is
//     distinct (63% when nothing is pruned); Selection.Unique counts them.
//   - stratified, Coverage-centric Coreset Selection (Zheng et al. 2023):
//     first remove the ⌊Beta·n_g⌋ samples of lowest Confidence (ties:
//     lower index first) as likely mislabelled. Split the range
//     [min, max] of the remaining samples' scores into Strata bins of
//     equal width (the top bin closed). Then visit the non-empty bins in
//     increasing order of size (ties: lower scores first); each takes
//     min(its size, ⌊budget left / bins left⌋) of its samples, drawn
//     uniformly without replacement. Because the quota is recomputed
//     from what is left, the part of the budget a small bin cannot use
//     and the remainders of the divisions pass on to the larger bins
//     visited later: with equal bins the last ones take one more (5 from
//     three bins of 10 gives 1, 2, 2), and the last bin takes all that
//     is left, which always fits, so exactly m_g are kept. Every bin
//     gets at least min(its size, ⌊m_g / non-empty bins⌋).
//   - drop-tail: remove the ⌊Tail·n_g⌋ samples of lowest Confidence
//     (ties: lower index first), then keep m_g of the rest uniformly
//     without replacement.
//
// If the Beta or Tail cut leaves fewer than m_g samples, that is an
// error: the cut is too large for the ratio. Stratified needs finite
// scores (they set the bin edges); top and keep-low, like Select, only
// reject NaN. The result is a deterministic function of the options,
// including Seed.
func SelectBy(n int, o RuleOptions) (*Selection, error) {
	if !slices.Contains(Rules, o.Rule) {
		return nil, fmt.Errorf("select: %w", unknownRule(string(o.Rule)))
	}
	sel, err := selectBy(n, o)
	if err != nil {
		return nil, fmt.Errorf("select %s: %w", o.Rule, err)
	}
	return sel, nil
}

func selectBy(n int, o RuleOptions) (*Selection, error) {
	if n < 0 {
		return nil, fmt.Errorf("n = %d is negative", n)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"Ratio", o.Ratio}, {"Beta", o.Beta}, {"Tail", o.Tail}} {
		if err := checkFraction(f.name, f.v); err != nil {
			return nil, err
		}
	}
	strata := o.Strata
	if strata == 0 {
		strata = DefaultStrata
	}
	if strata < 0 {
		return nil, fmt.Errorf("negative Strata = %d", o.Strata)
	}
	needScores := o.Rule == RuleTop || o.Rule == RuleKeepLow || o.Rule == RuleStratified
	needConf := o.Rule == RuleDropTail || o.Rule == RuleStratified && o.Beta > 0
	var cols []field
	for _, f := range []struct {
		name   string
		v      []float32
		needed bool
	}{
		{"Scores", o.Scores, needScores},
		{"Confidence", o.Confidence, needConf},
	} {
		switch {
		case f.needed && f.v == nil:
			return nil, fmt.Errorf("the rule needs %s", f.name)
		case f.v != nil && len(f.v) != n:
			return nil, fmt.Errorf("%s has %d entries for %d samples", f.name, len(f.v), n)
		case f.needed:
			cols = append(cols, field{name: f.name, v: f.v, finite: o.Rule == RuleStratified})
		}
	}
	p, err := partition(n, "samples", o.Labels, o.ClassBalanced, o.Prunable, cols...)
	if err != nil {
		return nil, err
	}
	if o.Rule == RuleTop || o.Rule == RuleKeepLow {
		p.dropByScore(o.Scores, o.Ratio, o.Rule == RuleKeepLow)
		return p.selection(), nil
	}
	salt := ruleSalt(o.Rule)
	for g, pool := range p.groups {
		m := len(pool) - floorCount(o.Ratio, len(pool))
		rng := tensor.NewRNG(deriveSeed(o.Seed, salt, uint64(g)))
		var kept []int
		switch o.Rule {
		case RuleRandom:
			kept = sample(rng, pool, m)
		case RuleRandomReplace:
			kept = make([]int, m)
			for j := range kept {
				kept[j] = pool[rng.Intn(len(pool))]
			}
		case RuleDropTail:
			rest, err := cutLowest(pool, o.Confidence, "Tail", o.Tail, m)
			if err != nil {
				return nil, p.inGroup(g, err)
			}
			kept = sample(rng, rest, m)
		case RuleStratified:
			rest := pool
			if o.Beta > 0 {
				if rest, err = cutLowest(pool, o.Confidence, "Beta", o.Beta, m); err != nil {
					return nil, p.inGroup(g, err)
				}
			}
			kept = stratifiedSample(rng, rest, o.Scores, strata, m)
		}
		p.keepOnly(pool, kept)
	}
	return p.selection(), nil
}

// inGroup adds the class of group g to err when selecting per class.
func (p *partitioned) inGroup(g int, err error) error {
	if !p.balanced {
		return err
	}
	return fmt.Errorf("class %d: %w", g, err)
}

// cutLowest removes from pool the ⌊share·n⌋ samples of lowest conf (ties:
// lower index first) and returns the rest, reordering pool. It is an
// error if fewer than m remain; name is the option share came from.
func cutLowest(pool []int, conf []float32, name string, share float64, m int) ([]int, error) {
	cut := floorCount(share, len(pool))
	if len(pool)-cut < m {
		return nil, fmt.Errorf("%s = %v removes %d of the %d prunable samples, more than the %d the ratio removes: %s is too large for that ratio",
			name, share, cut, len(pool), len(pool)-m, name)
	}
	return byValue(pool, conf)[cut:], nil
}

// sample returns m of pool's samples drawn uniformly without
// replacement (a partial Fisher–Yates shuffle, which reorders pool).
func sample(rng *tensor.RNG, pool []int, m int) []int {
	for j := range m {
		k := j + rng.Intn(len(pool)-j)
		pool[j], pool[k] = pool[k], pool[j]
	}
	return pool[:m]
}

// stratifiedSample keeps m of pool (len(pool) ≥ m, finite scores) by the
// stratified rule of SelectBy: equal-width score strata, filled evenly.
// It reorders pool.
func stratifiedSample(rng *tensor.RNG, pool []int, scores []float32, strata, m int) []int {
	if len(pool) == 0 {
		return nil
	}
	lo, hi := float64(scores[pool[0]]), float64(scores[pool[0]])
	for _, i := range pool {
		lo, hi = min(lo, float64(scores[i])), max(hi, float64(scores[i]))
	}
	width := (hi - lo) / float64(strata)
	stratum := func(i int) int {
		if width == 0 {
			return 0
		}
		// Clamped before the conversion: the top edge, or a huge strata.
		return int(min(float64(strata-1), (float64(scores[i])-lo)/width))
	}
	// Sort by stratum, so that each non-empty one is a run of pool.
	slices.SortFunc(pool, func(a, b int) int { return cmp.Or(cmp.Compare(stratum(a), stratum(b)), cmp.Compare(a, b)) })
	var runs [][]int
	for lo := 0; lo < len(pool); {
		hi := lo + 1
		for hi < len(pool) && stratum(pool[hi]) == stratum(pool[lo]) {
			hi++
		}
		runs = append(runs, pool[lo:hi])
		lo = hi
	}
	sizes := make([]int, len(runs))
	for r, run := range runs {
		sizes[r] = len(run)
	}
	kept := make([]int, 0, m)
	for r, q := range fillStrata(sizes, m) {
		kept = append(kept, sample(rng, runs[r], q)...)
	}
	return kept
}

// fillStrata returns how many samples each stratum of the given sizes
// (all positive) contributes to a budget of m ≤ Σ sizes: in increasing
// order of size (ties: lower index first), each takes
// min(size, ⌊budget left / strata left⌋).
//
// The quotas sum to m. A stratum that takes less than its size takes
// ⌊B/r⌋ of a budget B spread over r strata, and each of the r−1 later
// strata is at least as large, so has more than B/r samples: what is left,
// B − ⌊B/r⌋ = ⌈(r−1)·B/r⌉, still fits into them. A full stratum leaves
// the rest of the budget to the rest of the capacity. So the last stratum
// takes all that is left.
func fillStrata(sizes []int, m int) []int {
	order := make([]int, len(sizes))
	for r := range order {
		order[r] = r
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[a], sizes[b]) })
	quota := make([]int, len(sizes))
	for j, r := range order {
		quota[r] = min(sizes[r], m/(len(order)-j))
		m -= quota[r]
	}
	return quota
}

// ruleSalt separates the random streams of the rules.
func ruleSalt(r Rule) uint64 {
	h := fnv.New64a()
	h.Write([]byte(r))
	return h.Sum64()
}

// deriveSeed mixes seed, salt and a group index into a seed (SplitMix64's
// finalizer, twice), so that nearby seeds give unrelated streams.
func deriveSeed(seed, salt, group uint64) uint64 {
	return tensor.Mix64(tensor.Mix64(seed^salt) + group*0x9e3779b97f4a7c15)
}
