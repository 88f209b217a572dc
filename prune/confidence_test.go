package prune

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

func TestConfidence(t *testing.T) {
	// K=3 epochs of N=200 samples (more than one block of perSample):
	// sample i's probabilities are i/200, 2i/200, 0.3, mean (i/100+0.3)/3.
	const k, n = 3, 200
	tr := Trajectories{K: k, N: n, P: make([]float32, k*n)}
	for i := range n {
		tr.P[i] = float32(i) / n
		tr.P[n+i] = float32(2*i) / n
		tr.P[2*n+i] = 0.3
	}
	got, err := Confidence(tr)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range got {
		want := (float64(float32(i)/n) + float64(float32(2*i)/n) + float64(float32(0.3))) / 3
		if !testutil.Near(float64(c), want, 1e-6) {
			t.Errorf("sample %d: confidence %g, want %g", i, c, want)
		}
	}
	tr.P[n+7] = float32(math.NaN())
	if _, err := Confidence(tr); err == nil || !strings.Contains(err.Error(), "sample 7 at epoch 1") {
		t.Errorf("NaN: %v", err)
	}
	if _, err := Confidence(Trajectories{K: 2, N: 3, P: make([]float32, 5)}); err == nil {
		t.Error("ragged trajectories: no error")
	}
}

func TestTruncate(t *testing.T) {
	const k, n = 4, 3
	tr := Trajectories{K: k, N: n, P: make([]float32, k*n)}
	for j := range tr.P {
		tr.P[j] = float32(j)
	}
	for e := 1; e <= k; e++ {
		got, err := tr.Truncate(e)
		if err != nil {
			t.Fatal(err)
		}
		if got.K != e || got.N != n || !slices.Equal(got.P, tr.P[:e*n]) {
			t.Fatalf("Truncate(%d) = %+v", e, got)
		}
		if &got.P[0] != &tr.P[0] {
			t.Errorf("Truncate(%d) copied P", e)
		}
	}
	// The result scores like a run recorded for e epochs only.
	short, _ := tr.Truncate(2)
	c, err := Confidence(short)
	if err != nil || c[1] != 2.5 { // (1 + 4) / 2
		t.Errorf("confidence over 2 epochs: %v, %v", c, err)
	}
	// Appending to the prefix must not overwrite epoch 2 of tr.
	short.P = append(short.P, -1)
	if tr.P[2*n] != float32(2*n) {
		t.Error("appending to the truncation overwrote the original")
	}
	for _, c := range []struct {
		tr   Trajectories
		k    int
		want string
	}{
		{tr, 0, "cannot keep the first 0 of 4 epochs"},
		{tr, 5, "cannot keep the first 5 of 4 epochs"},
		{Trajectories{K: 4, N: 3, P: tr.P[:11]}, 2, "P has 11 entries for K=4 N=3"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if _, err := c.tr.Truncate(c.k); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Truncate(%d): %v, want error containing %q", c.k, err, c.want)
			}
		})
	}
}
