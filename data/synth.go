package data

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/bulwark-ml/bulwark/tensor"
)

// SynthOptions sets the magnitudes of the random deformations of a
// Synthetic pool. Each parameter is drawn uniformly from its range, per
// sample. The zero value deforms nothing: every sample is then exactly
// its base image.
type SynthOptions struct {
	Rotate    float64 // rotation angle in [-Rotate, Rotate], degrees; at most 180
	Scale     float64 // isotropic scale factor in [1-Scale, 1+Scale]; below 1
	Shear     float64 // horizontal shear angle in [-Shear, Shear], radians; below π/2
	Translate float64 // shift along each axis in [-Translate, Translate], pixels
	Alpha     float64 // elastic: scale α of the smoothed displacement field, pixels
	Sigma     float64 // elastic: standard deviation σ of the Gaussian smoothing, pixels

	// Tail > 0 gives the deformation strength a long tail, as generated
	// pools have a few ambiguous samples: sample i's Rotate, Scale,
	// Shear, Translate and Alpha are multiplied by a strength s_i ≥ 1
	// drawn from a Pareto distribution, P(s > t) = t^-Tail (see
	// Synthetic.Strength), then capped at tailMaxRotate, tailMaxScale,
	// tailMaxShear and, for Translate and Alpha, tailMaxPixels times the
	// image size (an option already above its cap keeps its value).
	// Tail = 3 deforms about 12.5% of the samples more than twice as hard
	// and 1.6% more than four times. 0 turns it off; Sigma never scales.
	Tail float64
}

// Caps of the deformation magnitudes scaled by SynthOptions.Tail, inside
// the options' valid ranges: rotations of any angle, a scale factor of
// at least 0.1 and a shear of at most about 69°. Translate and Alpha are
// capped at tailMaxPixels times the larger image side, long past the
// point where the image leaves the frame, only to keep them finite.
const (
	tailMaxRotate = 180
	tailMaxScale  = 0.9
	tailMaxShear  = 1.2
	tailMaxPixels = 100
)

// DefaultSynthOptions returns the deformations used for the synth: spec,
// tuned for 28×28 digits so that samples stay legible: ±15° rotation,
// scale 0.9–1.1, shear ±0.2 rad (≈11°), shifts of ±2 px, and Simard et
// al.'s (2003) elastic distortion with the values usually quoted for
// MNIST, σ = 4 and α = 34 (about 1.4 px of RMS displacement).
func DefaultSynthOptions() SynthOptions {
	return SynthOptions{Rotate: 15, Scale: 0.1, Shear: 0.2, Translate: 2, Alpha: 34, Sigma: 4}
}

// Scaled returns o with every deformation magnitude (Rotate, Scale,
// Shear, Translate and Alpha) multiplied by f, leaving Sigma, the
// smoothness of the elastic field, and Tail as they are: f = 0.5 deforms
// half as hard. The result is checked when the pool is made.
func (o SynthOptions) Scaled(f float64) SynthOptions {
	o.Rotate *= f
	o.Scale *= f
	o.Shear *= f
	o.Translate *= f
	o.Alpha *= f
	return o
}

// validate returns an error naming the first option out of its range.
func (o SynthOptions) validate() error {
	inf := math.Inf(1)
	for _, c := range []struct {
		name string
		v    float64
		hi   float64 // the bound
		open bool    // whether hi itself is excluded
		want string
	}{
		{"Rotate", o.Rotate, 180, false, "in [0, 180] degrees"},
		{"Scale", o.Scale, 1, true, "in [0, 1)"},
		{"Shear", o.Shear, math.Pi / 2, true, "in [0, π/2) radians"},
		{"Translate", o.Translate, inf, true, "finite and ≥ 0 pixels"},
		{"Alpha", o.Alpha, inf, true, "finite and ≥ 0 pixels"},
		{"Sigma", o.Sigma, inf, true, "finite and ≥ 0 pixels"},
		{"Tail", o.Tail, inf, true, "finite and ≥ 0"},
	} {
		if !(c.v >= 0 && c.v <= c.hi) || (c.open && c.v == c.hi) {
			return fmt.Errorf("data.NewSynthetic: %s = %g, want %s", c.name, c.v, c.want)
		}
	}
	return nil
}

