package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	scores := []float32{0.5, 0.1, 0.9, 0.1, 0.3, 0.7, 0.2, 0.8}
	labels := []int{0, 0, 0, 0, 1, 1, 1, 2}
	cases := []struct {
		name      string
		opt       SelectOptions
		kept      []int
		perClass  []int
		scoresFor []float32 // scores if not the shared ones
	}{
		// Ranked (score, index): 1, 3, 6, 4, 0, 5, 7, 2. ⌊0.4·8⌋ = 3 go.
		{name: "lowest", opt: SelectOptions{Ratio: 0.4}, kept: []int{0, 2, 4, 5, 7}},
		{name: "keep low", opt: SelectOptions{Ratio: 0.4, KeepLow: true}, kept: []int{0, 1, 3, 4, 6}},
		{name: "none", opt: SelectOptions{Ratio: 0}, kept: []int{0, 1, 2, 3, 4, 5, 6, 7}},
		// Per class: ⌊0.5·4⌋ = 2 of class 0 (1, 3), ⌊0.5·3⌋ = 1 of class
		// 1 (6), ⌊0.5·1⌋ = 0 of class 2.
		{name: "balanced", opt: SelectOptions{Ratio: 0.5, Labels: labels, ClassBalanced: true},
			kept: []int{0, 2, 4, 5, 7}, perClass: []int{2, 2, 1}},
		{name: "balanced keep low", opt: SelectOptions{Ratio: 0.5, Labels: labels, ClassBalanced: true, KeepLow: true},
			kept: []int{1, 3, 4, 6, 7}, perClass: []int{2, 2, 1}},
		// Labels without balancing only count.
		{name: "counted", opt: SelectOptions{Ratio: 0.4, Labels: labels}, kept: []int{0, 2, 4, 5, 7}, perClass: []int{2, 2, 1}},
		// Only 4..7 may go: ⌊0.5·4⌋ = 2 of them, the lowest being 6 and 4.
		{name: "prunable", opt: SelectOptions{Ratio: 0.5, Prunable: func(i int) bool { return i >= 4 }},
			kept: []int{0, 1, 2, 3, 5, 7}},
		// Equal scores: the lower index goes first, or last when keeping low.
		{name: "ties", opt: SelectOptions{Ratio: 0.5}, kept: []int{2, 3}, scoresFor: []float32{1, 1, 1, 1}},
		{name: "ties keep low", opt: SelectOptions{Ratio: 0.5, KeepLow: true}, kept: []int{0, 1}, scoresFor: []float32{1, 1, 1, 1}},
		// Non-prunable samples need no valid score.
		{name: "NaN not prunable", opt: SelectOptions{Ratio: 0.5, Prunable: func(i int) bool { return i > 0 }},
			kept: []int{0, 2}, scoresFor: []float32{float32(math.NaN()), 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := scores
			if c.scoresFor != nil {
				s = c.scoresFor
			}
			sel, err := Select(s, c.opt)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !slices.Equal(sel.Kept, c.kept) || !slices.Equal(sel.KeptPerClass, c.perClass) || sel.Removed != len(s)-len(c.kept) {
				t.Errorf("%s: kept %v (per class %v, %d removed), want %v (per class %v)",
					c.name, sel.Kept, sel.KeptPerClass, sel.Removed, c.kept, c.perClass)
			}
		})
	}
}

// TestSelectCount checks ⌊p·n⌋ for ratios whose float64 product with n
// falls just below the integer.
func TestSelectCount(t *testing.T) {
	for _, c := range []struct {
		ratio float64
		n     int
		want  int
	}{{0.29, 100, 29}, {0.57, 100, 57}, {0.5, 7, 3}, {0.999, 1000, 999}, {0.1, 9, 0}, {0.3, 10, 3}, {0.7, 10, 7}} {
		t.Run(fmt.Sprintf("%v*%d", c.ratio, c.n), func(t *testing.T) {
			if got := floorCount(c.ratio, c.n); got != c.want {
				t.Errorf("floorCount(%v, %d) = %d, want %d", c.ratio, c.n, got, c.want)
			}
		})
	}
	sel, err := Select(make([]float32, 100), SelectOptions{Ratio: 0.29})
	if err != nil || sel.Removed != 29 || len(sel.Kept) != 71 {
		t.Errorf("Select 0.29 of 100: %+v, %v", sel, err)
	}
}

func TestSelectErrors(t *testing.T) {
	scores := []float32{1, 2, float32(math.NaN()), 4}
	for _, c := range []struct {
		scores []float32
		opt    SelectOptions
		want   string
	}{
		{scores[:2], SelectOptions{Ratio: 1}, "prune ratio 1 is outside [0, 1)"},
		{scores[:2], SelectOptions{Ratio: -0.1}, "prune ratio -0.1"},
		{scores[:2], SelectOptions{Ratio: math.NaN()}, "prune ratio NaN"},
		{scores, SelectOptions{Ratio: 0.5}, "scores[2] is NaN"},
		{scores[:2], SelectOptions{Ratio: 0.5, Labels: []int{1}}, "1 labels for 2 scores"},
		{scores[:2], SelectOptions{Ratio: 0.5, ClassBalanced: true}, "needs labels"},
		{scores[:2], SelectOptions{Ratio: 0.5, Labels: []int{0, -1}}, "labels[1] = -1 is negative"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if _, err := Select(c.scores, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Select(%v, ratio %v): %v, want error containing %q", c.scores, c.opt.Ratio, err, c.want)
			}
		})
	}
}
