package prune

import (
	"math"
	"math/cmplx"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

// column returns a one-sample Trajectories holding p.
func column(p ...float32) Trajectories { return Trajectories{K: len(p), N: 1, P: p} }

// TestDynamicUncertaintyByHand checks values worked out on paper.
func TestDynamicUncertaintyByHand(t *testing.T) {
	ramp := make([]float32, 12)
	for i := range ramp {
		ramp[i] = float32(i) / 10
	}
	step := make([]float32, 12)
	step[10], step[11] = 1, 1
	cases := []struct {
		name string
		p    []float32
		want float64
	}{
		// K=12, J=10: two windows, P[0..9] and P[1..10]. For the ramp both
		// hold ten points 0.1 apart: Σ(x−μ)² = 0.01·82.5, so
		// U = sqrt(0.825/9) in both.
		{"ramp", ramp, math.Sqrt(0.825 / 9)},
		// Window 0 is all zeros (U=0); window 1 is nine 0s and one 1:
		// μ=0.1, Σ(x−μ)² = 9·0.01 + 0.81 = 0.9, U = sqrt(0.9/9) = sqrt(0.1).
		{"step", step, math.Sqrt(0.1) / 2},
		{"constant", []float32{.3, .3, .3, .3, .3, .3, .3, .3, .3, .3, .3, .3}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DynamicUncertainty(column(c.p...), DefaultWindow)
			if err != nil {
				t.Fatal(err)
			}
			if !testutil.Near(float64(got[0]), c.want, 1e-6) {
				t.Errorf("%s: DU = %.9g, want %.9g", c.name, got[0], c.want)
			}
		})
	}
	// Epoch K−1 enters no window.
	step[11] = 0.123
	if got, _ := DynamicUncertainty(column(step...), DefaultWindow); !testutil.Near(float64(got[0]), math.Sqrt(0.1)/2, 1e-6) {
		t.Errorf("DU moved with the last epoch: %g", got[0])
	}
}

// TestFrequencyScoreByHand checks DFT magnitudes worked out on paper.
func TestFrequencyScoreByHand(t *testing.T) {
	alt := make([]float32, 10) // 0,1,0,1,...: only X_{K/2} = −K/2 is non-zero
	for i := 1; i < len(alt); i += 2 {
		alt[i] = 1
	}
	impulse := make([]float32, 9) // |X_f| = 1 for every f
	impulse[0] = 1
	wave := make([]float32, 16) // 0.5+0.5cos(2πt/K): |X_1| = |X_15| = K/4
	for i := range wave {
		wave[i] = float32(0.5 + 0.5*math.Cos(2*math.Pi*float64(i)/16))
	}
	cases := []struct {
		name string
		p    []float32
		want float64
	}{
		{"alternating", alt, 5},
		{"impulse", impulse, 8},
		{"cosine", wave, 8},
		{"constant", []float32{.7, .7, .7, .7, .7, .7, .7}, 0},
		{"single epoch", []float32{.4}, 0},
		{"two epochs", []float32{.2, .9}, 0.7}, // X_1 = 0.2 − 0.9
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FrequencyScore(column(c.p...))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(got[0])-c.want) > 1e-5 {
				t.Errorf("%s: FP = %.9g, want %.9g", c.name, got[0], c.want)
			}
		})
	}
}

// naiveDU and naiveFP are the formulas of DynamicUncertainty and FrequencyScore written out
// directly for one trajectory, in float64 and complex128.
func naiveDU(x []float64, j int) float64 {
	var total float64
	for i := 0; i <= len(x)-j-1; i++ {
		var mu, ss float64
		for _, v := range x[i : i+j] {
			mu += v / float64(j)
		}
		for _, v := range x[i : i+j] {
			ss += (v - mu) * (v - mu)
		}
		total += math.Sqrt(ss / float64(j-1))
	}
	return total / float64(len(x)-j)
}

func naiveFP(x []float64) float64 {
	k := len(x)
	var total float64
	for f := 1; f < k; f++ {
		var s complex128
		for t, v := range x {
			s += complex(v, 0) * cmplx.Exp(complex(0, -2*math.Pi*float64(f*t)/float64(k)))
		}
		total += cmplx.Abs(s)
	}
	return total
}