// Synthetic is a Dataset of n deformed copies of a base set's images,
// generated on demand: sample i is a pure function of (seed, i), so a
// pool of millions costs no memory, can be read in any order by any
// number of goroutines, and is bitwise the same on every run and
// platform: products are rounded explicitly, float32(a*b), so that no
// compiler fuses them into FMAs (TestSyntheticGolden pins the output).
//
// Sample i uses base image BaseIndex(i): the pool is cut into cycles of
// base.Len() samples, and each cycle visits every base image exactly once
// in its own seeded order, so each is used ⌊n/L⌋ or ⌈n/L⌉ times. Its label
// is that image's label. Its image is the base image resampled through
// one map combining a random affine transform (rotation, scale, shear
// about the centre, then a shift) and a Simard et al. (2003) elastic
// displacement field (uniform noise in [-1, 1) per pixel and axis, blurred
// by a Gaussian of σ, times α), with bilinear interpolation, 0 outside the
// image, and the result clamped to [0, 1]. All channels share the map.
// The parameters come from a PCG stream seeded by a SplitMix64 mix of
// (seed, i). With SynthOptions.Tail > 0, the magnitudes are first scaled
// by Strength(i), drawn from a separate hash of (seed, i), so a pool
// with Tail = 0 is the same as before Tail existed.
type Synthetic struct {
	base    Dataset
	n       int
	seed    uint64
	opts    SynthOptions
	c, h, w int
	perm    feistel
	kern    []float32 // Gaussian taps g[-r..r], normalized to sum 1
	scratch sync.Pool // *synthScratch
}

// synthScratch holds the buffers of one Image call.
type synthScratch struct {
	pcg   rand.PCG
	src   []float32 // the base image, c*h*w
	field []float32 // 2*h*w: the displacements, h rows of [dx | dy]
	tmp   []float32 // 2*h*w: intermediate blur results
}

// Salts separating the random streams drawn from one seed.
const (
	saltSynthPerm   = 0x8cb92ba72f3d8dd7
	saltSynthSample = 0x2545f4914f6cdd1d
	saltSynthStream = 0xd6e8feb86659fd93
	saltSynthTail   = 0x7a3c5e19d04b8f61
)

