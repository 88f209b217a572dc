package prune

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/tensor"
)

// DefaultWindow is the Dynamic Uncertainty window J of He et al. (2023).
const DefaultWindow = 10

// DynamicUncertainty returns the Dynamic Uncertainty score of every sample
// (He et al. 2023): the mean, over the K−J sliding windows starting at
// epochs i = 0..K−J−1, of the sample standard deviation of the J
// probabilities in the window:
//
//	μᵢ  = (1/J) Σ_{j<J} P[i+j]
//	Uᵢ  = sqrt( Σ_{j<J} (P[i+j] − μᵢ)² / (J−1) )
//	DU  = (1/(K−J)) Σ_{i<K−J} Uᵢ
//
// As in the paper's formula, the windows stop one epoch short of the end:
// epoch K−1 never enters a window. It needs K > J and J ≥ 2; K ≥ 20 gives
// a usefully long average. Sums run in float64, two passes per window.
func DynamicUncertainty(tr Trajectories, window int) ([]float32, error) {
	if err := tr.check(); err != nil {
		return nil, err
	}
	if window < 2 {
		return nil, fmt.Errorf("dynamic uncertainty: window J = %d, need at least 2", window)
	}
	if tr.K <= window {
		return nil, fmt.Errorf("dynamic uncertainty: %d epochs recorded, need more than the window J = %d", tr.K, window)
	}
	windows := tr.K - window
	return perSample(tr, func(x []float64) float64 {
		var total float64
		for i := range windows {
			w := x[i : i+window]
			var mu float64
			for _, v := range w {
				mu += v
			}
			mu /= float64(window)
			var ss float64
			for _, v := range w {
				ss += (v - mu) * (v - mu)
			}
			total += math.Sqrt(ss / float64(window-1))
		}
		return total / float64(windows)
	}), nil
}

// FrequencyScore returns the FP score of every sample (Nieth et al. 2024):
// the total magnitude of the non-DC components of the trajectory's
// discrete Fourier transform,
//
//	FP = Σ_{f=1}^{K−1} | Σ_{t<K} P[t]·e^{−2πi·f·t/K} |.
//
// It computes the DFT directly from cosine and sine tables (O(K²) per
// sample; K is a few hundred at most) in float64. Two exact identities
// halve the work and reduce rounding: the mean is subtracted first (it
// only moves the DC term), and for real input |X_f| = |X_{K−f}|, so only
// f ≤ K/2 is evaluated.
func FrequencyScore(tr Trajectories) ([]float32, error) {
	if err := tr.check(); err != nil {
		return nil, err
	}
	k := tr.K
	cos, sin := make([]float64, k), make([]float64, k)
	for m := range k {
		sin[m], cos[m] = math.Sincos(2 * math.Pi * float64(m) / float64(k))
	}
	return perSample(tr, func(x []float64) float64 {
		var mu float64
		for _, v := range x {
			mu += v
		}
		mu /= float64(k)
		for t := range x {
			x[t] -= mu
		}
		var total float64
		for f := 1; 2*f <= k; f++ {
			var re, im float64
			m := 0 // f·t mod K
			for _, v := range x {
				re += v * cos[m]
				im += v * sin[m]
				if m += f; m >= k {
					m -= k
				}
			}
			mag := math.Hypot(re, im)
			if 2*f != k { // X_f and its mirror X_{K−f}
				mag *= 2
			}
			total += mag
		}
		return total
	}), nil
}

// RandomScores returns n scores drawn uniformly from [0, 1) by rng: the
// baseline every importance score must beat. Selecting by them removes a
// uniformly random subset.
func RandomScores(rng *tensor.RNG, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = rng.Float32()
	}
	return out
}

// Confidence returns every sample's mean true-class probability over the
// K epochs of tr: high for samples learned early and held, low for hard
// or mislabelled ones. SelectBy's stratified and drop-tail rules remove
// the lowest-confidence samples first.
func Confidence(tr Trajectories) ([]float32, error) {
	if err := tr.check(); err != nil {
		return nil, err
	}
	return perSample(tr, func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}), nil
}
