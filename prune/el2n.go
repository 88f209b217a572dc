package prune

import (
	"fmt"
	"math"
)

// EL2N returns the EL2N score of every sample (Paul et al. 2021): the L2
// norm of the error vector ‖p − onehot(y)‖₂, averaged over runs (or early
// epochs). probs[r] holds run r's softmax outputs, row-major n×classes with
// n = len(labels).
//
// EL2N needs every class's probability: the true-class probability p_y
// alone only bounds it, (1−p_y)·sqrt(1 + 1/(classes−1)) ≤ EL2N ≤
// (1−p_y)·√2, so Trajectories cannot give it. Record full probability
// vectors for it.
func EL2N(probs [][]float32, labels []int, classes int) ([]float32, error) {
	if len(probs) == 0 {
		return nil, fmt.Errorf("el2n: no runs given")
	}
	if classes < 1 {
		return nil, fmt.Errorf("el2n: classes = %d, need at least 1", classes)
	}
	n := len(labels)
	for i, y := range labels {
		if y < 0 || y >= classes {
			return nil, fmt.Errorf("el2n: labels[%d] = %d is outside [0, %d)", i, y, classes)
		}
	}
	for r, p := range probs {
		if len(p) != n*classes {
			return nil, fmt.Errorf("el2n: run %d has %d probabilities, want samples·classes = %d·%d = %d",
				r, len(p), n, classes, n*classes)
		}
		if j := firstNonFinite(p); j >= 0 {
			return nil, fmt.Errorf("el2n: run %d: probability of class %d for sample %d is %v", r, j%classes, j/classes, p[j])
		}
	}
	out := make([]float32, n)
	for i, y := range labels {
		var total float64
		for _, p := range probs {
			var ss float64
			for c, v := range p[i*classes : (i+1)*classes] {
				e := float64(v)
				if c == y {
					e--
				}
				ss += e * e
			}
			total += math.Sqrt(ss)
		}
		out[i] = float32(total / float64(len(probs)))
	}
	return out, nil
}

// EL2NEarly returns the EL2N score from recorded per-epoch errors: errs
// holds ‖p − onehot(y)‖₂ of every sample after each epoch (the training
// recorder's el2n_*.npy), and the score is their mean over the first
// epochs epochs — early in training, where Paul et al. measure it; the
// early epochs stand in for their several runs.
func EL2NEarly(errs Trajectories, epochs int) ([]float32, error) {
	if err := errs.check(); err != nil {
		return nil, fmt.Errorf("el2n: %w", err)
	}
	if epochs < 1 || epochs > errs.K {
		return nil, fmt.Errorf("el2n: averaging over %d epochs, need 1 to %d (the epochs recorded)", epochs, errs.K)
	}
	sum := make([]float64, errs.N)
	for t := range epochs {
		for i, v := range errs.P[t*errs.N : (t+1)*errs.N] {
			sum[i] += float64(v)
		}
	}
	out := make([]float32, errs.N)
	for i, s := range sum {
		out[i] = float32(s / float64(epochs))
	}
	return out, nil
}
