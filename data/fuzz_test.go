package data

import (
	"archive/zip"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each fuzz target writes its input to a file, reads it, and requires an
// error naming the file or a set whose samples all decode: checkOpened.

// checkOpened fails t unless err names where (the file or the folder of
// files read) or, with no error, every sample of ds decodes (or fails
// naming where) and has a valid label. It closes ds.
func checkOpened(t *testing.T, ds Dataset, err error, where string) {
	t.Helper()
	if err != nil {
		if !strings.Contains(err.Error(), where) {
			t.Fatalf("error %q does not name %s", err, where)
		}
		return
	}
	defer Close(ds)
	decodeAll(t, ds, where)
}

func FuzzIDX(f *testing.F) {
	img := idxBytes([]int{2, 3, 3}, pattern(18, 1))
	lab := idxBytes([]int{2}, []byte{1, 9})
	f.Add(img, lab)
	f.Add(gz(img), gz(lab))
	f.Add(img[:10], lab)
	f.Add(idxBytes([]int{1 << 27, 4095, 4095}, nil), lab)
	f.Fuzz(func(t *testing.T, img, lab []byte) {
		dir := t.TempDir()
		ip, lp := writeFile(t, dir, "img", img), writeFile(t, dir, "lab", lab)
		ds, err := ReadIDX(ip, lp)
		checkOpened(t, ds, err, dir)
	})
}

func FuzzCIFAR(f *testing.F) {
	rec, _ := cifarRecords([][]byte{{1, 2}, {19, 99}}, 1)
	f.Add(rec, true)
	f.Add(rec[:cifarImage+1], false)
	f.Add(rec[:100], false)
	f.Fuzz(func(t *testing.T, file []byte, c100 bool) {
		dir := t.TempDir()
		var err error
		var train Dataset
		if c100 {
			writeFile(t, dir, "train.bin", file)
			writeFile(t, dir, "test.bin", file)
			train, _, err = ReadCIFAR100(dir)
		} else {
			for _, n := range append(cifar10.train, cifar10.test...) {
				writeFile(t, dir, n, file)
			}
			train, _, err = ReadCIFAR10(dir)
		}
		checkOpened(t, train, err, dir)
	})
}

func FuzzNpy(f *testing.F) {
	f.Add(npyBytes([]int{2, 1, 2, 2}, make([]float32, 8)), npyBytes([]int{2}, []int64{0, 1}))
	f.Add(npyBytes([]int{1, 1, 1, 2}, []float64{0.5, math.NaN()}), npyBytes([]int{1}, []int64{0}))
	f.Add(npyBytes([]int{2, 2, 2, 3}, pattern(24, 1)), npyBytes([]int{2}, []uint8{3, 1}))
	f.Add(npyBytes([]int{1, 3, 3}, pattern(9, 1))[:70], npyBytes([]int{1}, []int32{0}))
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',\n"), []byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		dir := t.TempDir()
		xp, yp := writeFile(t, dir, "x.npy", x), writeFile(t, dir, "y.npy", y)
		if _, _, err := ReadNpy[float64](xp); err != nil && !strings.Contains(err.Error(), xp) {
			t.Fatalf("error %q does not name %s", err, xp)
		}
		ds, err := OpenNpy(xp, yp)
		checkOpened(t, ds, err, dir)
	})
}

func FuzzNpz(f *testing.F) {
	f.Add(npzBytes(f,
		zipMember{"image.npy", npyBytes([]int{2, 2, 2, 3}, pattern(24, 1)), zip.Store},
		zipMember{"label.npy", npyBytes([]int{2}, []int64{0, 1}), zip.Store}))
	f.Add(npzBytes(f,
		zipMember{"x.npy", npyBytes([]int{1, 1, 2, 2}, []float32{0, 0.5, 1, 0.25}), zip.Deflate},
		zipMember{"y.npy", npyBytes([]int{1}, []uint8{3}), zip.Deflate}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, file []byte) {
		p := filepath.Join(t.TempDir(), "f.npz")
		if err := os.WriteFile(p, file, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := OpenNpz(p)
		checkOpened(t, ds, err, p)
	})
}
