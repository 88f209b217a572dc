package data

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestIDXRoundTrip(t *testing.T) {
	for _, zipped := range []bool{false, true} {
		dir := t.TempDir()
		const n, rows, cols = 5, 3, 4
		pix := pattern(n*rows*cols, 1)
		lab := []int{3, 0, 9, 1, 3}
		ib, lb := idxBytes([]int{n, rows, cols}, pix), idxBytes([]int{n}, []byte{3, 0, 9, 1, 3})
		if zipped {
			ib, lb = gz(ib), gz(lb)
		}
		ds, err := ReadIDX(writeFile(t, dir, "img", ib), writeFile(t, dir, "lab", lb))
		if err != nil {
			t.Fatal(err)
		}
		if c, h, w := ds.Shape(); c != 1 || h != rows || w != cols || ds.Classes() != 10 {
			t.Fatalf("shape %d×%d×%d, %d classes; want 1×3×4, 10", c, h, w, ds.Classes())
		}
		checkU8(t, ds, pix, lab)
	}
}

func TestIDXErrors(t *testing.T) {
	good := idxBytes([]int{2, 2, 2}, pattern(8, 2))
	goodLab := idxBytes([]int{2}, []byte{1, 2})
	cases := []struct {
		name     string
		img, lab []byte
		bad      string // which file the error must name: "img" or "lab"
		msg      string
	}{
		{"bad magic", append([]byte{0, 0, 8, 1}, good[4:]...), goodLab, "img", "magic"},
		{"labels as images", goodLab, goodLab, "img", "magic"},
		{"short header", good[:9], goodLab, "img", "truncated"},
		{"short data", good[:len(good)-1], goodLab, "img", "truncated"},
		{"short gzip", gz(good)[:20], goodLab, "img", ""},
		{"corrupt gzip", append(gz(good)[:12], make([]byte, 40)...), goodLab, "img", "gzip"},
		{"trailing data", append(good, 0), goodLab, "img", "past"},
		{"zero rows", idxBytes([]int{2, 0, 2}, nil), goodLab, "img", "dimension"},
		{"huge count", idxBytes([]int{1 << 30, 28, 28}, nil), goodLab, "img", "dimension"},
		{"huge claim", idxBytes([]int{1 << 20, 1 << 12, 1 << 12}, pattern(100, 1)), goodLab, "img", "truncated"},
		{"label range", good, idxBytes([]int{2}, []byte{1, 10}), "lab", "label 10"},
		{"count mismatch", good, idxBytes([]int{3}, []byte{1, 2, 3}), "lab", "3 labels"},
		{"empty", nil, goodLab, "img", "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := map[string]string{"img": writeFile(t, dir, "img", c.img), "lab": writeFile(t, dir, "lab", c.lab)}
			_, err := ReadIDX(paths["img"], paths["lab"])
			wantErr(t, err, paths[c.bad], c.msg)
		})
	}
	_, err := ReadIDX(filepath.Join(t.TempDir(), "missing"), "x")
	wantErr(t, err, "missing")
}

func TestReadMNISTDir(t *testing.T) {
	dir := t.TempDir()
	pix := pattern(4*28*28, 3)
	writeFile(t, dir, "train-images-idx3-ubyte.gz", gz(idxBytes([]int{4, 28, 28}, pix)))
	writeFile(t, dir, "train-labels-idx1-ubyte", idxBytes([]int{4}, []byte{0, 1, 2, 3}))
	writeFile(t, dir, "t10k-images-idx3-ubyte", idxBytes([]int{1, 28, 28}, pix[:784]))
	_, _, err := ReadMNIST(dir)
	wantErr(t, err, dir, "t10k-labels-idx1-ubyte")
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(idxBytes([]int{1}, []byte{7})))
	train, test, err := ReadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkU8(t, train, pix, []int{0, 1, 2, 3})
	checkU8(t, test, pix[:784], []int{7})
}

// TestRealMNIST checks the real MNIST and Fashion-MNIST files when they
// are present (`make data`), and skips otherwise.
func TestRealMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 70000 images")
	}
	sets := []struct {
		name string
		dirs []string
	}{
		{"mnist", append([]string{filepath.Join("mnist")}, mnistDirs()...)},
		{"fashion-mnist", append([]string{filepath.Join("fashion-mnist")}, fashionDirs()...)},
	}
	for _, s := range sets {
		t.Run(s.name, func(t *testing.T) {
			dir := ""
			for _, d := range s.dirs {
				if _, err := os.Stat(filepath.Join(d, "t10k-labels-idx1-ubyte.gz")); err == nil {
					dir = d
					break
				}
			}
			if dir == "" {
				t.Skipf("%s not found in %v (run `make data`)", s.name, s.dirs)
			}
			train, test, err := ReadMNIST(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				ds Dataset
				n  int
			}{{train, 60000}, {test, 10000}} {
				t.Run(fmt.Sprintf("n=%d", c.n), func(t *testing.T) {
					if c.ds.Len() != c.n {
						t.Fatalf("%s: %d samples, want %d", dir, c.ds.Len(), c.n)
					}
					if ch, h, w := c.ds.Shape(); ch != 1 || h != 28 || w != 28 {
						t.Fatalf("%s: shape %d×%d×%d", dir, ch, h, w)
					}
					hist := make([]int, 10)
					for i := range c.ds.Len() {
						hist[c.ds.Label(i)]++
					}
					for k, v := range hist {
						if v < c.n/10*8/10 || v > c.n/10*12/10 {
							t.Errorf("%s: class %d has %d of %d samples", dir, k, v, c.n)
						}
					}
					mean := 0.0
					for _, v := range image(t, c.ds, 0) {
						mean += float64(v)
					}
					if mean /= 784; mean < 0.05 || mean > 0.6 {
						t.Errorf("%s: first image has mean %v", dir, mean)
					}
				})
			}
		})
	}
}