// NewSynthetic returns a pool of n samples deformed from base as opts
// says, with the random choices named by seed. base must not be empty.
// The pool reads base concurrently, so base must be safe for concurrent
// use (every Dataset is); closing the pool closes base.
func NewSynthetic(base Dataset, n int, seed uint64, opts SynthOptions) (*Synthetic, error) {
	if n < 1 {
		return nil, fmt.Errorf("data.NewSynthetic: n = %d samples, want ≥ 1", n)
	}
	if base.Len() < 1 {
		return nil, fmt.Errorf("data.NewSynthetic: the base set is empty")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c, h, w := base.Shape()
	s := &Synthetic{base: base, n: n, seed: seed, opts: opts, c: c, h: h, w: w,
		perm: newFeistel(uint64(base.Len()))}
	if opts.Alpha > 0 {
		s.kern = gaussKernel(opts.Sigma, max(h, w)-1)
	}
	return s, nil
}

// gaussKernel returns the taps g[-r..r] of a Gaussian of standard
// deviation sigma, cut at r = ⌈3σ⌉ (at most maxR, beyond which a tap
// never meets the image) and normalized to sum 1. sigma 0 gives [1].
func gaussKernel(sigma float64, maxR int) []float32 {
	r := 0
	if sigma > 0 {
		r = maxR
		if rf := math.Ceil(3 * sigma); rf < float64(maxR) {
			r = int(rf)
		}
	}
	g := make([]float64, 2*r+1)
	sum := 0.0
	for k := range g {
		d := float64(k - r)
		g[k] = 1
		if sigma > 0 {
			g[k] = math.Exp(-d * d / (2 * sigma * sigma))
		}
		sum += g[k]
	}
	out := make([]float32, len(g))
	for k, v := range g {
		out[k] = float32(v / sum)
	}
	return out
}

// Len returns the pool size n.
func (s *Synthetic) Len() int { return s.n }

// Shape returns the base set's image shape.
func (s *Synthetic) Shape() (c, h, w int) { return s.c, s.h, s.w }

// Classes returns the base set's class count.
func (s *Synthetic) Classes() int { return s.base.Classes() }

// Label returns the label of base image BaseIndex(i).
func (s *Synthetic) Label(i int) int { return s.base.Label(s.BaseIndex(i)) }

// Close closes the base set.
func (s *Synthetic) Close() error { return Close(s.base) }

// BaseIndex returns the index of the base image sample i is made from:
// with L = base.Len(), sample i is position i mod L of cycle i / L, and
// each cycle is a seeded permutation of the base indices (a keyed Feistel
// network, so nothing is stored). It panics if i is out of range.
func (s *Synthetic) BaseIndex(i int) int {
	if i < 0 || i >= s.n {
		panic(fmt.Sprintf("data.Synthetic: index %d out of range [0, %d)", i, s.n))
	}
	cycle, pos := uint64(i)/s.perm.n, uint64(i)%s.perm.n
	key := tensor.SplitMix64(tensor.SplitMix64(s.seed^saltSynthPerm) + cycle)
	return int(s.perm.apply(pos, key))
}

// Image writes sample i into dst; see Synthetic. It returns the base
// set's error if reading the base image fails.
func (s *Synthetic) Image(i int, dst []float32) error {
	c, h, w := s.c, s.h, s.w
	checkSample("Synthetic.Image", i, s.n, len(dst), c*h*w)
	b := s.BaseIndex(i)
	sc, _ := s.scratch.Get().(*synthScratch)
	if sc == nil {
		sc = &synthScratch{src: make([]float32, c*h*w)}
		if s.kern != nil {
			sc.field = make([]float32, 2*h*w)
			sc.tmp = make([]float32, 2*h*w)
		}
	}
	defer s.scratch.Put(sc)
	if err := s.base.Image(b, sc.src); err != nil {
		return fmt.Errorf("data: synthetic sample %d (base sample %d): %w", i, b, err)
	}
	o := s.opts
	if o.Tail > 0 {
		o = s.strengthen(s.Strength(i))
	}
	k := tensor.SplitMix64(tensor.SplitMix64(s.seed^saltSynthSample) ^ tensor.SplitMix64(uint64(i)))
	sc.pcg.Seed(k, tensor.SplitMix64(k^saltSynthStream))
	m := s.drawAffine(&sc.pcg, o)
	var field []float32
	if s.kern != nil {
		s.drawField(sc, float32(o.Alpha))
		field = sc.field
	}
	warp(dst, sc.src, c, h, w, m, field)
	return nil
}

// Strength returns the factor by which sample i's deformation magnitudes
// are scaled (before the caps; see SynthOptions.Tail): 1 if Tail is 0,
// else u^(-1/Tail) for u uniform in (0, 1] from a hash of (seed, i), a
// Pareto variate with minimum 1 and shape Tail, computed with portable
// arithmetic so it is bitwise the same on every platform (it may be +Inf
// for a tiny Tail). It panics if i is out of range.
func (s *Synthetic) Strength(i int) float64 {
	if i < 0 || i >= s.n {
		panic(fmt.Sprintf("data.Synthetic: index %d out of range [0, %d)", i, s.n))
	}
	if s.opts.Tail == 0 {
		return 1
	}
	k := tensor.SplitMix64(tensor.SplitMix64(s.seed^saltSynthTail) ^ tensor.SplitMix64(uint64(i)))
	u := float64(k>>11+1) * 0x1p-53
	return max(1, portableExp(-portableLog(u)/s.opts.Tail))
}

// strengthen returns the options scaled by strength st, capped; see
// SynthOptions.Tail.
func (s *Synthetic) strengthen(st float64) SynthOptions {
	o := s.opts
	px := float64(tailMaxPixels * max(s.h, s.w))
	o.Rotate = stretch(o.Rotate, st, tailMaxRotate)
	o.Scale = stretch(o.Scale, st, tailMaxScale)
	o.Shear = stretch(o.Shear, st, tailMaxShear)
	o.Translate = stretch(o.Translate, st, px)
	o.Alpha = stretch(o.Alpha, st, px)
	return o
}

// stretch returns v·st capped at hi, or v itself if it is 0 or already
// at least hi. st ≥ 1 may be +Inf.
func stretch(v, st, hi float64) float64 {
	if v == 0 || v >= hi {
		return v
	}
	return min(v*st, hi)
}

// portableLog returns ln x for x > 0 using only exact and correctly
// rounded operations (products rounded explicitly, as elsewhere), so,
// unlike math.Log, it gives the same bits on every platform. With
// x = m·2^e, m in [√½, √2), ln m = 2·atanh(z), z = (m-1)/(m+1), |z| < 0.172,
// whose series has converged to double precision after 12 terms.
func portableLog(x float64) float64 {
	m, e := math.Frexp(x)
	if m < math.Sqrt2/2 {
		m, e = 2*m, e-1
	}
	z := (m - 1) / (m + 1)
	z2 := float64(z * z)
	sum, term := 0.0, z
	for k := 1; k < 24; k += 2 {
		sum += term / float64(k)
		term = float64(term * z2)
	}
	return float64(2*sum) + float64(float64(e)*math.Ln2)
}

// portableExp returns e^x for x ≥ 0 (+Inf past the float64 range), like
// portableLog the same on every platform: e^x = 2^k·e^r with
// k = ⌊x/ln 2⌋ and r = x - k·ln 2 in about [0, ln 2), whose Taylor series
// has converged after 20 terms. ln 2 is split into ln2Hi, whose low 21
// bits are zero so that k·ln2Hi is exact for k ≤ 2000, and the rest ln2Lo.
func portableExp(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
	)
	k := math.Floor(x / math.Ln2)
	if k > 2000 {
		return math.Inf(1)
	}
	r := (x - float64(k*ln2Hi)) - float64(k*ln2Lo)
	sum, term := 1.0, 1.0
	for n := 1; n <= 20; n++ {
		term = float64(term*r) / float64(n)
		sum += term
	}
	return math.Ldexp(sum, int(k))
}

