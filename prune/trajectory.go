package prune

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/bulwark-ml/bulwark/kernels"
)

// Trajectories holds the true-class probability of N samples after each of
// K epochs, row-major K×N: P[t*N+i] is sample i's probability at epoch t.
// One row per epoch is the order in which training records them.
type Trajectories struct {
	K, N int
	P    []float32
}

// check returns an error if the shape does not match P or P holds a NaN
// or ±Inf, naming the sample and epoch.
func (tr Trajectories) check() error {
	if tr.K < 1 || tr.N < 0 {
		return fmt.Errorf("trajectories: invalid shape K=%d N=%d", tr.K, tr.N)
	}
	if len(tr.P) != tr.K*tr.N {
		return fmt.Errorf("trajectories: P has %d entries, want K·N = %d·%d = %d", len(tr.P), tr.K, tr.N, tr.K*tr.N)
	}
	if j := firstNonFinite(tr.P); j >= 0 {
		return fmt.Errorf("trajectories: probability of sample %d at epoch %d is %v", j%tr.N, j/tr.N, tr.P[j])
	}
	return nil
}

// Truncate returns the first k epochs of tr (1 ≤ k ≤ tr.K): the record
// of a shorter scoring run, to score from fewer epochs. The epochs are
// the first k rows of P, so the result shares P with tr; its capacity is
// cut at k rows, so appending to it cannot overwrite epoch k.
func (tr Trajectories) Truncate(k int) (Trajectories, error) {
	if tr.N < 0 || len(tr.P) != tr.K*tr.N {
		return Trajectories{}, fmt.Errorf("trajectories: P has %d entries for K=%d N=%d", len(tr.P), tr.K, tr.N)
	}
	if k < 1 || k > tr.K {
		return Trajectories{}, fmt.Errorf("trajectories: cannot keep the first %d of %d epochs", k, tr.K)
	}
	return Trajectories{K: k, N: tr.N, P: tr.P[: k*tr.N : k*tr.N]}, nil
}

// trajBlock is how many samples perSample transposes at a time: enough to
// read whole cache lines of every epoch row, few enough that the block
// stays in cache.
const trajBlock = 64

// perSample returns score(x) for every sample, where x is the sample's
// trajectory (its K probabilities in epoch order) in float64. score is
// called concurrently; it may overwrite x but must not keep it. tr must
// have passed check.
func perSample(tr Trajectories, score func(x []float64) float64) []float32 {
	out := make([]float32, tr.N)
	blocks := (tr.N + trajBlock - 1) / trajBlock
	kernels.ParallelFor(blocks, 1, func(lo, hi int) {
		buf := make([]float64, trajBlock*tr.K)
		for b := lo; b < hi; b++ {
			i0 := b * trajBlock
			w := min(trajBlock, tr.N-i0)
			for t := range tr.K {
				row := tr.P[t*tr.N+i0 : t*tr.N+i0+w]
				for s, v := range row {
					buf[s*tr.K+t] = float64(v)
				}
			}
			for s := range w {
				out[i0+s] = float32(score(buf[s*tr.K : (s+1)*tr.K]))
			}
		}
	})
	return out
}

// ScoreGroup is one group of samples of similar score and its mean
// trajectory.
type ScoreGroup struct {
	Lo, Hi float32   // the group's lowest and highest score
	Mean   []float64 // mean true-class probability after each epoch
}

// GroupByScore sorts the N samples of tr by scores (ties by index), splits
// them into groups of (nearly) equal size, lowest scores first, and
// returns each group's mean trajectory: what a score ranks high, seen as
// how those samples were learned.
func GroupByScore(tr Trajectories, scores []float32, groups int) ([]ScoreGroup, error) {
	if err := tr.check(); err != nil {
		return nil, err
	}
	if len(scores) != tr.N {
		return nil, fmt.Errorf("trajectories: %d scores for %d samples", len(scores), tr.N)
	}
	if groups < 1 || groups > tr.N {
		return nil, fmt.Errorf("trajectories: %d groups of %d samples", groups, tr.N)
	}
	order := make([]int, tr.N)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	out := make([]ScoreGroup, groups)
	for g := range out {
		members := order[g*tr.N/groups : (g+1)*tr.N/groups]
		mean := make([]float64, tr.K)
		for t := range tr.K {
			row := tr.P[t*tr.N : (t+1)*tr.N]
			for _, i := range members {
				mean[t] += float64(row[i])
			}
			mean[t] /= float64(len(members))
		}
		out[g] = ScoreGroup{Lo: scores[members[0]], Hi: scores[members[len(members)-1]], Mean: mean}
	}
	return out, nil
}
