package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// ruleInputs returns n samples with random scores, confidences and
// uneven labels over classes classes.
func ruleInputs(seed uint64, n, classes int) (scores, conf []float32, labels []int) {
	rng := tensor.NewRNG(seed)
	scores, conf, labels = make([]float32, n), make([]float32, n), make([]int, n)
	for i := range n {
		scores[i] = rng.Float32()
		conf[i] = rng.Float32()
		labels[i] = min(classes-1, int(float64(classes)*rng.Float64()*rng.Float64()*1.5))
	}
	return scores, conf, labels
}

// TestSelectByCounts checks that every rule keeps as many samples as top,
// in total and (balanced) per class, keeps every sample that is not prunable, and
// returns Kept sorted.
func TestSelectByCounts(t *testing.T) {
	const n = 2000
	scores, conf, labels := ruleInputs(1, n, 7)
	prunable := func(i int) bool { return i%5 != 0 }
	for _, balanced := range []bool{false, true} {
		for _, ratio := range []float64{0, 0.3, 0.77} {
			base := RuleOptions{Ratio: ratio, Scores: scores, Confidence: conf, Beta: 0.1, Tail: 0.1,
				Labels: labels, ClassBalanced: balanced, Prunable: prunable, Seed: 3}
			if ratio == 0 {
				base.Beta, base.Tail = 0, 0
			}
			top := base
			top.Rule = RuleTop
			want, err := SelectBy(n, top)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range Rules {
				o := base
				o.Rule = r
				sel, err := SelectBy(n, o)
				if err != nil {
					t.Fatalf("%s balanced=%v ratio %v: %v", r, balanced, ratio, err)
				}
				if len(sel.Kept) != len(want.Kept) || sel.Removed != want.Removed || balanced && !slices.Equal(sel.KeptPerClass, want.KeptPerClass) {
					t.Errorf("%s balanced=%v ratio %v: kept %d (%d removed, per class %v), top kept %d (%d, %v)", r, balanced, ratio,
						len(sel.Kept), sel.Removed, sel.KeptPerClass, len(want.Kept), want.Removed, want.KeptPerClass)
				}
				if !slices.IsSorted(sel.Kept) {
					t.Errorf("%s: Kept is not sorted", r)
				}
				kept := map[int]bool{}
				for _, i := range sel.Kept {
					kept[i] = true
				}
				if len(kept) != sel.Unique {
					t.Errorf("%s: Unique = %d, but %d distinct kept", r, sel.Unique, len(kept))
				}
				for i := 0; i < n; i += 5 {
					if !kept[i] {
						t.Fatalf("%s: sample %d is not prunable but was removed", r, i)
					}
				}
			}
		}
	}
}

// TestSelectByMatchesSelect checks that top and keep-low are Select.
func TestSelectByMatchesSelect(t *testing.T) {
	const n = 500
	scores, _, labels := ruleInputs(2, n, 4)
	for i := 0; i < n; i += 7 {
		scores[i] = 0.5 // ties
	}
	scores[3] = float32(math.NaN()) // not prunable
	prunable := func(i int) bool { return i != 3 }
	for _, balanced := range []bool{false, true} {
		for _, ratio := range []float64{0, 0.29, 0.5, 0.9} {
			for _, keepLow := range []bool{false, true} {
				want, err := Select(scores, SelectOptions{Ratio: ratio, Labels: labels, ClassBalanced: balanced, KeepLow: keepLow, Prunable: prunable})
				if err != nil {
					t.Fatal(err)
				}
				rule := RuleTop
				if keepLow {
					rule = RuleKeepLow
				}
				got, err := SelectBy(n, RuleOptions{Rule: rule, Ratio: ratio, Scores: scores, Labels: labels, ClassBalanced: balanced, Prunable: prunable})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got.Kept, want.Kept) || got.Removed != want.Removed || got.Unique != len(want.Kept) ||
					!slices.Equal(got.KeptPerClass, want.KeptPerClass) {
					t.Errorf("%s balanced=%v ratio %v: differs from Select", rule, balanced, ratio)
				}
			}
		}
	}
}