// sampleMap is the affine part of the sampling map: output pixel (x, y)
// reads the source at (m00 px + m01 py + ox, m10 px + m11 py + oy), with
// (px, py) = (x, y) minus the image centre.
type sampleMap struct {
	m00, m01, m10, m11 float32
	ox, oy             float32
}

// uniform returns a number uniform in [-1, 1) from g.
func uniform(g *rand.PCG) float64 {
	return float64(g.Uint64()>>11)*0x1p-52 - 1
}

// drawAffine draws the affine parameters of one sample with magnitudes o
// from g and returns the sampling map. The forward transform
// F = scale · rotate · shear maps the base image about its centre and a
// shift t follows, so the output at p reads the base at c + F⁻¹(p − c − t).
func (s *Synthetic) drawAffine(g *rand.PCG, o SynthOptions) sampleMap {
	theta := o.Rotate * math.Pi / 180 * uniform(g)
	scale := 1 + float64(o.Scale*uniform(g))
	shear := math.Tan(o.Shear * uniform(g))
	tx := o.Translate * uniform(g)
	ty := o.Translate * uniform(g)
	sin, cos := math.Sincos(theta)
	// F⁻¹ = shear⁻¹ · rotate⁻¹ / scale, shear⁻¹ = [1 -t; 0 1].
	a00, a01 := (cos+float64(shear*sin))/scale, (sin-float64(shear*cos))/scale
	a10, a11 := -sin/scale, cos/scale
	cx, cy := float64(s.w-1)/2, float64(s.h-1)/2
	return sampleMap{
		m00: float32(a00), m01: float32(a01), m10: float32(a10), m11: float32(a11),
		ox: float32(cx - (float64(a00*tx) + float64(a01*ty))),
		oy: float32(cy - (float64(a10*tx) + float64(a11*ty))),
	}
}

// drawField fills sc.field with the elastic displacements of one sample:
// h rows of [dx | dy], each alpha times the Gaussian blur (zero outside the
// image) of uniform noise in [-1, 1). The blur is separable, and both
// passes run as blurRows over whole rows: the noise is drawn transposed
// (w rows of [dx column | dy column]) and blurred along x into sc.tmp,
// transposed into sc.field, and blurred along y back into sc.tmp, which
// then swaps with sc.field.
func (s *Synthetic) drawField(sc *synthScratch, alpha float32) {
	h, w := s.h, s.w
	f, t := sc.field, sc.tmp
	for k := 0; k < len(f); k += 2 {
		u := sc.pcg.Uint64()
		// The top 24 bits of each half, as a float32 in [-1, 1).
		f[k] = float32(int32(u)>>8) * 0x1p-23
		f[k+1] = float32(int32(u>>32)>>8) * 0x1p-23
	}
	blurRows(t, f, w, 2*h, s.kern, 1)
	for x := range w {
		col := t[x*2*h : (x+1)*2*h]
		for y := range h {
			f[2*y*w+x] = col[y]
			f[(2*y+1)*w+x] = col[h+y]
		}
	}
	blurRows(t, f, h, 2*w, s.kern, alpha)
	sc.field, sc.tmp = t, f
}

