package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-ml/bulwark/data"
)

// TestNpyMatchesWriteNpy checks that the pipelines' .npy files are
// byte for byte those of data.WriteNpy, which the single-process
// commands write.
func TestNpyMatchesWriteNpy(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for _, shape := range [][]int{{0}, {7}, {3, 5}, {2, 1, 4, 4}, {40, 1000}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i)*0.5 - 3
		}
		a, b := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
		if err := data.WriteNpy(a, shape, v); err != nil {
			t.Fatal(err)
		}
		if err := writeNpyF32(ctx, b, shape, v); err != nil {
			t.Fatal(err)
		}
		x, _ := os.ReadFile(a)
		y, _ := os.ReadFile(b)
		if !bytes.Equal(x, y) {
			t.Fatalf("shape %v: %d and %d bytes differ", shape, len(x), len(y))
		}
		rows, cols := shape[0], 0
		if len(shape) > 1 {
			cols = n / max(rows, 1)
		}
		got, err := readNpyF32(ctx, b, rows, cols)
		if err != nil || len(got) != n {
			t.Fatalf("shape %v: read back %d values: %v", shape, len(got), err)
		}
	}
	// The header of a huge array needs no data.
	h := data.NpyHeader[float32]([]int{10000000, 64})
	if len(h)%64 != 0 {
		t.Errorf("header of %d bytes", len(h))
	}
}

func TestPlanShards(t *testing.T) {
	s := planShards(600, 100, 32)
	if len(s) != 5 || s[0].Hi != 128 || s[4].Lo != 512 || s[4].Hi != 600 {
		t.Errorf("planShards(600, 100, 32) = %v", s)
	}
	if s := planShards(0, 10, 4); len(s) != 1 || s[0].Hi != 0 {
		t.Errorf("planShards(0) = %v", s)
	}
	if s := planShards(480, 1, 256); len(s) != 2 || s[1].Lo != 256 {
		t.Errorf("planShards(480, 1, 256) = %v", s)
	}
}
