// Package datatest holds the test helpers that write datasets as files,
// apart from testutil so that the packages below data can use testutil.
package datatest

import (
	"path/filepath"
	"testing"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/tensor"
)

// NpySet writes n random float32 c×s×s images (a fixed seed) with labels
// i mod 3 as X.npy and Y.npy in dir and returns the npy: dataset spec.
func NpySet(t testing.TB, dir string, n, c, s int) string {
	t.Helper()
	x := tensor.Rand(tensor.NewRNG(3), n, c, s, s)
	y := make([]int64, n)
	for i := range y {
		y[i] = int64(i % 3)
	}
	xp, yp := filepath.Join(dir, "X.npy"), filepath.Join(dir, "Y.npy")
	if err := data.WriteNpy(xp, []int{n, c, s, s}, x.Data()); err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNpy(yp, []int{n}, y); err != nil {
		t.Fatal(err)
	}
	return "npy:" + xp + "," + yp
}
