package data

import (
	"errors"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

// blobSet returns n c×h×w images, each a soft ring (a digit-like stroke)
// of random radius, centred within 3 px of the image centre, with labels
// i mod 10. Channel ch is dimmed by 1/(ch+1) so channels differ.
func blobSet(t testing.TB, n, c, h, w int) Dataset {
	t.Helper()
	x := tensor.New(n, c, h, w)
	d := x.Data()
	y := make([]int, n)
	for i := range n {
		r := tensor.SplitMix64(uint64(i) + 77)
		ox, oy := float64(r%7)-3, float64(r>>8%7)-3
		rad := 4 + float64(r>>16%5)
		cx, cy := float64(w-1)/2+ox, float64(h-1)/2+oy
		for ch := range c {
			for yy := range h {
				for xx := range w {
					dist := math.Hypot(float64(xx)-cx, float64(yy)-cy)
					v := 1 - math.Abs(dist-rad)/2 // a stroke 4 px wide
					d[((i*c+ch)*h+yy)*w+xx] = float32(max(0, v) / float64(ch+1))
				}
			}
		}
		y[i] = i % 10
	}
	ds, err := FromTensor(x, y, 10)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// newSynth returns NewSynthetic's pool, failing the test on error.
func newSynth(t testing.TB, base Dataset, n int, seed uint64, o SynthOptions) *Synthetic {
	t.Helper()
	s, err := NewSynthetic(base, n, seed, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameBits reports whether a and b are bitwise equal.
func sameBits(a, b []float32) bool {
	for k := range a {
		if math.Float32bits(a[k]) != math.Float32bits(b[k]) {
			return false
		}
	}
	return len(a) == len(b)
}

func TestSyntheticReproducible(t *testing.T) {
	base := blobSet(t, 13, 2, 12, 10)
	const n = 60
	ref := make([][]float32, n)
	s := newSynth(t, base, n, 5, DefaultSynthOptions())
	for i := range n {
		ref[i] = image(t, s, i)
	}
	// A fresh pool, read backwards, then by 4 goroutines in interleaved
	// strides, must give the same bits.
	s2 := newSynth(t, base, n, 5, DefaultSynthOptions())
	for i := n - 1; i >= 0; i-- {
		if got := image(t, s2, i); !sameBits(got, ref[i]) {
			t.Fatalf("sample %d differs when read backwards", i)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*n)
	for g := range 4 {
		wg.Go(func() {
			dst := make([]float32, 2*12*10)
			for rep := range 3 {
				for k := range n {
					i := (k*7 + g*11 + rep) % n
					if err := s2.Image(i, dst); err != nil {
						errs <- err.Error()
						return
					}
					if !sameBits(dst, ref[i]) {
						errs <- "concurrent read of a sample differs"
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestSyntheticDiffers(t *testing.T) {
	base := blobSet(t, 5, 1, 28, 28)
	a := newSynth(t, base, 50, 1, DefaultSynthOptions())
	b := newSynth(t, base, 50, 2, DefaultSynthOptions())
	// Two samples of one pool made from the same base image differ.
	byBase := map[int]int{}
	pairs := 0
	for i := range a.Len() {
		if j, ok := byBase[a.BaseIndex(i)]; ok {
			if sameBits(image(t, a, i), image(t, a, j)) {
				t.Errorf("samples %d and %d (base %d) are equal", i, j, a.BaseIndex(i))
			}
			pairs++
		}
		byBase[a.BaseIndex(i)] = i
	}
	if pairs == 0 {
		t.Fatal("no two samples share a base image")
	}
	// Other seeds: other base orders and other images.
	sameOrder, sameImage := 0, 0
	for i := range a.Len() {
		if a.BaseIndex(i) == b.BaseIndex(i) {
			sameOrder++
			if sameBits(image(t, a, i), image(t, b, i)) {
				sameImage++
			}
		}
	}
	if sameOrder == a.Len() || sameImage > 0 {
		t.Errorf("seeds 1 and 2: %d/%d same base indices, %d same images", sameOrder, a.Len(), sameImage)
	}
}

func TestSyntheticValuesAndLabels(t *testing.T) {
	base := blobSet(t, 11, 3, 9, 14)
	// Strong deformations push much of the image outside the frame.
	o := SynthOptions{Rotate: 180, Scale: 0.5, Shear: 1, Translate: 5, Alpha: 80, Sigma: 2}
	for _, opts := range []SynthOptions{DefaultSynthOptions(), o} {
		s := newSynth(t, base, 40, 9, opts)
		if s.Len() != 40 || s.Classes() != 10 {
			t.Fatalf("Len %d, Classes %d; want 40, 10", s.Len(), s.Classes())
		}
		if c, h, w := s.Shape(); c != 3 || h != 9 || w != 14 {
			t.Fatalf("Shape %d×%d×%d, want 3×9×14", c, h, w)
		}
		for i := range s.Len() {
			if got, want := s.Label(i), base.Label(s.BaseIndex(i)); got != want {
				t.Fatalf("Label(%d) = %d, base label %d", i, got, want)
			}
			for k, v := range image(t, s, i) {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("sample %d element %d = %v, not in [0, 1]", i, k, v)
				}
			}
		}
	}
}

func TestSyntheticBalance(t *testing.T) {
	for _, l := range []int{1, 2, 3, 4, 5, 17, 64, 65, 1000} {
		base := blobSet(t, l, 1, 2, 2)
		cycles := 5
		n := cycles*l + l/2 + 1
		s := newSynth(t, base, n, uint64(l), SynthOptions{})
		count := make([]int, l)
		moved := 0
		for i := range n {
			b := s.BaseIndex(i)
			if b < 0 || b >= l {
				t.Fatalf("L=%d: BaseIndex(%d) = %d, out of range", l, i, b)
			}
			count[b]++
			if b != i%l {
				moved++
			}
			if i%l == l-1 { // a whole cycle: a permutation
				for j, c := range count {
					if c != i/l+1 {
						t.Fatalf("L=%d: after cycle %d, base %d used %d times", l, i/l, j, c)
					}
				}
			}
		}
		for j, c := range count {
			if c != cycles && c != cycles+1 {
				t.Errorf("L=%d, n=%d: base %d used %d times, want %d or %d", l, n, j, c, cycles, cycles+1)
			}
		}
		if l >= 17 && moved < n/2 {
			t.Errorf("L=%d: only %d of %d samples off the identity order", l, moved, n)
		}
	}
}

func TestSyntheticIdentity(t *testing.T) {
	// Zero magnitudes: the warp path must reproduce each base image bit
	// for bit, on a non-square multi-channel image.
	x := tensor.New(6, 3, 5, 7)
	for k, v := range pattern(x.Len(), 4) {
		x.Data()[k] = float32(v) / 255
	}
	x.Data()[0], x.Data()[1] = 0, 1
	base, err := FromTensor(x, []int{0, 1, 2, 0, 1, 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := newSynth(t, base, 20, 3, SynthOptions{})
	for i := range s.Len() {
		if got, want := image(t, s, i), image(t, base, s.BaseIndex(i)); !sameBits(got, want) {
			t.Fatalf("sample %d is not base image %d", i, s.BaseIndex(i))
		}
	}
}

func TestWarpGeometry(t *testing.T) {
	const c, h, w = 2, 6, 6
	src := make([]float32, c*h*w)
	for k := range src {
		src[k] = float32(k%97) / 96
	}
	at := func(p []float32, ch, y, x int) float32 { return p[(ch*h+y)*w+x] }
	cx := float32(w-1) / 2
	dst := make([]float32, len(src))

	// A map shifted by +1 in x reads the pixel to the right: the image
	// moves one pixel left, with a zero column entering.
	warp(dst, src, c, h, w, sampleMap{m00: 1, m11: 1, ox: cx + 1, oy: cx}, nil)
	for ch := range c {
		for y := range h {
			for x := range w {
				want := float32(0)
				if x+1 < w {
					want = at(src, ch, y, x+1)
				}
				if got := at(dst, ch, y, x); got != want {
					t.Fatalf("shift: (%d,%d,%d) = %v, want %v", ch, y, x, got, want)
				}
			}
		}
	}
	// Reading (cx+py, cy-px) is a quarter turn: dst[y][x] = src[w-1-x][y].
	warp(dst, src, c, h, w, sampleMap{m01: 1, m10: -1, ox: cx, oy: cx}, nil)
	for ch := range c {
		for y := range h {
			for x := range w {
				if got, want := at(dst, ch, y, x), at(src, ch, w-1-x, y); got != want {
					t.Fatalf("rotation: (%d,%d,%d) = %v, want %v", ch, y, x, got, want)
				}
			}
		}
	}
	// A constant field of half a pixel averages neighbours.
	field := make([]float32, 2*h*w)
	for y := range h {
		for x := range w {
			field[2*y*w+x] = 0.5
		}
	}
	warp(dst, src, c, h, w, sampleMap{m00: 1, m11: 1, ox: cx, oy: cx}, field)
	for y := range h {
		for x := range w - 1 {
			want := (at(src, 1, y, x) + at(src, 1, y, x+1)) / 2
			if got := at(dst, 1, y, x); math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("half-pixel field: (1,%d,%d) = %v, want %v", y, x, got, want)
			}
		}
	}
}

// centroid returns the intensity-weighted centre of channel 0 of img.
func centroid(img []float32, h, w int) (cx, cy float64) {
	var m float64
	for y := range h {
		for x := range w {
			v := float64(img[y*w+x])
			m += v
			cx += v * float64(x)
			cy += v * float64(y)
		}
	}
	return cx / m, cy / m
}

func TestSyntheticMagnitude(t *testing.T) {
	const n, h, w = 200, 28, 28
	base := blobSet(t, 20, 1, h, w)
	for _, tc := range []struct {
		name           string
		opts           SynthOptions
		maxShift       float64 // bound on any centroid shift, pixels
		minMAD, maxMAD float64 // bounds on the mean |synthetic - base|
	}{
		{"default", DefaultSynthOptions(), 5, 0.02, 0.25},
		{"translate", SynthOptions{Translate: 2}, 2*math.Sqrt2 + 0.1, 0.02, 0.25},
		{"elastic", SynthOptions{Alpha: 34, Sigma: 4}, 4, 0.01, 0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSynth(t, base, n, 1, tc.opts)
			var mad, meanShift float64
			for i := range n {
				img, ref := image(t, s, i), image(t, base, s.BaseIndex(i))
				for k := range img {
					mad += math.Abs(float64(img[k] - ref[k]))
				}
				x1, y1 := centroid(img, h, w)
				x0, y0 := centroid(ref, h, w)
				d := math.Hypot(x1-x0, y1-y0)
				if d > tc.maxShift {
					t.Errorf("%s: sample %d: centroid moved %.2f px, want ≤ %.2f", tc.name, i, d, tc.maxShift)
				}
				meanShift += d / n
			}
			mad /= n * h * w
			if mad < tc.minMAD || mad > tc.maxMAD {
				t.Errorf("%s: mean |synthetic - base| = %.4f, want in [%g, %g]", tc.name, mad, tc.minMAD, tc.maxMAD)
			}
			t.Logf("%s: mean |Δ| %.4f, mean centroid shift %.2f px", tc.name, mad, meanShift)
		})
	}
}

func TestSyntheticFieldRMS(t *testing.T) {
	// With σ = 4, α = 34 the displacement away from the borders has an
	// RMS of about 34 · √(1/3) · Σg² ≈ 1.38 px per axis.
	base := blobSet(t, 1, 1, 28, 28)
	s := newSynth(t, base, 1, 0, SynthOptions{Alpha: 34, Sigma: 4})
	sc := &synthScratch{field: make([]float32, 2*28*28), tmp: make([]float32, 2*28*28)}
	var sum float64
	cnt := 0
	for i := range 50 {
		sc.pcg.Seed(uint64(i), 1)
		s.drawField(sc, 34)
		for y := 12; y < 16; y++ {
			for x := 12; x < 16; x++ {
				for _, v := range []float32{sc.field[2*y*28+x], sc.field[(2*y+1)*28+x]} {
					sum += float64(v) * float64(v)
					cnt++
				}
			}
		}
	}
	if rms := math.Sqrt(sum / float64(cnt)); rms < 1 || rms > 1.8 {
		t.Errorf("RMS displacement at the centre = %.3f px, want about 1.38", rms)
	}
}

func TestGaussKernel(t *testing.T) {
	g := gaussKernel(4, 27)
	if len(g) != 25 {
		t.Fatalf("σ=4: %d taps, want 25", len(g))
	}
	var sum float64
	for k := range g {
		sum += float64(g[k])
		if g[k] != g[len(g)-1-k] || (k > 0 && k <= 12 && g[k] < g[k-1]) {
			t.Fatalf("σ=4: taps not symmetric and unimodal: %v", g)
		}
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("σ=4: taps sum to %v", sum)
	}
	if g := gaussKernel(0, 27); len(g) != 1 || g[0] != 1 {
		t.Errorf("σ=0: %v, want [1]", g)
	}
	if g := gaussKernel(1e300, 27); len(g) != 55 {
		t.Errorf("huge σ: %d taps, want 55 (capped)", len(g))
	}
}

func TestSyntheticGolden(t *testing.T) {
	// Pools are named by (spec, seed) and sample indices are stored in
	// score files, so the generator's output must not change silently
	// between versions or architectures. If a change is intended, update
	// the hash and say so.
	base := goldenBase(t)
	s := newSynth(t, base, 1000, 42, DefaultSynthOptions())
	hsh := fnv.New64a()
	var buf [4]byte
	for _, i := range []int{0, 1, 2, 6, 7, 500, 999} {
		for _, v := range image(t, s, i) {
			b := math.Float32bits(v)
			buf[0], buf[1], buf[2], buf[3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
			hsh.Write(buf[:])
		}
		buf[0] = byte(s.BaseIndex(i))
		hsh.Write(buf[:1])
	}
	const want = 0xabffcf07d7de8c2
	if got := hsh.Sum64(); got != want {
		t.Errorf("hash of samples = %#x, want %#x", got, uint64(want))
	}
}

func TestNewSyntheticErrors(t *testing.T) {
	base := blobSet(t, 3, 1, 4, 4)
	empty, _ := Subset(base, nil)
	d := DefaultSynthOptions()
	with := func(f func(*SynthOptions)) SynthOptions { o := d; f(&o); return o }
	for _, tc := range []struct {
		base Dataset
		n    int
		opts SynthOptions
		want string
	}{
		{base, 0, d, "n = 0"},
		{base, -3, d, "n = -3"},
		{empty, 10, d, "empty"},
		{base, 1, with(func(o *SynthOptions) { o.Sigma = -1 }), "Sigma = -1"},
		{base, 1, with(func(o *SynthOptions) { o.Alpha = math.NaN() }), "Alpha = NaN"},
		{base, 1, with(func(o *SynthOptions) { o.Translate = math.Inf(1) }), "Translate = +Inf"},
		{base, 1, with(func(o *SynthOptions) { o.Rotate = 181 }), "Rotate = 181"},
		{base, 1, with(func(o *SynthOptions) { o.Scale = 1 }), "Scale = 1"},
		{base, 1, with(func(o *SynthOptions) { o.Shear = -0.1 }), "Shear = -0.1"},
		{base, 1, with(func(o *SynthOptions) { o.Shear = 2 }), "Shear = 2"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := NewSynthetic(tc.base, tc.n, 0, tc.opts)
			wantErr(t, err, "data.NewSynthetic", tc.want)
		})
	}
}

func TestSyntheticBaseError(t *testing.T) {
	// One base image, which fails (failSet is in batch_test.go).
	s := newSynth(t, &failSet{Dataset: blobSet(t, 1, 1, 4, 4)}, 5, 0, DefaultSynthOptions())
	err := s.Image(4, make([]float32, 16))
	wantErr(t, err, "synthetic sample 4", "disk on fire")
	if !errors.Is(err, errFail) {
		t.Errorf("error %v does not wrap the base error", err)
	}
	testutil.CheckPanic(t, func() { s.Image(5, make([]float32, 16)) }, "data.Synthetic.Image", "index 5 out of range [0, 5)")
}

func TestSyntheticNoAllocs(t *testing.T) {
	s := newSynth(t, blobSet(t, 4, 1, 28, 28), 100, 0, DefaultSynthOptions())
	dst := make([]float32, 28*28)
	s.Image(0, dst)
	i := 0
	if a := testing.AllocsPerRun(50, func() { s.Image(i%100, dst); i++ }); a != 0 {
		t.Errorf("Image allocates %v times per call", a)
	}
}

func TestOpenSynth(t *testing.T) {
	root := t.TempDir()
	t.Setenv("BULWARK_DATA", root)
	dir := filepath.Join(root, "mnist")
	os.MkdirAll(dir, 0o755)
	writeFile(t, dir, "train-images-idx3-ubyte.gz", gz(idxBytes([]int{3, 28, 28}, pattern(3*784, 1))))
	writeFile(t, dir, "train-labels-idx1-ubyte.gz", gz(idxBytes([]int{3}, []byte{1, 2, 3})))
	writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gz(idxBytes([]int{2, 28, 28}, pattern(2*784, 1))))
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(idxBytes([]int{2}, []byte{4, 5})))

	train, test, err := Open("synth:mnist:100")
	if err != nil {
		t.Fatal(err)
	}
	s, ok := train.(*Synthetic)
	if !ok || s.Len() != 100 || test == nil || test.Len() != 2 {
		t.Fatalf("synth:mnist:100: train %T (%d samples), test %v", train, train.Len(), test)
	}
	for i := range s.Len() {
		if s.Label(i) != s.BaseIndex(i)+1 {
			t.Fatalf("sample %d: label %d, base index %d", i, s.Label(i), s.BaseIndex(i))
		}
	}
	s7, _, err := Open("synth:mnist:100:7")
	if err != nil {
		t.Fatal(err)
	}
	ref := newSynth(t, s.base, 100, 7, DefaultSynthOptions())
	if !sameBits(image(t, s7, 3), image(t, ref, 3)) || sameBits(image(t, s7, 3), image(t, s, 3)) {
		t.Error("synth:mnist:100:7 is not the seed-7 pool")
	}

	// A base spec with colons of its own, and a numeric-looking file name.
	xdir := t.TempDir()
	np := writeFile(t, xdir, "12.npz", npzBytes(t,
		zipMember{"image.npy", npyBytes([]int{2, 2, 2, 3}, pattern(24, 1)), 0},
		zipMember{"label.npy", npyBytes([]int{2}, []int64{0, 1}), 0}))
	train, test, err = Open("synth:npz:" + np + ":50:3")
	if err != nil || train.Len() != 50 || test != nil {
		t.Fatalf("synth over npz: %v", err)
	}
	if c, h, w := train.Shape(); c != 3 || h != 2 || w != 2 {
		t.Errorf("synth over npz: shape %d×%d×%d, want 3×2×2", c, h, w)
	}
	if err := Close(train); err != nil {
		t.Error(err)
	}

	if !strings.Contains(Specs, "synth:BASE:N[:SEED]") {
		t.Errorf("Specs %q does not list synth", Specs)
	}
	checkOpenErrors(t, strings.NewReplacer(filepath.Join(xdir, "none.npz"), "none.npz"), []openError{
		{"synth:", "unknown dataset spec"},
		{"synth:mnist", "no sample count"},
		{"synth::10", "no base dataset"},
		{"synth:mnist:0", `N "0"`},
		{"synth:mnist:-5", `N "-5"`},
		{"synth:mnist:1e6", `N "1e6"`},
		{"synth:mnist:10:x", `N "x"`},
		{"synth:mnist:99999999999999999999", `N "99999999999999999999"`},
		{"synth:imagenet:10", `"imagenet"`},
		{"synth:npz:" + filepath.Join(xdir, "none.npz") + ":10", "none.npz"},
	})
	for _, spec := range []string{"synth:mnist:10", "synth:mnist:10:20"} {
		t.Setenv("BULWARK_DATA", t.TempDir())
		t.Setenv("GOMODCACHE", t.TempDir())
		_, _, err := Open(spec)
		wantErr(t, err, `"`+spec+`"`, "make data")
	}
}

func TestSyntheticTail(t *testing.T) {
	base := blobSet(t, 7, 1, 28, 28)
	d := DefaultSynthOptions()
	tailed := d
	tailed.Tail = 3

	// Tail = 0: strength 1 and the samples of a pool without Tail.
	plain := newSynth(t, base, 50, 11, d)
	for i := range plain.Len() {
		if st := plain.Strength(i); st != 1 {
			t.Fatalf("Tail 0: Strength(%d) = %v, want 1", i, st)
		}
	}

	// Tail = 3: Pareto strengths, deterministic per (seed, i).
	const n = 20000
	s := newSynth(t, base, n, 11, tailed)
	again := newSynth(t, base, n, 11, tailed)
	other := newSynth(t, base, n, 12, tailed)
	above2, above4, sameSeed12 := 0, 0, 0
	for i := range n {
		st := s.Strength(i)
		if !(st >= 1) || math.IsInf(st, 0) {
			t.Fatalf("Strength(%d) = %v, want finite ≥ 1", i, st)
		}
		if again.Strength(i) != st {
			t.Fatalf("Strength(%d) differs between two equal pools", i)
		}
		if other.Strength(i) == st {
			sameSeed12++
		}
		if st > 2 {
			above2++
		}
		if st > 4 {
			above4++
		}
	}
	// Expected 12.5% (sd 0.23%) and 1.56% (sd 0.09%).
	if f := float64(above2) / n; f < 0.11 || f > 0.14 {
		t.Errorf("share of strengths above 2 = %.4f, want about 0.125", f)
	}
	if f := float64(above4) / n; f < 0.011 || f > 0.021 {
		t.Errorf("share of strengths above 4 = %.4f, want about 0.0156", f)
	}
	if sameSeed12 > 10 {
		t.Errorf("seeds 11 and 12 share %d strengths", sameSeed12)
	}

	// The tail leaves the base order alone, deforms a strong sample more
	// than the same sample without it, and keeps values in [0, 1].
	small := newSynth(t, base, 200, 11, tailed)
	ref := newSynth(t, base, 200, 11, d)
	strong := 0
	for i := range small.Len() {
		if small.BaseIndex(i) != ref.BaseIndex(i) || small.Label(i) != ref.Label(i) {
			t.Fatalf("sample %d: the tail changed the base image", i)
		}
		img := image(t, small, i)
		for k, v := range img {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("sample %d element %d = %v", i, k, v)
			}
		}
		same := sameBits(img, image(t, ref, i))
		if st := small.Strength(i); st > 1 && same {
			t.Fatalf("sample %d of strength %v equals the sample without the tail", i, st)
		}
		if small.Strength(i) > 2 {
			strong++
		}
	}
	if strong == 0 {
		t.Fatal("no sample of strength above 2 among 200")
	}
}

func TestSyntheticTailMagnitude(t *testing.T) {
	// Samples of strength above 3 move further from their base image, on
	// average, than the same samples without the tail.
	const h, w = 28, 28
	base := blobSet(t, 20, 1, h, w)
	d := DefaultSynthOptions()
	tailed := d
	tailed.Tail = 3
	s := newSynth(t, base, 2000, 5, tailed)
	ref := newSynth(t, base, 2000, 5, d)
	var madTail, madRef float64
	cnt := 0
	for i := range s.Len() {
		if s.Strength(i) <= 3 {
			continue
		}
		b := image(t, base, s.BaseIndex(i))
		for k, v := range image(t, s, i) {
			madTail += math.Abs(float64(v - b[k]))
		}
		for k, v := range image(t, ref, i) {
			madRef += math.Abs(float64(v - b[k]))
		}
		cnt++
	}
	if cnt < 20 || madTail < 1.3*madRef {
		t.Errorf("%d samples of strength > 3: mean |Δ| %.4f with the tail, %.4f without", cnt, madTail/float64(cnt*h*w), madRef/float64(cnt*h*w))
	}
}

func TestStrengthen(t *testing.T) {
	o := SynthOptions{Rotate: 15, Scale: 0.1, Shear: 0.2, Translate: 2, Alpha: 34, Sigma: 4, Tail: 1}
	s := newSynth(t, blobSet(t, 2, 1, 10, 12), 5, 0, o)
	got := s.strengthen(2)
	want := SynthOptions{Rotate: 30, Scale: 0.2, Shear: 0.4, Translate: 4, Alpha: 68, Sigma: 4, Tail: 1}
	if got != want {
		t.Errorf("strength 2: %+v, want %+v", got, want)
	}
	for _, st := range []float64{1e3, 1e300, math.Inf(1)} {
		got := s.strengthen(st)
		want := SynthOptions{Rotate: 180, Scale: 0.9, Shear: 1.2, Translate: 1200, Alpha: 1200, Sigma: 4, Tail: 1}
		if got != want {
			t.Errorf("strength %g: %+v, want the caps %+v", st, got, want)
		}
		if err := got.validate(); err != nil {
			t.Errorf("strength %g: %v", st, err)
		}
	}
	// An option already above its cap keeps its value; 0 stays 0.
	s = newSynth(t, blobSet(t, 2, 1, 10, 12), 5, 0, SynthOptions{Scale: 0.95, Shear: 1.5, Tail: 1})
	if got := s.strengthen(math.Inf(1)); got.Scale != 0.95 || got.Shear != 1.5 || got.Rotate != 0 || got.Alpha != 0 {
		t.Errorf("strengthen(+Inf) = %+v", got)
	}
	// A tiny Tail gives infinite strengths, which must not break a sample.
	s = newSynth(t, blobSet(t, 2, 1, 10, 12), 50, 0, SynthOptions{Rotate: 10, Translate: 1, Alpha: 5, Sigma: 2, Tail: 0.001})
	inf := 0
	for i := range s.Len() {
		if math.IsInf(s.Strength(i), 1) {
			inf++
		}
		for _, v := range image(t, s, i) {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("Tail 0.001: sample %d has value %v", i, v)
			}
		}
	}
	if inf == 0 {
		t.Error("Tail 0.001: no infinite strength among 50")
	}
	for _, tail := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := NewSynthetic(blobSet(t, 2, 1, 4, 4), 5, 0, SynthOptions{Tail: tail})
		wantErr(t, err, "data.NewSynthetic", "Tail")
	}
}

func TestPortableLogExp(t *testing.T) {
	for _, x := range []float64{1, 0x1p-53, 1e-300, 0.1, 0.5, 0.70710678, 0.7071068, 0.999999, 1 - 0x1p-53, 2, 1e10} {
		if got, want := portableLog(x), math.Log(x); !testutil.Near(got, want, 4e-16) {
			t.Errorf("portableLog(%g) = %.17g, math.Log %.17g", x, got, want)
		}
	}
	if portableLog(1) != 0 || portableLog(1-0x1p-53) >= 0 {
		t.Error("portableLog is not 0 at 1 and negative below")
	}
	for _, x := range []float64{0, 1e-12, 0.3, 0.6931471805599453, 1, 5, 36.7, 200, 700} {
		if got, want := portableExp(x), math.Exp(x); math.Abs(got-want) > 4e-15*want {
			t.Errorf("portableExp(%g) = %.17g, math.Exp %.17g", x, got, want)
		}
	}
	if portableExp(0) != 1 || !math.IsInf(portableExp(800), 1) || !math.IsInf(portableExp(1e300), 1) {
		t.Error("portableExp: wrong at 0 or past the float64 range")
	}
}

func TestSyntheticTailGolden(t *testing.T) {
	// Like TestSyntheticGolden, with Tail: the strengths and the samples
	// they scale are part of a pool's definition and must be the same
	// on every platform.
	base := goldenBase(t)
	o := DefaultSynthOptions()
	o.Tail = 3
	s := newSynth(t, base, 1000, 42, o)
	hsh := fnv.New64a()
	var buf [8]byte
	for i := range 100 {
		b := math.Float64bits(s.Strength(i))
		for k := range buf {
			buf[k] = byte(b >> (8 * k))
		}
		hsh.Write(buf[:])
	}
	var strong []int
	for i := 0; len(strong) < 3; i++ {
		if s.Strength(i) > 2 {
			strong = append(strong, i)
		}
	}
	for _, i := range append(strong, 0, 1, 999) {
		for _, v := range image(t, s, i) {
			b := math.Float32bits(v)
			buf[0], buf[1], buf[2], buf[3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
			hsh.Write(buf[:4])
		}
	}
	const want = 0x2446497b90e5b59d
	if got := hsh.Sum64(); got != want {
		t.Errorf("hash of strengths and samples = %#x, want %#x (strong samples %v)", got, uint64(want), strong)
	}
}

func TestOpenSynthOptions(t *testing.T) {
	np := writeFile(t, t.TempDir(), "t.npz", npzBytes(t,
		zipMember{"image.npy", npyBytes([]int{2, 8, 8, 1}, pattern(128, 1)), 0},
		zipMember{"label.npy", npyBytes([]int{2}, []int64{0, 1}), 0}))
	def := DefaultSynthOptions()
	half := SynthOptions{Rotate: def.Rotate / 2, Scale: def.Scale / 2, Shear: def.Shear / 2,
		Translate: def.Translate / 2, Alpha: def.Alpha / 2, Sigma: def.Sigma}
	for _, tc := range []struct {
		spec string
		seed uint64
		opts SynthOptions
	}{
		{"synth:npz:" + np + ":40:tail=3", 0, SynthOptions{Rotate: 15, Scale: 0.1, Shear: 0.2, Translate: 2, Alpha: 34, Sigma: 4, Tail: 3}},
		{"synth:npz:" + np + ":40:7:tail=0.5", 7, def.withTail(0.5)},
		{"synth:npz:" + np + ":40:7:tail=2e0", 7, def.withTail(2)},
		{"synth:npz:" + np + ":40:7", 7, def},
		{"synth:npz:" + np + ":40:deform=0.5", 0, half},
		{"synth:npz:" + np + ":40:7:deform=0.5:tail=3", 7, half.withTail(3)},
		{"synth:npz:" + np + ":40:tail=3:deform=0.5", 0, half.withTail(3)},
		{"synth:npz:" + np + ":40:deform=1", 0, def},
		{"synth:npz:" + np + ":40:deform=0", 0, SynthOptions{Sigma: def.Sigma}},
	} {
		t.Run(strings.ReplaceAll(tc.spec, np, "NPZ"), func(t *testing.T) {
			train, _, err := Open(tc.spec)
			if err != nil {
				t.Fatalf("%s: %v", tc.spec, err)
			}
			s := train.(*Synthetic)
			if s.opts != tc.opts || s.seed != tc.seed || s.Len() != 40 {
				t.Errorf("%s: opts %+v seed %d n %d; want %+v, %d, 40", tc.spec, s.opts, s.seed, s.Len(), tc.opts, tc.seed)
			}
			Close(train)
		})
	}
	// deform=0 leaves every sample its base image.
	train, _, err := Open("synth:npz:" + np + ":6:deform=0")
	if err != nil {
		t.Fatal(err)
	}
	got, want := make([]float32, 64), make([]float32, 64)
	s := train.(*Synthetic)
	for i := range s.Len() {
		if err := s.Image(i, got); err != nil {
			t.Fatal(err)
		}
		if err := s.base.Image(s.BaseIndex(i), want); err != nil {
			t.Fatal(err)
		}
		if !sameBits(got, want) {
			t.Errorf("deform=0: sample %d differs from its base image %d", i, s.BaseIndex(i))
		}
	}
	Close(train)
	if !strings.Contains(Specs, "synth:BASE:N[:SEED][:tail=A][:deform=F]") {
		t.Errorf("Specs %q does not list tail=A and deform=F", Specs)
	}
	checkOpenErrors(t, strings.NewReplacer(np, "NPZ"), []openError{
		{"synth:npz:" + np + ":40:tail=0", `tail "0"`},
		{"synth:npz:" + np + ":40:tail=-1", `tail "-1"`},
		{"synth:npz:" + np + ":40:tail=inf", `tail "inf"`},
		{"synth:npz:" + np + ":40:tail=NaN", `tail "NaN"`},
		{"synth:npz:" + np + ":40:tail=", `tail ""`},
		{"synth:npz:" + np + ":40:tail=x", `tail "x"`},
		{"synth:npz:" + np + ":40:tail=3:tail=3", "given twice"},
		{"synth:npz:" + np + ":40:deform=-1", `deform "-1"`},
		{"synth:npz:" + np + ":40:deform=inf", `deform "inf"`},
		{"synth:npz:" + np + ":40:deform=NaN", `deform "NaN"`},
		{"synth:npz:" + np + ":40:deform=x", `deform "x"`},
		{"synth:npz:" + np + ":40:deform=20", "Rotate = 300"},
		{"synth:npz:" + np + ":40:deform=1:deform=1", "given twice"},
		{"synth:npz:" + np + ":40:alpha=3", `unknown option "alpha"`},
		{"synth:npz:" + np + ":40:7:alpha=3", `unknown option "alpha"`},
		{"synth:npz:" + np + ":tail=3", `N "`},
		{"synth:mnist:tail=3", "no sample count"},
		{"synth:tail=3", "no sample count"},
	})
}

// withTail returns o with Tail t.
func (o SynthOptions) withTail(t float64) SynthOptions {
	o.Tail = t
	return o
}

// goldenBase is the base set of the golden tests: seven fixed 28×28
// images.
func goldenBase(t *testing.T) Dataset {
	t.Helper()
	x := tensor.New(7, 1, 28, 28)
	for k, v := range pattern(x.Len(), 9) {
		x.Data()[k] = float32(v) / 255
	}
	base, err := FromTensor(x, make([]int, 7), 1)
	if err != nil {
		t.Fatal(err)
	}
	return base
}
