package data

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadIndices(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, shape []int, v []int64) string {
		p := filepath.Join(dir, name)
		if err := WriteNpy(p, shape, v); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.npy", []int{4}, []int64{7, 0, 3, 9})
	idx, err := ReadIndices(good, 10)
	if err != nil || !slices.Equal(idx, []int{7, 0, 3, 9}) {
		t.Fatalf("ReadIndices = %v, %v; want [7 0 3 9] in file order", idx, err)
	}
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{good, 9, "entry 3 is 9, outside the 9 samples"},
		{write("neg.npy", []int{2}, []int64{1, -1}), 5, "entry 1 is -1"},
		{write("dup.npy", []int{3}, []int64{1, 4, 1}), 5, "entry 2 (1) appears twice"},
		{write("mat.npy", []int{2, 2}, []int64{0, 1, 2, 3}), 5, "shape [2 2], want a vector"},
		{filepath.Join(dir, "missing.npy"), 5, "missing.npy"},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			_, err := ReadIndices(tc.path, tc.n)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(tc.path)) {
				t.Errorf("%s (n=%d): error %v, want one naming the file and %q", filepath.Base(tc.path), tc.n, err, tc.want)
			}
		})
	}
}
