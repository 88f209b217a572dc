package data

import (
	"archive/zip"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

// TestNonFinitePixels: a NaN or infinite pixel in a float image file is an
// error naming the file, the sample and the pixel when the sample is read,
// through Image, Open and a Batcher; other samples still read.
func TestNonFinitePixels(t *testing.T) {
	dir := t.TempDir()
	yp := filepath.Join(dir, "y.npy")
	if err := WriteNpy(yp, []int{4}, []int64{0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	// 4 samples of 3×3×2 (NCHW); sample 2, channel 1, row 0, column 1 is
	// element 2*18 + 1*6 + 0*2 + 1 = 43.
	x := make([]float32, 4*18)
	for i := range x {
		x[i] = float32(i) / 72
	}
	for _, c := range []struct {
		name string
		bad  float64
		f64  bool
		want string
	}{
		{"nan.npy", math.NaN(), false, "is NaN"},
		{"inf.npy", math.Inf(1), false, "is +Inf"},
		{"neginf64.npy", math.Inf(-1), true, "is -Inf"},
		{"overflow64.npy", 1e300, true, "is +Inf"}, // finite in float64, not in float32
	} {
		t.Run(c.name, func(t *testing.T) {
			xp := filepath.Join(dir, c.name)
			var err error
			if c.f64 {
				x64 := make([]float64, len(x))
				for i, v := range x {
					x64[i] = float64(v)
				}
				x64[43] = c.bad
				err = WriteNpy(xp, []int{4, 3, 3, 2}, x64)
			} else {
				bad := slices.Clone(x)
				bad[43] = float32(c.bad)
				err = WriteNpy(xp, []int{4, 3, 3, 2}, bad)
			}
			if err != nil {
				t.Fatal(err)
			}
			ds, err := OpenNpy(xp, yp)
			if err != nil {
				t.Fatal(err)
			}
			defer Close(ds)
			if got := image(t, ds, 1); !slices.Equal(got, x[18:36]) {
				t.Errorf("sample 1 = %v, want %v", got, x[18:36])
			}
			err = ds.Image(2, make([]float32, 18))
			wantErr(t, err, xp, "sample 2", "channel 1, row 0, column 1", c.want)
		})
	}

	// Through Open and a Batcher, as training reads it.
	tr, _, err := Open("npy:" + filepath.Join(dir, "nan.npy") + "," + yp)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(tr)
	b, err := NewBatcher(tr, nil, Config{BatchSize: 4, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Next() {
		t.Fatal("Next succeeded on a batch with a NaN pixel")
	}
	wantErr(t, b.Err(), filepath.Join(dir, "nan.npy"), "sample 2", "NaN")
}

// TestNonFiniteNpz: the same for .npz members, read lazily (stored) or
// from memory (deflated), in the channel-last layout, where the pixel is
// still reported by (channel, row, column).
func TestNonFiniteNpz(t *testing.T) {
	// 2 samples of 3×2×3 (NHWC: 2×3 pixels of 3 channels); sample 1, row 1,
	// column 2, channel 0 is element 18 + (1*3+2)*3 + 0 = 33.
	x := make([]float32, 2*18)
	for i := range x {
		x[i] = 0.5
	}
	x[33] = float32(math.Inf(-1))
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		p := writeFile(t, t.TempDir(), "gen.npz", npzBytes(t,
			zipMember{"image.npy", npyBytes([]int{2, 2, 3, 3}, x), method},
			zipMember{"label.npy", npyBytes([]int{2}, []int64{0, 1}), method},
		))
		ds, err := OpenNpz(p)
		if err != nil {
			t.Fatal(err)
		}
		image(t, ds, 0)
		err = ds.Image(1, make([]float32, 18))
		wantErr(t, err, p+":image.npy", "sample 1", "channel 0, row 1, column 2", "-Inf")
		// Sample 0 was checked once and is remembered; sample 1 is not, so
		// every read of it fails.
		if bits := ds.(*byteSet).finite[0].Load(); bits != 1 {
			t.Errorf("checked-finite bits %b, want 1 (sample 0 only)", bits)
		}
		image(t, ds, 0)
		wantErr(t, ds.Image(1, make([]float32, 18)), "sample 1", "-Inf")
		Close(ds)
	}
}

// TestFloatPixelsOutsideUnitRange: float pixels outside [0, 1] are
// documented as passed through unchanged (only non-finite ones are
// refused), in .npy and .npz files alike.
func TestFloatPixelsOutsideUnitRange(t *testing.T) {
	dir := t.TempDir()
	x := []float32{-0.5, 2, 1e30, -1e-30, 0, 1}
	xp, yp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := WriteNpy(xp, []int{1, 1, 2, 3}, x); err != nil {
		t.Fatal(err)
	}
	if err := WriteNpy(yp, []int{1}, []int64{0}); err != nil {
		t.Fatal(err)
	}
	ds, err := OpenNpy(xp, yp)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(ds)
	if got := image(t, ds, 0); !slices.Equal(got, x) {
		t.Errorf("npy: %v, want %v unchanged", got, x)
	}
	p := writeFile(t, dir, "x.npz", npzBytes(t,
		zipMember{"x.npy", npyBytes([]int{1, 1, 2, 3}, x), zip.Deflate},
		zipMember{"y.npy", npyBytes([]int{1}, []int64{0}), zip.Deflate},
	))
	dz, err := OpenNpz(p)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(dz)
	if got := image(t, dz, 0); !slices.Equal(got, x) {
		t.Errorf("npz: %v, want %v unchanged", got, x)
	}
}
