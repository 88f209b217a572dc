package data

import (
	"os"
	"path/filepath"
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
