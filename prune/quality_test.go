package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

func TestCorrelationsByHand(t *testing.T) {
	// x = 1..4, y = 2,4,5,9: deviations (−1.5,−.5,.5,1.5) and (−3,−1,0,4),
	// Σdx·dy = 11, Σdx² = 5, Σdy² = 26, r = 11/sqrt(130).
	r, err := Pearson([]float32{1, 2, 3, 4}, []float32{2, 4, 5, 9})
	if err != nil || !testutil.Near(r, 11/math.Sqrt(130), 1e-12) {
		t.Errorf("Pearson = %v, %v; want %v", r, err, 11/math.Sqrt(130))
	}
	// Ties: x ranks (1, 2.5, 2.5, 4), y ranks (1, 3, 2, 4); deviations
	// (−1.5,0,0,1.5) and (−1.5,.5,−.5,1.5): ρ = 4.5/sqrt(4.5·5).
	rho, err := Spearman([]float32{1, 2, 2, 3}, []float32{10, 30, 20, 40})
	if err != nil || !testutil.Near(rho, 4.5/math.Sqrt(22.5), 1e-12) {
		t.Errorf("Spearman with ties = %v, %v; want %v", rho, err, 4.5/math.Sqrt(22.5))
	}
	// Any increasing map has rank correlation 1, and reversed −1.
	if rho, _ := Spearman([]float32{1, 5, 2, 9, 3}, []float32{1, 125, 8, 729, 27}); !testutil.Near(rho, 1, 1e-12) {
		t.Errorf("Spearman of a monotone map = %v", rho)
	}
	if rho, _ := Spearman([]float32{1, 2, 3}, []float32{3, 2, 1}); !testutil.Near(rho, -1, 1e-12) {
		t.Errorf("Spearman reversed = %v", rho)
	}
	if r, err := Pearson([]float32{1, 1, 1}, []float32{1, 2, 3}); err != nil || !math.IsNaN(r) {
		t.Errorf("Pearson of a constant = %v, %v; want NaN", r, err)
	}
	if v, _ := VarianceRatio([]float32{1, 2, 3}, []float32{2, 4, 6}); !testutil.Near(v, 0.25, 1e-12) {
		t.Errorf("VarianceRatio = %v, want 0.25", v)
	}
	for _, c := range []struct {
		x, y []float32
		want string
	}{
		{[]float32{1, 2}, []float32{1}, "2 values against 1"},
		{[]float32{1}, []float32{1}, "need at least 2"},
		{[]float32{1, float32(math.Inf(1))}, []float32{1, 2}, "x[1] is +Inf"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if _, err := Spearman(c.x, c.y); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Spearman(%v, %v): %v, want error containing %q", c.x, c.y, err, c.want)
			}
		})
	}
}

func TestClassMeanPredict(t *testing.T) {
	labels := []int{0, 1, 0, 1, 2, 0, 1, 2}
	// Seeds 0, 2 (class 0: mean 2), 3 (class 1: 5); class 2 has none and
	// gets the mean of all seeds, 3.
	got, err := ClassMeanPredict(labels, []int{0, 2, 3}, []float32{1, 3, 5}, []int{5, 6, 7})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{2, 5, 3} {
		if got[i] != want {
			t.Errorf("target %d: %g, want %g", i, got[i], want)
		}
	}
	if _, err := ClassMeanPredict(labels, []int{0, 9}, []float32{1, 3}, nil); err == nil || !strings.Contains(err.Error(), "seeds[1] = 9 is outside [0, 8)") {
		t.Errorf("seed out of range: %v", err)
	}
}

// TestMeasureQuality checks the three figures on data where the score is
// a smooth function of a 2-D embedding and the labels carry no
// information: kNN must track the scores closely, the class mean and the
// shuffled kNN must not.
func TestMeasureQuality(t *testing.T) {
	const n, dim = 3000, 2
	g := tensor.NewRNG(6)
	emb := tensor.Rand(g, n*dim).Data()
	labels, truth := make([]int, n), make([]float32, n)
	for i := range n {
		x, y := float64(emb[2*i]), float64(emb[2*i+1])
		truth[i] = float32(math.Sin(4*x) + math.Cos(3*y))
		labels[i] = g.Intn(5)
	}
	seeds := g.Perm(n)[:n/5]
	seedScores := Gather(truth, seeds)
	q, err := MeasureQuality(emb, dim, labels, seeds, seedScores, truth, KNNOptions{}, tensor.NewRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", q)
	if q.HeldOut != n-n/5 || len(q.Queries) != q.HeldOut || len(q.Predicted) != q.HeldOut {
		t.Errorf("held out %d (%d queries, %d predictions), want %d", q.HeldOut, len(q.Queries), len(q.Predicted), n-n/5)
	}
	if q.KNN.Spearman < 0.95 || q.KNN.Pearson < 0.95 {
		t.Errorf("kNN correlation %+v on a smooth score", q.KNN)
	}
	if q.KNN.VarianceRatio >= 1 || q.KNN.VarianceRatio < 0.8 {
		t.Errorf("kNN variance ratio %g, want a little under 1 (averaging smooths)", q.KNN.VarianceRatio)
	}
	for name, a := range map[string]Agreement{"class mean": q.ClassMean, "shuffled": q.Shuffled} {
		t.Run(name, func(t *testing.T) {
			if math.Abs(a.Spearman) > 0.1 || math.Abs(a.Pearson) > 0.1 {
				t.Errorf("%s baseline correlates: %+v", name, a)
			}
		})
	}
	if _, err := MeasureQuality(emb, dim, labels, seeds, seedScores, truth[:n-1], KNNOptions{}, tensor.NewRNG(7)); err == nil ||
		!strings.Contains(err.Error(), "true scores have 2999 entries but embeddings have 3000 rows") {
		t.Errorf("short truth: %v", err)
	}
	// Truth is read only at held-out samples: a NaN at a seed is fine, one
	// at a held-out sample is named.
	bad := slices.Clone(truth)
	bad[seeds[0]] = float32(math.NaN())
	if _, err := MeasureQuality(emb, dim, labels, seeds, seedScores, bad, KNNOptions{}, tensor.NewRNG(7)); err != nil {
		t.Errorf("NaN truth at a seed: %v", err)
	}
	heldOut := Complement(seeds, n)[7]
	bad[heldOut] = float32(math.NaN())
	if _, err := MeasureQuality(emb, dim, labels, seeds, seedScores, bad, KNNOptions{}, tensor.NewRNG(7)); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("true score of sample %d is NaN", heldOut)) {
		t.Errorf("NaN truth at a held-out sample: %v", err)
	}
}