// blurRows convolves src, n rows of width values, along the rows with
// the kernel g (taps -r..r) times scale, treating rows outside [0, n) as
// zero, into dst:
//
//	dst[y][x] = scale · Σ_{j=max(0,y-r)}^{min(n-1,y+r)} g[j-y+r] · src[j][x].
//
// Each output row is a sum of whole input rows, so the inner loop runs
// over contiguous memory without a dependency chain.
func blurRows(dst, src []float32, n, width int, g []float32, scale float32) {
	r := len(g) / 2
	for y := range n {
		out := dst[y*width : (y+1)*width]
		clear(out)
		lo, hi := max(0, y-r), min(n-1, y+r)
		j := lo
		for ; j+3 <= hi; j += 4 {
			g0, g1 := scale*g[j-y+r], scale*g[j+1-y+r]
			g2, g3 := scale*g[j+2-y+r], scale*g[j+3-y+r]
			a := src[j*width : (j+1)*width]
			b := src[(j+1)*width : (j+2)*width]
			c := src[(j+2)*width : (j+3)*width]
			d := src[(j+3)*width : (j+4)*width]
			a, b, c, d = a[:len(out)], b[:len(out)], c[:len(out)], d[:len(out)]
			for x := range out {
				out[x] += float32(g0*a[x]) + float32(g1*b[x]) + float32(g2*c[x]) + float32(g3*d[x])
			}
		}
		for ; j <= hi; j++ {
			g0 := scale * g[j-y+r]
			a := src[j*width : (j+1)*width]
			a = a[:len(out)]
			for x := range out {
				out[x] += float32(g0 * a[x])
			}
		}
	}
}

// warp resamples src (c×h×w) into dst through m plus, if field is not
// nil, the displacements in field (h rows of [dx | dy]), with bilinear
// interpolation, 0 outside src, and clamps to [0, 1]. With the identity
// map and no field it copies src exactly (of values in [0, 1]).
func warp(dst, src []float32, c, h, w int, m sampleMap, field []float32) {
	hw := h * w
	cx, cy := float32(w-1)/2, float32(h-1)/2
	fw, fh := float32(w), float32(h)
	for y := range h {
		py := float32(y) - cy
		bx := float32(m.m01*py) + m.ox
		by := float32(m.m11*py) + m.oy
		var dxs, dys []float32
		if field != nil {
			dxs, dys = field[2*y*w:(2*y+1)*w], field[(2*y+1)*w:(2*y+2)*w]
		}
		for x := range w {
			px := float32(x) - cx
			sx := float32(m.m00*px) + bx
			sy := float32(m.m10*px) + by
			if field != nil {
				sx += dxs[x]
				sy += dys[x]
			}
			k := y*w + x
			if !(sx > -1 && sx < fw && sy > -1 && sy < fh) {
				for ch := range c {
					dst[ch*hw+k] = 0
				}
				continue
			}
			x0, y0 := int(sx), int(sy) // truncation; make it floor
			if sx < float32(x0) {
				x0--
			}
			if sy < float32(y0) {
				y0--
			}
			fx, fy := sx-float32(x0), sy-float32(y0)
			inside := x0 >= 0 && y0 >= 0 && x0 < w-1 && y0 < h-1
			for ch := range c {
				p := src[ch*hw : (ch+1)*hw]
				var a, b, e, d float32
				if inside {
					o := y0*w + x0
					a, b, e, d = p[o], p[o+1], p[o+w], p[o+w+1]
				} else {
					a, b = pixel(p, w, h, x0, y0), pixel(p, w, h, x0+1, y0)
					e, d = pixel(p, w, h, x0, y0+1), pixel(p, w, h, x0+1, y0+1)
				}
				top := a + float32(fx*(b-a))
				bot := e + float32(fx*(d-e))
				v := top + float32(fy*(bot-top))
				if v < 0 {
					v = 0
				} else if v > 1 {
					v = 1
				}
				dst[ch*hw+k] = v
			}
		}
	}
}

// pixel returns p at (x, y), or 0 outside the w×h image.
func pixel(p []float32, w, h, x, y int) float32 {
	if x < 0 || y < 0 || x >= w || y >= h {
		return 0
	}
	return p[y*w+x]
}

