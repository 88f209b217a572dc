package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// pcgStream is the second PCG seed word. The user seed is the first, so
// one uint64 names a run.
const pcgStream = 0x9e3779b97f4a7c15

// RNG is a deterministic, seedable random number generator (PCG from
// math/rand/v2): the same seed gives the same numbers on every platform,
// so initializations, data orders and attack starts reproduce. Its state
// can be saved and restored, so a resumed training run continues the same
// stream. An RNG is not safe for concurrent use.
type RNG struct {
	src *rand.PCG
	r   *rand.Rand
}

// SplitMix64 is one output of the SplitMix64 generator at state x: a
// bijection of 64-bit words that turns neighbouring inputs into unrelated
// outputs, for deriving the seeds of independent streams.
func SplitMix64(x uint64) uint64 { return Mix64(x + 0x9e3779b97f4a7c15) }

// Mix64 is SplitMix64's finaliser alone (without the state increment):
// Mix64(0) is 0.
func Mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, pcgStream)
	return &RNG{src: src, r: rand.New(src)}
}

// Float32 returns a uniform number in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// Float64 returns a uniform number in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// Uint64 returns 64 uniformly random bits, for seeding derived generators.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// Intn returns a uniform integer in [0, n). It panics if n <= 0.
func (g *RNG) Intn(n int) int { return g.r.IntN(n) }

// Perm returns a random permutation of 0..n-1, as for shuffling a dataset
// each epoch.
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// Uniform fills out with uniform numbers in [lo, hi) and returns it. It
// panics if lo > hi.
func (g *RNG) Uniform(out *Tensor, lo, hi float32) *Tensor {
	if lo > hi {
		panicf("Uniform", "lo %v > hi %v for shape %s", lo, hi, fmtShape(out.shape))
	}
	g.FillUniform(out.data, lo, hi)
	return out
}

// FillUniform fills dst with uniform numbers in [lo, hi), drawing what
// Uniform draws for a tensor over dst. It panics if lo > hi.
func (g *RNG) FillUniform(dst []float32, lo, hi float32) {
	if lo > hi {
		panicf("FillUniform", "lo %v > hi %v", lo, hi)
	}
	w := float64(hi) - float64(lo)
	below := math.Nextafter32(hi, lo) // the largest value under hi (lo if equal)
	for i := range dst {
		v := float32(float64(lo) + w*g.r.Float64())
		dst[i] = min(v, below) // rounding must not reach hi
	}
}

// Normal fills out with normally distributed numbers of the given mean and
// standard deviation and returns it. It panics if std < 0.
func (g *RNG) Normal(out *Tensor, mean, std float32) *Tensor {
	if !(std >= 0) {
		panicf("Normal", "std %v < 0 for shape %s", std, fmtShape(out.shape))
	}
	g.FillNormal(out.data, mean, std)
	return out
}

// FillNormal fills dst with normally distributed numbers, drawing what
// Normal draws for a tensor over dst. It panics if std < 0.
func (g *RNG) FillNormal(dst []float32, mean, std float32) {
	if !(std >= 0) {
		panicf("FillNormal", "std %v < 0", std)
	}
	for i := range dst {
		dst[i] = float32(float64(mean) + float64(std)*g.r.NormFloat64())
	}
}

// Reseed restarts the generator in place as NewRNG(seed) would start it,
// without allocating: for streams derived per sample.
func (g *RNG) Reseed(seed uint64) { g.src.Seed(seed, pcgStream) }

// State returns the generator's state, to be saved in a checkpoint and
// restored with SetState.
func (g *RNG) State() ([]byte, error) {
	b, err := g.src.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("tensor.RNG.State: %w", err)
	}
	return b, nil
}

// SetState restores a state returned by State. The bytes usually come from
// a checkpoint file, so a malformed state is an error, not a panic; the
// generator is unchanged then.
func (g *RNG) SetState(state []byte) error {
	if err := g.src.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("tensor.RNG.SetState: %w", err)
	}
	return nil
}

// Rand returns a new tensor of the given shape filled uniformly from [0, 1).
func Rand(g *RNG, shape ...int) *Tensor { return g.Uniform(newTensor("Rand", shape), 0, 1) }

// Randn returns a new tensor of the given shape filled from the standard
// normal distribution.
func Randn(g *RNG, shape ...int) *Tensor { return g.Normal(newTensor("Randn", shape), 0, 1) }