// TestScoresAgainstNaive compares DU and FP on random trajectories (sample
// counts that leave partial blocks, odd and even K) with naiveDU and
// naiveFP, which also checks the K×N layout.
func TestScoresAgainstNaive(t *testing.T) {
	g := tensor.NewRNG(5)
	for _, shape := range [][2]int{{11, 1}, {20, 203}, {31, 64}, {64, 130}} {
		k, n := shape[0], shape[1]
		tr := Trajectories{K: k, N: n, P: tensor.Rand(g, k*n).Data()}
		du, err := DynamicUncertainty(tr, DefaultWindow)
		if err != nil {
			t.Fatal(err)
		}
		fp, err := FrequencyScore(tr)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, k)
		for i := range n {
			for e := range k {
				x[e] = float64(tr.P[e*n+i])
			}
			if want := naiveDU(x, DefaultWindow); !testutil.Near(float64(du[i]), want, 1e-6) {
				t.Errorf("K=%d sample %d: DU %g, want %g", k, i, du[i], want)
			}
			if want := naiveFP(x); !testutil.Near(float64(fp[i]), want, 1e-6) {
				t.Errorf("K=%d sample %d: FP %g, want %g", k, i, fp[i], want)
			}
		}
	}
}

// TestScoreErrors checks that bad trajectories return errors naming the
// problem (and the sample and epoch of a NaN).
func TestScoreErrors(t *testing.T) {
	p := make([]float32, 24) // K=12, N=2
	bad := make([]float32, 24)
	bad[1*2+1] = float32(math.NaN()) // epoch 1, sample 1
	cases := []struct {
		tr     Trajectories
		window int
		want   string
	}{
		{Trajectories{K: 12, N: 2, P: p[:23]}, 10, "P has 23 entries, want K·N = 12·2 = 24"},
		{Trajectories{K: 0, N: 2}, 10, "invalid shape"},
		{Trajectories{K: 12, N: 2, P: bad}, 10, "probability of sample 1 at epoch 1 is NaN"},
		{Trajectories{K: 12, N: 2, P: p}, 12, "12 epochs recorded, need more than the window J = 12"},
		{Trajectories{K: 12, N: 2, P: p}, 1, "window J = 1"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			if _, err := DynamicUncertainty(c.tr, c.window); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("DynamicUncertainty(%v, %d) = %v, want error containing %q", c.tr.K, c.window, err, c.want)
			}
		})
	}
	if _, err := FrequencyScore(Trajectories{K: 12, N: 2, P: bad}); err == nil || !strings.Contains(err.Error(), "sample 1 at epoch 1") {
		t.Errorf("FrequencyScore with NaN: %v", err)
	}
	if _, err := CorrectFromProbs(Trajectories{K: 12, N: 2, P: bad}); err == nil {
		t.Error("CorrectFromProbs accepted a NaN")
	}
}

func TestEL2N(t *testing.T) {
	// Two samples, three classes, two runs. Sample 0 (label 0): run 0
	// errors (−0.3, 0.2, 0.1) → sqrt(0.14); run 1 is exact → 0.
	// Sample 1 (label 2): errors (0.5, 0.5, −1) twice → sqrt(1.5).
	probs := [][]float32{
		{0.7, 0.2, 0.1, 0.5, 0.5, 0},
		{1, 0, 0, 0.5, 0.5, 0},
	}
	got, err := EL2N(probs, []int{0, 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{math.Sqrt(0.14) / 2, math.Sqrt(1.5)} {
		if !testutil.Near(float64(got[i]), want, 1e-6) {
			t.Errorf("sample %d: EL2N %g, want %g", i, got[i], want)
		}
	}
	nan := []float32{0.7, 0.2, 0.1, 0.5, float32(math.NaN()), 0}
	for _, c := range []struct {
		probs  [][]float32
		labels []int
		want   string
	}{
		{nil, []int{0, 2}, "no runs"},
		{[][]float32{probs[0][:5]}, []int{0, 2}, "run 0 has 5 probabilities, want samples·classes = 2·3 = 6"},
		{probs, []int{0, 3}, "labels[1] = 3 is outside [0, 3)"},
		{[][]float32{probs[0], nan}, []int{0, 2}, "run 1: probability of class 1 for sample 1 is NaN"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if _, err := EL2N(c.probs, c.labels, 3); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("EL2N: %v, want error containing %q", err, c.want)
			}
		})
	}
}

