package data

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestOpenNpzStored(t *testing.T) {
	const n, h, w, c = 7, 32, 32, 3
	hwc := pattern(n*h*w*c, 5)
	lab := []int64{0, 9, 3, 3, 1, 8, 2}
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		p := writeFile(t, t.TempDir(), "gen.npz", npzBytes(t,
			zipMember{"label.npy", npyBytes([]int{n}, lab), method},
			zipMember{"image.npy", npyBytes([]int{n, h, w, c}, hwc), method},
		))
		ds, err := OpenNpz(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := ds.(*byteSet).inMem; got != (method == zip.Deflate) {
			t.Errorf("method %d: in memory = %v", method, got)
		}
		if ds.Classes() != 10 {
			t.Errorf("Classes = %d, want 10", ds.Classes())
		}
		checkU8(t, ds, hwcToCHW(hwc, n, h, w, c), []int{0, 9, 3, 3, 1, 8, 2})
		if err := Close(ds); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenNpzFloatNCHW(t *testing.T) {
	x := make([]float32, 2*1*3*2)
	for i := range x {
		x[i] = float32(i) / 16
	}
	p := writeFile(t, t.TempDir(), "f.npz", npzBytes(t,
		zipMember{"x.npy", npyBytes([]int{2, 1, 3, 2}, x), zip.Store},
		zipMember{"y.npy", npyBytes([]int{2}, []uint8{4, 1}), zip.Deflate},
	))
	ds, err := OpenNpz(p)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(ds)
	if c, h, w := ds.Shape(); c != 1 || h != 3 || w != 2 || ds.Classes() != 5 {
		t.Fatalf("shape %d×%d×%d, %d classes", c, h, w, ds.Classes())
	}
	if got := image(t, ds, 1); !slices.Equal(got, x[6:]) || ds.Label(1) != 1 {
		t.Errorf("sample 1 = %v label %d, want %v 1", got, ds.Label(1), x[6:])
	}
}

func TestOpenNpy(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "y.npy")
	if err := WriteNpy(y, []int{3}, []int64{2, 0, 1}); err != nil {
		t.Fatal(err)
	}
	// float32 N×C×H×W
	x := make([]float32, 3*3*2*2)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	xp := filepath.Join(dir, "x.npy")
	if err := WriteNpy(xp, []int{3, 3, 2, 2}, x); err != nil {
		t.Fatal(err)
	}
	ds, err := OpenNpy(xp, y)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got := image(t, ds, i); !slices.Equal(got, x[i*12:(i+1)*12]) {
			t.Errorf("float sample %d = %v", i, got)
		}
	}
	Close(ds)
	// uint8 N×H×W×C, N×C×H×W and N×H×W
	pix := pattern(3*4*5*3, 9)
	for _, c := range []struct {
		shape []int
		chw   []byte
	}{
		{[]int{3, 4, 5, 3}, hwcToCHW(pix, 3, 4, 5, 3)},
		{[]int{3, 3, 4, 5}, pix},
		{[]int{3, 12, 5}, pix},
	} {
		t.Run(fmt.Sprint(c.shape), func(t *testing.T) {
			if err := WriteNpy(xp, c.shape, pix); err != nil {
				t.Fatal(err)
			}
			ds, err := OpenNpy(xp, y)
			if err != nil {
				t.Fatal(err)
			}
			checkU8(t, ds, c.chw, []int{2, 0, 1})
			Close(ds)
		})
	}
}

func TestOpenNpzErrors(t *testing.T) {
	img := npyBytes([]int{2, 4, 4, 3}, pattern(96, 1))
	lab := npyBytes([]int{2}, []int64{0, 1})
	cases := []struct {
		name    string
		members []zipMember
		msg     string
	}{
		{"no image", []zipMember{{"label.npy", lab, zip.Store}}, "no image member"},
		{"no label", []zipMember{{"image.npy", img, zip.Store}}, "no label member"},
		{"count", []zipMember{{"image.npy", img, zip.Store}, {"label.npy", npyBytes([]int{3}, []int64{0, 1, 2}), zip.Store}}, "label shape [3]"},
		{"float labels", []zipMember{{"image.npy", img, zip.Store}, {"label.npy", npyBytes([]int{2}, []float32{0, 1}), zip.Store}}, "<f4"},
		{"negative label", []zipMember{{"image.npy", img, zip.Store}, {"label.npy", npyBytes([]int{2}, []int32{0, -1}), zip.Store}}, "label -1"},
		{"image shape", []zipMember{{"image.npy", npyBytes([]int{2, 4, 4, 4}, pattern(128, 1)), zip.Store}, {"label.npy", lab, zip.Store}}, "image shape"},
		{"image dtype", []zipMember{{"image.npy", npyBytes([]int{2, 4, 4, 3}, make([]int32, 96)), zip.Store}, {"label.npy", lab, zip.Store}}, "image dtype <i4"},
		{"bad npy", []zipMember{{"image.npy", img[:100], zip.Store}, {"label.npy", lab, zip.Store}}, "image.npy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "bad.npz", npzBytes(t, c.members...))
			_, err := OpenNpz(p)
			wantErr(t, err, p, c.msg)
		})
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "notzip.npz", img)
	_, err := OpenNpz(p)
	wantErr(t, err, p, "zip")
	whole := npzBytes(t, zipMember{"image.npy", img, zip.Store}, zipMember{"label.npy", lab, zip.Store})
	p = writeFile(t, dir, "short.npz", whole[:len(whole)-30])
	_, err = OpenNpz(p)
	wantErr(t, err, p)
}

// TestLazyReadError checks that a file cut short after opening gives an
// error naming it, not a panic.
func TestLazyReadError(t *testing.T) {
	dir := t.TempDir()
	xp, yp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	WriteNpy(xp, []int{4, 1, 8, 8}, pattern(256, 1))
	WriteNpy(yp, []int{4}, []int64{0, 1, 2, 3})
	ds, err := OpenNpy(xp, yp)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(ds)
	if err := os.Truncate(xp, 200); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 64)
	wantErr(t, ds.Image(3, dst), xp, "sample 3")
	b, _ := NewBatcher(ds, nil, Config{BatchSize: 4, Workers: 2})
	defer b.Close()
	if b.Next() {
		t.Fatal("Next succeeded on a truncated file")
	}
	wantErr(t, b.Err(), xp)
}
