package prune

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestExtrapolateByHand checks a 1-D case worked out on paper. Seeds at
// 0, 1, 10, 11 score 1, 3, 10, 20; with k=2, x=0.4 has neighbours 0 and
// 1 (distances 0.4, 0.6) and x=10.6 has 11 and 10 (0.4, 0.6).
func TestExtrapolateByHand(t *testing.T) {
	emb := []float32{0.4, 0, 10, 1, 10.6, 11}
	seeds := []int{1, 3, 2, 5}
	scores := []float32{1, 3, 10, 20}
	w := math.Exp(-0.2) // weight of the farther neighbour relative to the nearer
	for _, c := range []struct {
		weighted bool
		want     []float64
	}{
		{false, []float64{2, 1, 10, 3, 15, 20}},
		{true, []float64{(1 + 3*w) / (1 + w), 1, 10, 3, (20 + 10*w) / (1 + w), 20}},
	} {
		t.Run(fmt.Sprintf("weighted=%v", c.weighted), func(t *testing.T) {
			ex, err := Extrapolate(emb, 1, seeds, scores, KNNOptions{K: 2, Weighted: c.weighted})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range c.want {
				if !testutil.Near(float64(ex.Scores[i]), want, 1e-5) {
					t.Errorf("weighted=%v sample %d: %g, want %g", c.weighted, i, ex.Scores[i], want)
				}
			}
			if !slices.Equal(ex.Queries, []int{0, 4}) || !slices.Equal(ex.Neighbors.Index, []int32{0, 1, 3, 2}) {
				t.Errorf("queries %v, neighbours %v (seed positions); want [0 4], [0 1 3 2]", ex.Queries, ex.Neighbors.Index)
			}
		})
	}
}

// TestExtrapolateCosine: direction decides, length does not.
func TestExtrapolateCosine(t *testing.T) {
	emb := []float32{
		1, 0, // seed, score 1
		0, 1, // seed, score 5
		100, 1, // nearly along (1, 0) but far from it
		0.1, 0.2, // closer to (0, 1) in angle
	}
	ex, err := Extrapolate(emb, 2, []int{0, 1}, []float32{1, 5}, KNNOptions{K: 1, Metric: Cosine})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Scores[2] != 1 || ex.Scores[3] != 5 {
		t.Errorf("cosine scores %v, want [1 5 1 5]", ex.Scores)
	}
	// 1 − cos between (100, 1) and (1, 0).
	if want := 1 - 100/math.Hypot(100, 1); math.Abs(float64(ex.Neighbors.Dist[0])-want) > 1e-6 {
		t.Errorf("cosine distance %g, want %g", ex.Neighbors.Dist[0], want)
	}
}

// TestExtrapolateMatchesSearch checks that Extrapolate, which reads the
// seeds and queries in place through index lists, agrees with Search and
// Predict on the gathered matrices, at several thread counts.
func TestExtrapolateMatchesSearch(t *testing.T) {
	const n, dim = 700, 19
	g := tensor.NewRNG(8)
	emb := randMatrix(g, n, dim, 1, 0)
	seeds := g.Perm(n)[:150]
	scores := tensor.Rand(g, 150).Data()
	queries := Complement(seeds, n)
	refsM := make([]float32, 0, len(seeds)*dim)
	for _, i := range seeds {
		refsM = append(refsM, emb[i*dim:(i+1)*dim]...)
	}
	queriesM := make([]float32, 0, len(queries)*dim)
	for _, i := range queries {
		queriesM = append(queriesM, emb[i*dim:(i+1)*dim]...)
	}
	for _, threads := range []int{1, 2, 4} {
		for _, metric := range []Metric{Euclidean, Cosine} {
			func() {
				defer kernels.SetThreads(kernels.SetThreads(threads))
				opt := KNNOptions{Metric: metric, Weighted: true}
				ex, err := Extrapolate(emb, dim, seeds, scores, opt)
				if err != nil {
					t.Fatal(err)
				}
				nb, err := Search(refsM, queriesM, dim, opt)
				if err != nil {
					t.Fatal(err)
				}
				pred, err := nb.Predict(scores, true)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ex.Neighbors.Index, nb.Index) || !slices.Equal(ex.Neighbors.Dist, nb.Dist) {
					t.Fatalf("threads=%d %v: Extrapolate's neighbours differ from Search's", threads, metric)
				}
				for q, i := range queries {
					if ex.Scores[i] != pred[q] {
						t.Fatalf("threads=%d %v: sample %d scored %g, Predict %g", threads, metric, i, ex.Scores[i], pred[q])
					}
				}
				for j, i := range seeds {
					if ex.Scores[i] != scores[j] {
						t.Fatalf("seed %d lost its score", i)
					}
				}
			}()
		}
	}
}

