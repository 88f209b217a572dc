package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenSpecs(t *testing.T) {
	root := t.TempDir()
	t.Setenv("BULWARK_DATA", root)
	for _, name := range []string{"mnist", "fashion-mnist"} {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o755)
		writeFile(t, dir, "train-images-idx3-ubyte.gz", gz(idxBytes([]int{3, 28, 28}, pattern(3*784, 1))))
		writeFile(t, dir, "train-labels-idx1-ubyte.gz", gz(idxBytes([]int{3}, []byte{1, 2, 3})))
		writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gz(idxBytes([]int{2, 28, 28}, pattern(2*784, 1))))
		writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(idxBytes([]int{2}, []byte{4, 5})))
		train, test, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if train.Len() != 3 || test.Len() != 2 {
			t.Errorf("%s: %d/%d samples, want 3/2", name, train.Len(), test.Len())
		}
	}

	dir := t.TempDir()
	f, _ := cifarRecords([][]byte{{1, 2}}, 1)
	writeFile(t, dir, "train.bin", f)
	writeFile(t, dir, "test.bin", f)
	if train, test, err := Open("cifar100:" + dir); err != nil || train.Len() != 1 || test.Len() != 1 {
		t.Errorf("cifar100: %v", err)
	}
	if _, _, err := Open("cifar10:" + dir); err == nil {
		t.Error("cifar10 on a CIFAR-100 folder: no error")
	}

	xp, yp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	WriteNpy(xp, []int{2, 1, 2, 2}, make([]float32, 8))
	WriteNpy(yp, []int{2}, []int32{0, 1})
	train, test, err := Open("npy:" + xp + "," + yp)
	if err != nil || train.Len() != 2 || test != nil {
		t.Errorf("npy: %v", err)
	}
	Close(train)

	np := writeFile(t, dir, "a.npz", npzBytes(t,
		zipMember{"image.npy", npyBytes([]int{2, 2, 2, 3}, pattern(24, 1)), 0},
		zipMember{"label.npy", npyBytes([]int{2}, []int64{0, 1}), 0}))
	train, test, err = Open("npz:" + np)
	if err != nil || train.Len() != 2 || test != nil {
		t.Errorf("npz: %v", err)
	}
	Close(train)

	for _, spec := range []string{"", "cifar", "cifar10:", "npz", "imagenet:/x", "MNIST"} {
		_, _, err := Open(spec)
		wantErr(t, err, `"`+spec+`"`, "cifar10:DIR", "npy:X.npy,Y.npy")
	}
	_, _, err = Open("npy:" + xp)
	wantErr(t, err, "npy:X.npy,Y.npy")
	_, _, err = Open("npz:" + filepath.Join(dir, "none.npz"))
	wantErr(t, err, "none.npz")

	t.Setenv("BULWARK_DATA", t.TempDir())
	t.Setenv("GOMODCACHE", t.TempDir())
	_, _, err = Open("mnist")
	wantErr(t, err, "make data")
}

// writeMNIST writes a fake MNIST folder under root/name with n 28×28
// training images labelled i mod 10 and two test images.
func writeMNIST(t *testing.T, root, name string, n int) {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pix := pattern(n*784, 3)
	lab := make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % 10)
	}
	writeFile(t, dir, "train-images-idx3-ubyte.gz", gz(idxBytes([]int{n, 28, 28}, pix)))
	writeFile(t, dir, "train-labels-idx1-ubyte.gz", gz(idxBytes([]int{n}, lab)))
	writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gz(idxBytes([]int{2, 28, 28}, pattern(2*784, 1))))
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(idxBytes([]int{2}, []byte{4, 5})))
}

// subsetNpz writes an uncompressed .npz of 12 3×2×2 images in 3 classes,
// which OpenNpz reads lazily from the open file.
func subsetNpz(t *testing.T) string {
	t.Helper()
	labels := []int64{2, 0, 0, 1, 2, 0, 1, 0, 2, 2, 1, 0}
	return writeFile(t, t.TempDir(), "sub.npz", npzBytes(t,
		zipMember{"image.npy", npyBytes([]int{12, 2, 2, 3}, pattern(12*12, 5)), 0},
		zipMember{"label.npy", npyBytes([]int{12}, labels), 0}))
}