// feistel is a keyed permutation of [0, n): a balanced 4-round Feistel
// network on 2·half bits (the smallest even width holding n-1), walked
// until it lands in [0, n) again ("cycle walking"). The domain is under
// 4n, so a call takes under 4 walks on average.
type feistel struct {
	n    uint64
	half uint
	mask uint64
}

// newFeistel returns the permutation of [0, n), n ≥ 1.
func newFeistel(n uint64) feistel {
	half := max(uint(bits.Len64(n-1)+1)/2, 1)
	return feistel{n: n, half: half, mask: 1<<half - 1}
}

// apply returns the image of x in [0, n) under the permutation named by key.
func (p feistel) apply(x, key uint64) uint64 {
	for {
		l, r := x>>p.half, x&p.mask
		for round := range uint64(4) {
			l, r = r, l^(tensor.SplitMix64(r^(key+round*0x9e3779b97f4a7c15))&p.mask)
		}
		x = l<<p.half | r
		if x < p.n {
			return x
		}
	}
}

// openSynth opens spec = "synth:" + arg, arg =
// BASE:N[:SEED][:tail=A][:deform=F]: a Synthetic pool of N samples over
// BASE's training split with DefaultSynthOptions (its magnitudes times F,
// see SynthOptions.Scaled, and Tail = A), and BASE's test split (nil if
// it has none). BASE may contain colons: trailing key=value fields (a key of
// lower-case letters) are options, then the last field is N, or the last
// two are N and SEED if both are unsigned integers.
func openSynth(spec, arg string) (train, test Dataset, err error) {
	const want = "want synth:BASE:N[:SEED][:tail=A][:deform=F]"
	f := strings.Split(arg, ":")
	opts := DefaultSynthOptions()
	seen := map[string]bool{}
	for len(f) > 1 {
		key, val, ok := strings.Cut(f[len(f)-1], "=")
		if !ok || !isOptionKey(key) {
			break
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("data: spec %q: option %s given twice; %s", spec, key, want)
		}
		seen[key] = true
		switch key {
		case "tail":
			a, err := strconv.ParseFloat(val, 64)
			if err != nil || !(a > 0) || math.IsInf(a, 0) {
				return nil, nil, fmt.Errorf("data: spec %q: tail %q is not a positive finite number; %s", spec, val, want)
			}
			opts.Tail = a
		case "deform":
			d, err := strconv.ParseFloat(val, 64)
			if err != nil || !(d >= 0) || math.IsInf(d, 0) {
				return nil, nil, fmt.Errorf("data: spec %q: deform %q is not a finite number ≥ 0; %s", spec, val, want)
			}
			opts = opts.Scaled(d)
		default:
			return nil, nil, fmt.Errorf("data: spec %q: unknown option %q (the options are tail=A and deform=F); %s", spec, key, want)
		}
		f = f[:len(f)-1]
	}
	isUint := func(s string) bool { _, err := strconv.ParseUint(s, 10, 64); return err == nil }
	var base, ns, seeds string
	switch {
	case len(f) >= 3 && isUint(f[len(f)-1]) && isUint(f[len(f)-2]):
		base, ns, seeds = strings.Join(f[:len(f)-2], ":"), f[len(f)-2], f[len(f)-1]
	case len(f) >= 2:
		base, ns = strings.Join(f[:len(f)-1], ":"), f[len(f)-1]
	default:
		return nil, nil, fmt.Errorf("data: spec %q: no sample count; %s", spec, want)
	}
	if base == "" {
		return nil, nil, fmt.Errorf("data: spec %q: no base dataset; %s", spec, want)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return nil, nil, fmt.Errorf("data: spec %q: N %q is not a positive integer; %s", spec, ns, want)
	}
	var seed uint64
	if seeds != "" {
		seed, _ = strconv.ParseUint(seeds, 10, 64) // checked by isUint
	}
	tr, te, err := Open(base)
	if err != nil {
		return nil, nil, fmt.Errorf("data: spec %q: %w", spec, err)
	}
	syn, err := NewSynthetic(tr, n, seed, opts)
	if err != nil {
		Close(tr)
		if te != nil {
			Close(te)
		}
		return nil, nil, fmt.Errorf("data: spec %q: %w", spec, err)
	}
	return syn, te, nil
}

// isOptionKey reports whether k can be the key of a synth option: one or
// more lower-case ASCII letters. Fields like "/a=b.npz" are not options.
func isOptionKey(k string) bool {
	for _, r := range k {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return k != ""
}