func TestForgetting(t *testing.T) {
	// K=5 epochs (rows), N=4 samples (columns):
	// sample 0: T F T F F → 2 events; sample 1: F F F F F → 0;
	// sample 2: T T T T T → 0;        sample 3: F T F T T → 1.
	const T, F = true, false
	correct := []bool{
		T, F, T, F,
		F, F, T, T,
		T, F, T, F,
		F, F, T, T,
		F, F, T, T,
	}
	got, err := Forgetting(correct, 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{2, 0, 0, 1} {
		if got[i] != want {
			t.Errorf("sample %d: %g forgetting events, want %g", i, got[i], want)
		}
	}
	if _, err := Forgetting(correct[:19], 5, 4); err == nil || !strings.Contains(err.Error(), "19 entries, want K·N = 5·4 = 20") {
		t.Errorf("Forgetting with a short matrix: %v", err)
	}
	c, err := CorrectFromProbs(column(0.5, 0.51, 0.2, 1))
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{F, T, F, T}; !slices.Equal(c, want) {
		t.Errorf("CorrectFromProbs = %v, want %v", c, want)
	}
}

func TestRandomScores(t *testing.T) {
	a, b := RandomScores(tensor.NewRNG(9), 1000), RandomScores(tensor.NewRNG(9), 1000)
	var sum float64
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different score %d: %g, %g", i, a[i], b[i])
		}
		if a[i] < 0 || a[i] >= 1 {
			t.Fatalf("score %d = %g outside [0, 1)", i, a[i])
		}
		sum += float64(a[i])
	}
	if m := sum / 1000; m < 0.45 || m > 0.55 {
		t.Errorf("mean of 1000 uniform scores %g", m)
	}
}

func TestEL2NEarly(t *testing.T) {
	// Two samples, three epochs: the mean of the first two rows.
	errs := Trajectories{K: 3, N: 2, P: []float32{0.8, 0.2, 0.6, 0.4, 0.0, 1.0}}
	got, err := EL2NEarly(errs, 2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(got[0])-0.7) > 1e-7 || math.Abs(float64(got[1])-0.3) > 1e-7 {
		t.Fatalf("EL2NEarly = %v, want [0.7 0.3]", got)
	}
	for _, e := range []int{0, 4} {
		if _, err := EL2NEarly(errs, e); err == nil {
			t.Errorf("averaging over %d of 3 epochs: no error", e)
		}
	}
	errs.P[3] = float32(math.NaN())
	if _, err := EL2NEarly(errs, 1); err == nil || !strings.Contains(err.Error(), "sample 1 at epoch 1") {
		t.Errorf("NaN error: %v", err)
	}
}

// TestGroupByScore checks groups and their mean trajectories by hand: four
// samples over two epochs, two groups.
func TestGroupByScore(t *testing.T) {
	tr := Trajectories{K: 2, N: 4, P: []float32{
		0.1, 0.2, 0.3, 0.4, // epoch 0
		0.5, 0.6, 0.7, 0.8, // epoch 1
	}}
	// Scores rank samples 0, 2 low (a tie) and 3, 1 high.
	g, err := GroupByScore(tr, []float32{1, 5, 1, 3}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []ScoreGroup{{Lo: 1, Hi: 1, Mean: []float64{0.2, 0.6}}, {Lo: 3, Hi: 5, Mean: []float64{0.3, 0.7}}}
	for i := range want {
		if g[i].Lo != want[i].Lo || g[i].Hi != want[i].Hi || math.Abs(g[i].Mean[0]-want[i].Mean[0]) > 1e-7 || math.Abs(g[i].Mean[1]-want[i].Mean[1]) > 1e-7 {
			t.Errorf("group %d: %+v, want %+v", i, g[i], want[i])
		}
	}
	if _, err := GroupByScore(tr, []float32{1, 2, 3}, 2); err == nil {
		t.Error("3 scores for 4 samples: no error")
	}
	if _, err := GroupByScore(tr, []float32{1, 2, 3, 4}, 5); err == nil {
		t.Error("5 groups of 4 samples: no error")
	}
}