// checkPicks checks that sub is the samples idx of full, in that order.
func checkPicks(t *testing.T, spec string, sub, full Dataset, idx []int) {
	t.Helper()
	if sub.Len() != len(idx) || sub.Classes() != full.Classes() {
		t.Fatalf("%s: %d samples of %d classes, want %d of %d", spec, sub.Len(), sub.Classes(), len(idx), full.Classes())
	}
	for j, i := range idx {
		if sub.Label(j) != full.Label(i) || !sameBits(image(t, sub, j), image(t, full, i)) {
			t.Fatalf("%s: sample %d is not sample %d of the full set", spec, j, i)
		}
	}
}

// span returns a, a+1, ..., b-1.
func span(a, b int) []int {
	var s []int
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

func TestOpenSubsetSlice(t *testing.T) {
	root := t.TempDir()
	t.Setenv("BULWARK_DATA", root)
	writeMNIST(t, root, "mnist", 20)
	full, fullTest, err := Open("mnist")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec string
		idx  []int
	}{
		{"mnist[2:5]", span(2, 5)},
		{"mnist[:4]", span(0, 4)},
		{"mnist[7:]", span(7, 20)},
		{"mnist[:]", span(0, 20)},
		{"mnist[19:20]", []int{19}},
		{"mnist[0:20]", span(0, 20)},
		{"mnist[2:12][3:5]", span(5, 7)}, // suffixes nest
		{"mnist[balanced:10][2:4]", span(2, 4)},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			train, test, err := Open(tc.spec)
			if err != nil {
				t.Fatalf("%s: %v", tc.spec, err)
			}
			checkPicks(t, tc.spec, train, full, tc.idx)
			// The test split passes through unchanged.
			if test == nil || test.Len() != fullTest.Len() || !sameBits(image(t, test, 1), image(t, fullTest, 1)) {
				t.Errorf("%s: the test split changed", tc.spec)
			}
			if err := Close(train); err != nil {
				t.Error(err)
			}
		})
	}
	checkOpenErrors(t, nil, []openError{
		{"mnist[0:21]", "has 20 samples"},
		{"mnist[20:]", "has 20 samples"},
		{"mnist[5:5]", "has 20 samples"},
		{"mnist[6:3]", "has 20 samples"},
		{"mnist[-1:3]", `bound "-1"`},
		{"mnist[0:-1]", `bound "-1"`},
		{"mnist[x:3]", `bound "x"`},
		{"mnist[1.5:3]", `bound "1.5"`},
		{"mnist[3]", "want [a:b]"},
		{"mnist[]", "want [a:b]"},
		{"mnist[1:2:3]", `bound "2:3"`},
		{"mnist[evens:3]", `bound "evens"`},
		{"imagenet[0:3]", "imagenet"},
		{"[0:3]", "unknown dataset spec"},
	})
}

