package prune

import (
	"fmt"

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
