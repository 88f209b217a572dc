package prune

import "fmt"

// Forgetting returns each sample's number of forgetting events (Toneva et
// al. 2019): transitions from correct at epoch t to incorrect at epoch t+1.
// correct is K×N row-major like Trajectories.P: correct[t*n+i] says whether
// sample i was classified correctly at epoch t.
//
// Samples never classified correctly score 0 here, like samples never
// forgotten; Toneva et al. instead rank never-learned samples as the most
// forgettable. Callers who want that can set their scores to k.
func Forgetting(correct []bool, k, n int) ([]float32, error) {
	if k < 1 || n < 0 {
		return nil, fmt.Errorf("forgetting: invalid shape K=%d N=%d", k, n)
	}
	if len(correct) != k*n {
		return nil, fmt.Errorf("forgetting: correctness has %d entries, want K·N = %d·%d = %d", len(correct), k, n, k*n)
	}
	out := make([]float32, n)
	for t := 1; t < k; t++ {
		prev, cur := correct[(t-1)*n:t*n], correct[t*n:(t+1)*n]
		for i := range out {
			if prev[i] && !cur[i] {
				out[i]++
			}
		}
	}
	return out, nil
}

// CorrectFromProbs approximates per-epoch correctness from true-class
// probabilities alone: a sample counts as correct when P > 0.5. That is
// sufficient but not necessary (with three or more classes the true class
// can be the argmax at P ≤ 0.5), so it undercounts correct epochs. Record
// predicted labels when exact forgetting counts matter.
func CorrectFromProbs(tr Trajectories) ([]bool, error) {
	if err := tr.check(); err != nil {
		return nil, err
	}
	out := make([]bool, len(tr.P))
	for j, p := range tr.P {
		out[j] = p > 0.5
	}
	return out, nil
}