func TestOpenSubsetBalanced(t *testing.T) {
	np, full := openSubsetNpz(t)
	// Classes 0, 1, 2 sit at 1 2 5 7 11, 3 6 10 and 0 4 8 9.
	for _, tc := range []struct {
		n   int
		idx []int
	}{
		{1, []int{1}},                              // the remainder goes to class 0
		{3, []int{0, 1, 3}},                        // one of each
		{8, []int{0, 1, 2, 3, 4, 5, 6, 10}},        // 3, 3, 2
		{10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 10}}, // 4, 3, 3
	} {
		t.Run(fmt.Sprintf("balanced:%d", tc.n), func(t *testing.T) {
			spec := fmt.Sprintf("npz:%s[balanced:%d]", np, tc.n)
			train, test, err := Open(spec)
			if err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			if test != nil {
				t.Errorf("%s: a test split from an npz", spec)
			}
			checkPicks(t, spec, train, full, tc.idx)
			count := make([]int, 3)
			for j := range train.Len() {
				count[train.Label(j)]++
			}
			for k, c := range count {
				if want := tc.n/3 + min(1, max(0, tc.n%3-k)); c != want {
					t.Errorf("%s: class %d has %d samples, want %d", spec, k, c, want)
				}
			}
			// Closing the subset closes the npz it reads lazily.
			if err := Close(train); err != nil {
				t.Fatal(err)
			}
			dst := make([]float32, 12)
			if err := train.Image(0, dst); err == nil {
				t.Errorf("%s: reading after Close succeeded: the npz stayed open", spec)
			}
		})
	}
	checkOpenErrors(t, strings.NewReplacer("npz:"+np, ""), []openError{
		{"npz:" + np + "[balanced:11]", "class 1 has 3 training samples, fewer than the 4"},
		{"npz:" + np + "[balanced:13]", "only 12 samples"},
		{"npz:" + np + "[balanced:0]", `N "0"`},
		{"npz:" + np + "[balanced:-2]", `N "-2"`},
		{"npz:" + np + "[balanced:x]", `N "x"`},
		{"npz:" + np + "[balanced:]", `N ""`},
	})
	if !strings.Contains(Specs, "[a:b]") || !strings.Contains(Specs, "[balanced:N]") {
		t.Errorf("Specs %q does not list the subset suffixes", Specs)
	}
}

func TestOpenSubsetSynth(t *testing.T) {
	np, full := openSubsetNpz(t)
	for _, tc := range []struct {
		spec string
		seed uint64
		tail float64
		idx  []int
	}{
		{"synth:npz:" + np + "[balanced:8]:50:4", 4, 0, []int{0, 1, 2, 3, 4, 5, 6, 10}},
		{"synth:npz:" + np + "[0:4]:30", 0, 0, span(0, 4)},
		{"synth:npz:" + np + "[3:]:30:1", 1, 0, span(3, 12)},
		{"synth:npz:" + np + "[:2]:30:tail=3", 0, 3, span(0, 2)},
		{"synth:npz:" + np + "[balanced:3]:30:9:tail=0.5", 9, 0.5, []int{0, 1, 3}},
	} {
		t.Run(strings.ReplaceAll(tc.spec, np, "NPZ"), func(t *testing.T) {
			train, _, err := Open(tc.spec)
			if err != nil {
				t.Fatalf("%s: %v", tc.spec, err)
			}
			s, ok := train.(*Synthetic)
			if !ok {
				t.Fatalf("%s: a %T, want a *Synthetic", tc.spec, train)
			}
			// The pool is drawn from the subset only.
			checkPicks(t, tc.spec, s.base, full, tc.idx)
			sub, _ := Subset(full, tc.idx)
			opts := DefaultSynthOptions()
			opts.Tail = tc.tail
			ref := newSynth(t, sub, s.Len(), tc.seed, opts)
			for i := range s.Len() {
				if s.BaseIndex(i) != ref.BaseIndex(i) || !sameBits(image(t, s, i), image(t, ref, i)) {
					t.Fatalf("%s: sample %d differs from the pool over the subset", tc.spec, i)
				}
			}
			if err := Close(train); err != nil {
				t.Fatal(err)
			}
			if err := s.base.Image(0, make([]float32, 12)); err == nil {
				t.Errorf("%s: closing the pool left the npz open", tc.spec)
			}
		})
	}
	// A subset of the pool itself, and errors inside BASE.
	train, _, err := Open("synth:npz:" + np + ":50:2[10:20]")
	if err != nil || train.Len() != 10 {
		t.Fatalf("subset of a pool: %v", err)
	}
	Close(train)
	checkOpenErrors(t, strings.NewReplacer(np, "NPZ"), []openError{
		{"synth:npz:" + np + "[0:13]:30", "has 12 samples"},
		{"synth:npz:" + np + "[balanced:11]:30", "class 1"},
	})
}

// openSubsetNpz writes subsetNpz's file and opens it whole (closed when
// the test ends).
func openSubsetNpz(t *testing.T) (string, Dataset) {
	t.Helper()
	np := subsetNpz(t)
	full, _, err := Open("npz:" + np)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(full) })
	return np, full
}
