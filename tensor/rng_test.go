package tensor

import (
	"math"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// TestRNGDeterministic checks that the same seed gives the same stream
// through every method, and a different seed a different one.
func TestRNGDeterministic(t *testing.T) {
	draw := func(seed uint64) []float64 {
		g := NewRNG(seed)
		var v []float64
		for _, x := range Rand(g, 3, 5).data {
			v = append(v, float64(x))
		}
		for _, x := range Randn(g, 7).data {
			v = append(v, float64(x))
		}
		for _, x := range g.Uniform(New(4), -2, 3).data {
			v = append(v, float64(x))
		}
		for _, x := range g.Normal(New(4), 1, 0.5).data {
			v = append(v, float64(x))
		}
		for _, p := range g.Perm(9) {
			v = append(v, float64(p))
		}
		return append(v, float64(g.Intn(1000)), float64(g.Float32()), g.Float64(), float64(g.Uint64()))
	}
	a, b, c := draw(42), draw(42), draw(43)
	if !slices.Equal(a, b) {
		t.Error("same seed, different numbers")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds, same numbers")
	}
}

// TestRNGReseedAndFill checks that Reseed restarts a used generator as
// NewRNG would start it, and that the slice fills draw what the tensor
// fills draw.
func TestRNGReseedAndFill(t *testing.T) {
	g := NewRNG(1)
	g.Perm(17)
	g.Reseed(42)
	want := NewRNG(42)
	u, n := make([]float32, 9), make([]float32, 9)
	g.FillUniform(u, -2, 3)
	g.FillNormal(n, 1, 0.5)
	if !slices.Equal(u, want.Uniform(New(9), -2, 3).data) || !slices.Equal(n, want.Normal(New(9), 1, 0.5).data) {
		t.Errorf("reseeded fills %v %v differ from a new generator's", u, n)
	}
	if g.Uint64() != want.Uint64() {
		t.Error("the streams diverge after the fills")
	}
	if allocs := testing.AllocsPerRun(10, func() { g.Reseed(7) }); allocs != 0 {
		t.Errorf("Reseed allocates %v times", allocs)
	}
}

// moments returns the mean and standard deviation of x.
func moments(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// TestRNGStatistics checks the moments and ranges of 1e5 samples. The
// tolerances are about five standard errors.
func TestRNGStatistics(t *testing.T) {
	g := NewRNG(7)
	const n = 100000
	u := g.Uniform(New(n), -1, 3)
	mean, std := moments(u.data)
	if math.Abs(mean-1) > 0.02 || math.Abs(std-4/math.Sqrt(12)) > 0.01 {
		t.Errorf("Uniform(-1, 3): mean %v, std %v; want 1, %v", mean, std, 4/math.Sqrt(12))
	}
	if lo, hi := MinAll(u), MaxAll(u); lo < -1 || hi >= 3 {
		t.Errorf("Uniform(-1, 3) range [%v, %v]", lo, hi)
	}
	r := Rand(g, n)
	if lo, hi := MinAll(r), MaxAll(r); lo < 0 || hi >= 1 {
		t.Errorf("Rand range [%v, %v]", lo, hi)
	}
	nm := g.Normal(New(n), 2, 3)
	mean, std = moments(nm.data)
	if math.Abs(mean-2) > 0.05 || math.Abs(std-3) > 0.05 {
		t.Errorf("Normal(2, 3): mean %v, std %v", mean, std)
	}
	mean, std = moments(Randn(g, n).data)
	if math.Abs(mean) > 0.02 || math.Abs(std-1) > 0.02 {
		t.Errorf("Randn: mean %v, std %v", mean, std)
	}
	counts := make([]int, 10)
	for range n {
		counts[g.Intn(10)]++
	}
	for i, c := range counts {
		if math.Abs(float64(c)-n/10) > 5*math.Sqrt(n*0.1*0.9) {
			t.Errorf("Intn(10): %d drawn %d times of %d", i, c, n)
		}
	}
	p := g.Perm(1000)
	slices.Sort(p)
	for i, v := range p {
		if v != i {
			t.Fatalf("Perm(1000) is not a permutation")
		}
	}
	if v := g.Uniform(New(3), 0.5, 0.5).data; v[0] != 0.5 || v[2] != 0.5 {
		t.Errorf("Uniform(0.5, 0.5) = %v", v)
	}
}

// TestRNGState checks that a restored state continues the same stream and
// that a malformed state is an error that leaves the generator alone.
func TestRNGState(t *testing.T) {
	g := NewRNG(99)
	Randn(g, 11) // advance
	st, err := g.State()
	if err != nil {
		t.Fatal(err)
	}
	first := Randn(g, 20)
	firstPerm := g.Perm(8)

	h := NewRNG(1)
	if err := h.SetState(st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(Randn(h, 20).data, first.data) || !slices.Equal(h.Perm(8), firstPerm) {
		t.Error("restored generator does not continue the stream")
	}
	if err := g.SetState(st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(Randn(g, 20).data, first.data) {
		t.Error("rewound generator does not repeat the stream")
	}

	before, _ := h.State()
	if err := h.SetState([]byte("garbage")); err == nil {
		t.Error("SetState accepted garbage")
	}
	if after, _ := h.State(); !slices.Equal(before, after) {
		t.Error("failed SetState changed the state")
	}
}

func TestRNGMisuse(t *testing.T) {
	g := NewRNG(0)
	testutil.CheckPanic(t, func() { g.Uniform(New(2), 1, 0) }, "tensor.Uniform", "lo 1 > hi 0")
	testutil.CheckPanic(t, func() { g.Normal(New(2), 0, -1) }, "tensor.Normal", "std -1 < 0")
	testutil.CheckPanic(t, func() { Rand(g, 2, -1) }, "tensor.Rand", "negative")
}

// TestSplitMix64 checks the first outputs of SplitMix64 seeded with 0,
// the published reference sequence.
func TestSplitMix64(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	var state uint64
	for i, w := range want {
		if got := SplitMix64(state); got != w {
			t.Errorf("output %d = %#x, want %#x", i, got, w)
		}
		state += 0x9e3779b97f4a7c15
	}
	if Mix64(0) != 0 {
		t.Error("Mix64(0) != 0")
	}
}
