package prune_test

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/prune"
)

// Score a seed subset from its recorded trajectories, extrapolate the
// scores to every sample by nearest neighbours, and keep the half with
// the highest scores.
func Example() {
	// Six scored samples, twelve epochs: p_true of sample i after epoch t
	// is P[t*6+i]. Samples 0-2 are learned at once (flat trajectories),
	// samples 3-5 only late (they move a lot).
	tr := prune.Trajectories{K: 12, N: 6, P: make([]float32, 12*6)}
	for t := range 12 {
		for i := range 6 {
			p := float32(0.95)
			if i >= 3 {
				p = float32(t) / 11
			}
			tr.P[t*6+i] = p
		}
	}
	du, err := prune.DynamicUncertainty(tr, 10)
	if err != nil {
		panic(err)
	}
	// Ten samples embedded in 2-d; the first six are the scored seed. The
	// unscored ones (6-9) lie near the stable or near the moving seeds.
	emb := []float32{0, 0, 0, 1, 1, 0, 10, 10, 10, 11, 11, 10, 0.5, 0.5, 10.5, 10.5, 0.2, 0.8, 10.2, 10.8}
	ex, err := prune.Extrapolate(emb, 2, []int{0, 1, 2, 3, 4, 5}, du, prune.KNNOptions{K: 3})
	if err != nil {
		panic(err)
	}
	sel, err := prune.SelectBy(10, prune.RuleOptions{Rule: prune.RuleTop, Ratio: 0.5, Scores: ex.Scores})
	if err != nil {
		panic(err)
	}
	fmt.Println("kept:", sel.Kept)
	// Output: kept: [3 4 5 7 9]
}
