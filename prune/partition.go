package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// field is a per-sample input of a selection, checked only at the
// prunable samples: the others are kept whatever their value.
type field struct {
	name   string // as the error messages call it
	v      []float32
	finite bool // reject ±Inf as well as NaN
}

// partitioned is a selection in progress: the prunable samples, grouped,
// and how many copies of every sample are kept so far.
type partitioned struct {
	// groups[g] lists the prunable samples of group g in increasing
	// order: g is the class when balancing, else there is one group.
	groups   [][]int
	balanced bool
	// count[i] is how many times sample i is kept; it starts at 1.
	count   []int
	labels  []int
	classes int
}

// checkFraction returns an error unless v, which the message calls name,
// is in [0, 1).
func checkFraction(name string, v float64) error {
	if !(v >= 0 && v < 1) {
		return fmt.Errorf("%s %v is outside [0, 1)", name, v)
	}
	return nil
}

// partition validates labels and cols against n samples and groups the
// prunable ones. what names the n samples in the label-count message.
func partition(n int, what string, labels []int, balanced bool, prunable func(int) bool, cols ...field) (*partitioned, error) {
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("%d labels for %d %s", len(labels), n, what)
	}
	if balanced && labels == nil {
		return nil, fmt.Errorf("class-balanced selection needs labels")
	}
	for _, c := range cols {
		if len(c.v) != n {
			return nil, fmt.Errorf("%s has %d entries for %d samples", c.name, len(c.v), n)
		}
	}
	p := &partitioned{labels: labels, balanced: balanced, count: make([]int, n)}
	for i, y := range labels {
		if y < 0 {
			return nil, fmt.Errorf("labels[%d] = %d is negative", i, y)
		}
		p.classes = max(p.classes, y+1)
	}
	p.groups = make([][]int, 1)
	if balanced {
		p.groups = make([][]int, p.classes)
	}
	for i := range n {
		p.count[i] = 1
		if prunable != nil && !prunable(i) {
			continue
		}
		for _, c := range cols {
			v := float64(c.v[i])
			if math.IsNaN(v) || c.finite && math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s[%d] is %v", c.name, i, c.v[i])
			}
		}
		g := 0
		if balanced {
			g = labels[i]
		}
		p.groups[g] = append(p.groups[g], i)
	}
	return p, nil
}

// byValue sorts the samples in pool by (v, index) ascending, in place,
// and returns pool.
func byValue(pool []int, v []float32) []int {
	slices.SortFunc(pool, func(a, b int) int {
		return cmp.Or(cmp.Compare(v[a], v[b]), cmp.Compare(a, b))
	})
	return pool
}

// dropByScore is the rule of Select: from every group it removes the
// ⌊ratio·n_g⌋ lowest (score, index) samples, or with keepLow the highest.
func (p *partitioned) dropByScore(scores []float32, ratio float64, keepLow bool) {
	for _, pool := range p.groups {
		r := floorCount(ratio, len(pool))
		drop := byValue(pool, scores)[:r]
		if keepLow {
			drop = pool[len(pool)-r:]
		}
		for _, i := range drop {
			p.count[i] = 0
		}
	}
}

// keepOnly makes kept the kept samples of pool, each as often as it
// appears in kept.
func (p *partitioned) keepOnly(pool, kept []int) {
	for _, i := range pool {
		p.count[i] = 0
	}
	for _, i := range kept {
		p.count[i]++
	}
}

// selection returns the Selection that count describes.
func (p *partitioned) selection() *Selection {
	total := 0
	for _, c := range p.count {
		total += c
	}
	sel := &Selection{Kept: make([]int, 0, total), Removed: len(p.count) - total}
	if p.labels != nil {
		sel.KeptPerClass = make([]int, p.classes)
	}
	for i, c := range p.count {
		if c == 0 {
			continue
		}
		sel.Unique++
		for range c {
			sel.Kept = append(sel.Kept, i)
		}
		if p.labels != nil {
			sel.KeptPerClass[p.labels[i]] += c
		}
	}
	return sel
}