// TestSelectByRandom checks that random draws without replacement and
// random-replace with, leaving about n(1 − e^(−m/n)) distinct samples.
func TestSelectByRandom(t *testing.T) {
	const n = 10000
	for _, ratio := range []float64{0, 0.5, 0.9} {
		sel, err := SelectBy(n, RuleOptions{Rule: RuleRandom, Ratio: ratio, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		m := n - floorCount(ratio, n)
		if len(sel.Kept) != m || sel.Unique != m {
			t.Errorf("random %v: %d kept, %d distinct, want %d", ratio, len(sel.Kept), sel.Unique, m)
		}
		// Uniform: the first half of the indices holds about half.
		half := 0
		for _, i := range sel.Kept {
			if i < n/2 {
				half++
			}
		}
		if d := float64(half) - float64(m)/2; math.Abs(d) > 4*math.Sqrt(float64(m))/2+1 {
			t.Errorf("random %v: %d of %d kept in the first half", ratio, half, m)
		}

		sel, err = SelectBy(n, RuleOptions{Rule: RuleRandomReplace, Ratio: ratio, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := n * (1 - math.Exp(-float64(m)/n))
		if len(sel.Kept) != m || math.Abs(float64(sel.Unique)-want) > 0.02*want {
			t.Errorf("random-replace %v: %d kept, %d distinct, want %d and ≈%.0f", ratio, len(sel.Kept), sel.Unique, m, want)
		}
		if sel.Removed != n-m {
			t.Errorf("random-replace %v: Removed = %d, want %d", ratio, sel.Removed, n-m)
		}
	}
}

// TestSelectByDeterministic checks that the seed fixes the draws and that
// rules and seeds give different ones.
func TestSelectByDeterministic(t *testing.T) {
	const n = 1000
	scores, conf, labels := ruleInputs(4, n, 3)
	kept := func(r Rule, seed uint64) []int {
		sel, err := SelectBy(n, RuleOptions{Rule: r, Ratio: 0.5, Scores: scores, Confidence: conf, Labels: labels,
			ClassBalanced: true, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return sel.Kept
	}
	for _, r := range []Rule{RuleRandom, RuleRandomReplace, RuleStratified, RuleDropTail} {
		if !slices.Equal(kept(r, 7), kept(r, 7)) {
			t.Errorf("%s: two runs with seed 7 differ", r)
		}
		if slices.Equal(kept(r, 7), kept(r, 8)) {
			t.Errorf("%s: seeds 7 and 8 agree", r)
		}
	}
	// With Tail = 0, drop-tail is uniform like random, but draws its own.
	if slices.Equal(kept(RuleRandom, 7), kept(RuleDropTail, 7)) {
		t.Errorf("random and drop-tail share their draws")
	}
}

// stratumOf is the test's own equal-width binning of scores[i] over the
// range of the samples in pool.
func stratumOf(scores []float32, pool []int, strata int) []int {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, i := range pool {
		lo, hi = min(lo, float64(scores[i])), max(hi, float64(scores[i]))
	}
	out := make([]int, len(scores))
	for _, i := range pool {
		out[i] = min(strata-1, int(math.Floor((float64(scores[i])-lo)/((hi-lo)/float64(strata)))))
	}
	return out
}

// TestSelectByStratifiedCoverage checks on a skewed score distribution
// that stratified fills every stratum evenly, so it keeps far more of the
// sparse low tail than top, which keeps none of it.
func TestSelectByStratifiedCoverage(t *testing.T) {
	const n, strata, ratio = 10000, 50, 0.9
	rng := tensor.NewRNG(5)
	scores := make([]float32, n)
	tail := map[int]bool{}
	for i := range scores {
		if i%20 == 0 { // 5%: spread over [0, 0.9)
			scores[i] = 0.9 * rng.Float32()
			tail[i] = true
		} else { // 95%: crowded into [0.9, 1)
			scores[i] = 0.9 + 0.1*rng.Float32()*rng.Float32()
		}
	}
	m := n - floorCount(ratio, n)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	bin := stratumOf(scores, all, strata)
	size := make([]int, strata)
	for _, b := range bin {
		size[b]++
	}
	nonEmpty := 0
	for _, s := range size {
		if s > 0 {
			nonEmpty++
		}
	}
	sel, err := SelectBy(n, RuleOptions{Rule: RuleStratified, Ratio: ratio, Scores: scores, Strata: strata, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int, strata)
	for _, i := range sel.Kept {
		got[bin[i]]++
	}
	for b := range strata {
		if lo := min(size[b], m/nonEmpty); got[b] < lo || got[b] > size[b] {
			t.Errorf("stratum %d of %d samples: %d kept, want between %d and %d", b, size[b], got[b], lo, size[b])
		}
	}
	top, err := Select(scores, SelectOptions{Ratio: ratio})
	if err != nil {
		t.Fatal(err)
	}
	share := func(kept []int) float64 {
		c := 0
		for _, i := range kept {
			if tail[i] {
				c++
			}
		}
		return float64(c) / float64(len(tail))
	}
	s, st := share(sel.Kept), share(top.Kept)
	t.Logf("kept %.2f of the sparse tail under stratified, %.2f under top; per stratum %v", s, st, got)
	if s < 0.5 || st > 0 {
		t.Errorf("kept %.2f of the sparse tail under stratified and %.2f under top, want > 0.5 and 0", s, st)
	}
	// The default is 50 strata.
	def, err := SelectBy(n, RuleOptions{Rule: RuleStratified, Ratio: ratio, Scores: scores, Seed: 1})
	if err != nil || !slices.Equal(def.Kept, sel.Kept) {
		t.Errorf("Strata 0 differs from %d: %v", DefaultStrata, err)
	}
}

// TestFillStrata checks the budget split: the documented example, and on
// random sizes that the quotas sum to the budget, fit, and give every
// stratum at least min(size, ⌊m/strata⌋).
func TestFillStrata(t *testing.T) {
	if q := fillStrata([]int{10, 10, 10}, 5); !slices.Equal(q, []int{1, 2, 2}) {
		t.Errorf("5 from three strata of 10: %v, want [1 2 2]", q)
	}
	if q := fillStrata([]int{1, 10, 3}, 10); !slices.Equal(q, []int{1, 6, 3}) {
		t.Errorf("10 from 1, 10, 3: %v, want [1 6 3]", q)
	}
	rng := tensor.NewRNG(6)
	for range 2000 {
		sizes := make([]int, 1+rng.Intn(12))
		total := 0
		for j := range sizes {
			sizes[j] = 1 + rng.Intn(1+rng.Intn(30))
			total += sizes[j]
		}
		m := rng.Intn(total + 1)
		q := fillStrata(sizes, m)
		sum := 0
		for j := range q {
			sum += q[j]
			if q[j] > sizes[j] || q[j] < min(sizes[j], m/len(sizes)) {
				t.Fatalf("sizes %v, m %d: quotas %v", sizes, m, q)
			}
		}
		if sum != m {
			t.Fatalf("sizes %v, m %d: quotas %v sum to %d", sizes, m, q, sum)
		}
	}
}

// TestSelectByConfidenceCuts checks that stratified's Beta and drop-tail's
// Tail remove exactly the lowest-confidence samples (ties: lower index
// first), per class when balanced.
func TestSelectByConfidenceCuts(t *testing.T) {
	const n = 1000
	scores, conf, labels := ruleInputs(7, n, 4)
	for i := 0; i < n; i += 9 {
		conf[i] = 0.25 // ties
	}
	for _, balanced := range []bool{false, true} {
		// The lowest 20% by (confidence, index), per group.
		low := map[int]bool{}
		p, err := partition(n, "samples", labels, balanced, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, pool := range p.groups {
			for _, i := range byValue(slices.Clone(pool), conf)[:floorCount(0.2, len(pool))] {
				low[i] = true
			}
		}
		for _, c := range []struct {
			rule Rule
			o    RuleOptions
		}{
			{RuleStratified, RuleOptions{Beta: 0.2}},
			{RuleDropTail, RuleOptions{Tail: 0.2}},
		} {
			t.Run(fmt.Sprintf("balanced=%v/%s", balanced, c.rule), func(t *testing.T) {
				for _, ratio := range []float64{0.2, 0.6} {
					o := c.o
					o.Rule, o.Ratio, o.Scores, o.Confidence, o.Labels, o.ClassBalanced = c.rule, ratio, scores, conf, labels, balanced
					sel, err := SelectBy(n, o)
					if err != nil {
						t.Fatal(err)
					}
					kept := map[int]bool{}
					for _, i := range sel.Kept {
						if low[i] {
							t.Fatalf("%s balanced=%v ratio %v kept %d, of the low-confidence tail", c.rule, balanced, ratio, i)
						}
						kept[i] = true
					}
					// When the cut is the whole prune ratio, the rest is kept.
					if ratio == 0.2 && len(kept)+len(low) != n {
						t.Errorf("%s balanced=%v: %d kept and %d cut of %d", c.rule, balanced, len(kept), len(low), n)
					}
				}
			})
		}
	}
}

// TestSelectByPrunable checks that non-prunable samples are kept, need no
// valid score or confidence, and do not count toward the ratio.
func TestSelectByPrunable(t *testing.T) {
	nan := float32(math.NaN())
	scores := []float32{nan, 0.1, 0.2, 0.3, 0.4, nan, 0.5, 0.6, 0.7, 0.8, 0.9}
	conf := []float32{nan, 0.9, 0.8, 0.7, 0.6, nan, 0.5, 0.4, 0.3, 0.2, 0.1}
	prunable := func(i int) bool { return i != 0 && i != 5 }
	for _, r := range Rules {
		sel, err := SelectBy(len(scores), RuleOptions{Rule: r, Ratio: 0.5, Scores: scores, Confidence: conf,
			Beta: 0.2, Tail: 0.2, Prunable: prunable, Seed: 1})
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		// ⌊0.5·9⌋ = 4 of the 9 prunable go.
		if len(sel.Kept) != 7 || sel.Kept[0] != 0 || !slices.Contains(sel.Kept, 5) {
			t.Errorf("%s: kept %v", r, sel.Kept)
		}
	}
}

func TestSelectByErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	s := []float32{0.1, 0.2, 0.3, 0.4}
	ok := RuleOptions{Rule: RuleStratified, Ratio: 0.5, Scores: s, Confidence: s, Beta: 0.25}
	with := func(f func(o *RuleOptions)) RuleOptions {
		o := ok
		f(&o)
		return o
	}
	if _, err := SelectBy(4, ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		n    int
		o    RuleOptions
		want string
	}{
		{"unknown rule", 4, with(func(o *RuleOptions) { o.Rule = "best" }), `unknown selection rule "best", want one of top, keep-low, stratified, drop-tail, random, random-replace`},
		{"empty rule", 4, with(func(o *RuleOptions) { o.Rule = "" }), `unknown selection rule ""`},
		{"negative n", -1, ok, "n = -1 is negative"},
		{"ratio 1", 4, with(func(o *RuleOptions) { o.Ratio = 1 }), "select stratified: Ratio 1 is outside [0, 1)"},
		{"ratio NaN", 4, with(func(o *RuleOptions) { o.Ratio = math.NaN() }), "Ratio NaN is outside"},
		{"negative beta", 4, with(func(o *RuleOptions) { o.Beta = -0.1 }), "Beta -0.1 is outside"},
		{"tail 1", 4, with(func(o *RuleOptions) { o.Rule, o.Tail = RuleDropTail, 1 }), "Tail 1 is outside"},
		{"negative strata", 4, with(func(o *RuleOptions) { o.Strata = -2 }), "negative Strata = -2"},
		{"stratified without scores", 4, with(func(o *RuleOptions) { o.Scores = nil }), "select stratified: the rule needs Scores"},
		{"top without scores", 4, with(func(o *RuleOptions) { o.Rule, o.Scores = RuleTop, nil }), "select top: the rule needs Scores"},
		{"keep-low short scores", 4, with(func(o *RuleOptions) { o.Rule, o.Scores = RuleKeepLow, s[:3] }), "Scores has 3 entries for 4 samples"},
		{"random short scores", 4, with(func(o *RuleOptions) { o.Rule, o.Scores = RuleRandom, s[:3] }), "Scores has 3 entries for 4 samples"},
		{"stratified without confidence", 4, with(func(o *RuleOptions) { o.Confidence = nil }), "the rule needs Confidence"},
		{"drop-tail without confidence", 4, with(func(o *RuleOptions) { o.Rule, o.Confidence = RuleDropTail, nil }), "select drop-tail: the rule needs Confidence"},
		{"short confidence", 4, with(func(o *RuleOptions) { o.Confidence = s[:2] }), "Confidence has 2 entries for 4 samples"},
		{"NaN score", 4, with(func(o *RuleOptions) { o.Scores = []float32{0, nan, 1, 2} }), "Scores[1] is NaN"},
		{"infinite score", 4, with(func(o *RuleOptions) { o.Scores = []float32{0, 1, inf, 2} }), "Scores[2] is +Inf"},
		{"top NaN score", 4, with(func(o *RuleOptions) { o.Rule, o.Scores = RuleTop, []float32{0, 1, nan, 2} }), "Scores[2] is NaN"},
		{"NaN confidence", 4, with(func(o *RuleOptions) { o.Confidence = []float32{0, 1, 2, nan} }), "Confidence[3] is NaN"},
		{"short labels", 4, with(func(o *RuleOptions) { o.Labels = []int{0, 1} }), "2 labels for 4 samples"},
		{"balanced without labels", 4, with(func(o *RuleOptions) { o.ClassBalanced = true }), "class-balanced selection needs labels"},
		{"negative label", 4, with(func(o *RuleOptions) { o.Labels = []int{0, 1, -3, 0} }), "labels[2] = -3 is negative"},
		{"beta too large", 4, with(func(o *RuleOptions) { o.Ratio, o.Beta = 0.25, 0.5 }),
			"select stratified: Beta = 0.5 removes 2 of the 4 prunable samples, more than the 1 the ratio removes: Beta is too large for that ratio"},
		{"tail too large", 4, with(func(o *RuleOptions) { o.Rule, o.Ratio, o.Tail = RuleDropTail, 0, 0.25 }), "Tail is too large for that ratio"},
		{"class beta too large", 4, with(func(o *RuleOptions) { o.Ratio, o.Beta, o.Labels, o.ClassBalanced = 0.3, 0.5, []int{0, 1, 1, 1}, true }),
			"select stratified: class 1: Beta = 0.5 removes 1 of the 3 prunable samples, more than the 0 the ratio removes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := SelectBy(c.n, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("SelectBy(%d, %s ratio %v beta %v tail %v): %v, want error containing %q",
					c.n, c.o.Rule, c.o.Ratio, c.o.Beta, c.o.Tail, err, c.want)
			}
		})
	}
	// Stratified without Beta needs no confidence; random rules no scores.
	if _, err := SelectBy(4, with(func(o *RuleOptions) { o.Beta, o.Confidence = 0, nil })); err != nil {
		t.Error(err)
	}
	if _, err := SelectBy(4, RuleOptions{Rule: RuleRandomReplace, Ratio: 0.5}); err != nil {
		t.Error(err)
	}
}

func TestParseRule(t *testing.T) {
	for _, r := range Rules {
		if got, err := ParseRule(string(r)); err != nil || got != r {
			t.Errorf("ParseRule(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := ParseRule("Top"); err == nil || !strings.Contains(err.Error(), "top, keep-low, stratified, drop-tail, random, random-replace") {
		t.Errorf("ParseRule(Top): %v", err)
	}
}