// TestPredictFarAway: exp(−d) underflows to 0 for every neighbour at
// d ≈ 800; subtracting the nearest distance keeps the weighted mean
// finite and right.
func TestPredictFarAway(t *testing.T) {
	nb := &Neighbors{Queries: 1, K: 2, Refs: 2, Index: []int32{0, 1}, Dist: []float32{800, 801}}
	got, err := nb.Predict([]float32{0, 1}, true)
	w := math.Exp(-1)
	if err != nil || !testutil.Near(float64(got[0]), w/(1+w), 1e-6) {
		t.Errorf("far-away weighted prediction %v, %v; want %g", got, err, w/(1+w))
	}
}

func TestExtrapolateErrors(t *testing.T) {
	emb := []float32{0, 1, 2, 3, 4, 5}
	nan := []float32{0, 1, 2, float32(math.NaN()), 4, 5}
	for _, c := range []struct {
		name   string
		emb    []float32
		dim    int
		seeds  []int
		scores []float32
		opt    KNNOptions
		want   string
	}{
		{"ragged embeddings", emb, 4, []int{0}, []float32{1}, KNNOptions{K: 1}, "embeddings have 6 values, not a multiple of dim = 4"},
		{"short scores", emb, 2, []int{0, 1}, []float32{1}, KNNOptions{K: 1}, "1 seed scores for 2 seeds"},
		{"seed outside", emb, 2, []int{0, 3}, []float32{1, 2}, KNNOptions{K: 1}, "seeds[1] = 3 is outside [0, 3) (embeddings have 3 rows)"},
		{"repeated seed", emb, 2, []int{2, 2}, []float32{1, 2}, KNNOptions{K: 1}, "seeds[1] = 2 repeats seeds[0]"},
		{"NaN score", emb, 2, []int{0, 1}, []float32{1, float32(math.NaN())}, KNNOptions{K: 1}, "seed scores[1] is NaN"},
		{"k too large", emb, 2, []int{0, 1}, []float32{1, 2}, KNNOptions{}, "k = 12, need 1 ≤ k ≤ 2"},
		{"nil seeds", emb, 2, nil, nil, KNNOptions{K: 1}, "no seeds"},
		{"empty seeds", emb, 2, []int{}, []float32{}, KNNOptions{K: 1}, "no seeds"},
		{"NaN seed embedding", nan, 2, []int{0, 1}, []float32{1, 2}, KNNOptions{K: 1}, "embeddings: row 1, column 1 is NaN"},
		{"NaN query embedding", nan, 2, []int{0, 2}, []float32{1, 2}, KNNOptions{K: 1}, "embeddings: row 1, column 1 is NaN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Extrapolate(c.emb, c.dim, c.seeds, c.scores, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Extrapolate(seeds %v): %v, want error containing %q", c.seeds, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		nb   Neighbors
		want string
	}{
		{Neighbors{Queries: 1, K: 1, Refs: 2, Index: []int32{0}, Dist: []float32{0}}, "1 scores for 2 references"},
		{Neighbors{Queries: 2, K: 1, Refs: 1, Index: []int32{0}, Dist: []float32{0}}, "1 indices and 1 distances for 2 queries × k = 1"},
		{Neighbors{Queries: 1, K: 1, Refs: 1, Index: []int32{1}, Dist: []float32{0}}, "neighbour 0 of query 0 is reference 1, outside [0, 1)"},
		{Neighbors{Queries: 1, K: 1, Refs: 1, Index: []int32{0}, Dist: []float32{float32(math.NaN())}}, "distance to neighbour 0 of query 0 is NaN"},
		{Neighbors{Queries: 1, K: 0, Refs: 1}, "invalid neighbours shape"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if _, err := c.nb.Predict([]float32{1}, false); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Predict(%+v): %v, want error containing %q", c.nb, err, c.want)
			}
		})
	}
}
