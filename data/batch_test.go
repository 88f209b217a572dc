package data

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// testSet returns an in-memory set of n 3×6×5 images whose pixels encode
// (sample, channel, row, column), with label i%7.
func testSet(t testing.TB, n int) Dataset {
	x := tensor.New(n, 3, 6, 5)
	d := x.Data()
	for i := range d {
		d[i] = float32(i%1000) / 1000
	}
	y := make([]int, n)
	for i := range y {
		y[i] = i % 7
	}
	ds, err := FromTensor(x, y, 7)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// epochData runs one epoch and returns all images, labels and indices.
func epochData(t *testing.T, b *Batcher, epoch int) (x []float32, y, idx []int) {
	t.Helper()
	b.Reset(epoch)
	for b.Next() {
		bt := b.Batch()
		if bt.X.Dim(0) != len(bt.Labels) || len(bt.Labels) != len(bt.Indices) {
			t.Fatalf("batch sizes disagree: X %v, %d labels, %d indices", bt.X.Shape(), len(bt.Labels), len(bt.Indices))
		}
		x = append(x, bt.X.Data()...)
		y = append(y, bt.Labels...)
		idx = append(idx, bt.Indices...)
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	return x, y, idx
}

func TestBatcherDeterminism(t *testing.T) {
	ds := testSet(t, 53)
	base := Config{BatchSize: 8, Shuffle: true, Seed: 42, CropPad: 2, Flip: true}
	ref, err := NewBatcher(ds, nil, base)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if ref.Len() != 7 {
		t.Errorf("Len = %d, want 7", ref.Len())
	}
	x0, y0, i0 := epochData(t, ref, 3)
	sorted := slices.Sorted(slices.Values(i0))
	for i, v := range sorted {
		if v != i {
			t.Fatalf("epoch order is not a permutation: %v", i0)
		}
	}
	for k, i := range i0 {
		if y0[k] != i%7 {
			t.Fatalf("label of index %d = %d", i, y0[k])
		}
	}
	_, _, i1 := epochData(t, ref, 4)
	if slices.Equal(i0, i1) {
		t.Error("epochs 3 and 4 have the same order")
	}
	for _, workers := range []int{1, 3, 8} {
		for _, pre := range []bool{false, true} {
			cfg := base
			cfg.Workers, cfg.Prefetch = workers, pre
			b, err := NewBatcher(ds, nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			epochData(t, b, 9) // a different epoch first
			x, y, idx := epochData(t, b, 3)
			if !slices.Equal(x, x0) || !slices.Equal(y, y0) || !slices.Equal(idx, i0) {
				t.Errorf("workers %d prefetch %v: epoch 3 differs", workers, pre)
			}
			b.Close()
		}
	}
	cfg := base
	cfg.Seed = 43
	b, _ := NewBatcher(ds, nil, cfg)
	defer b.Close()
	if _, _, idx := epochData(t, b, 3); slices.Equal(idx, i0) {
		t.Error("seeds 42 and 43 give the same order")
	}
}

func TestBatcherOrderAndDropLast(t *testing.T) {
	ds := testSet(t, 10)
	sub := []int{9, 2, 2, 7, 0}
	for _, c := range []struct {
		drop  bool
		sizes []int
	}{{false, []int{2, 2, 1}}, {true, []int{2, 2}}} {
		t.Run(fmt.Sprintf("drop=%v", c.drop), func(t *testing.T) {
			b, err := NewBatcher(ds, sub, Config{BatchSize: 2, DropLast: c.drop, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			var sizes, idx []int
			for b.Next() {
				bt := b.Batch()
				sizes = append(sizes, bt.X.Dim(0))
				idx = append(idx, bt.Indices...)
				for k, i := range bt.Indices {
					if !slices.Equal(bt.X.Data()[k*90:(k+1)*90], image(t, ds, i)) {
						t.Fatalf("image of index %d differs", i)
					}
				}
			}
			if !slices.Equal(sizes, c.sizes) || !slices.Equal(idx, sub[:len(idx)]) || b.Len() != len(c.sizes) {
				t.Errorf("drop %v: sizes %v indices %v Len %d", c.drop, sizes, idx, b.Len())
			}
			b.Close()
		})
	}
	if _, err := NewBatcher(ds, []int{1, 10}, Config{BatchSize: 2}); err == nil {
		t.Error("index 10 of 10: no error")
	}
	if _, err := NewBatcher(ds, nil, Config{}); err == nil {
		t.Error("batch size 0: no error")
	}
}

func TestSubset(t *testing.T) {
	ds := testSet(t, 10)
	s, err := Subset(ds, []int{4, 4, 0})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.Label(0) != 4 || s.Label(2) != 0 || s.Classes() != 7 {
		t.Errorf("subset: Len %d labels %d %d", s.Len(), s.Label(0), s.Label(2))
	}
	if !slices.Equal(image(t, s, 1), image(t, ds, 4)) {
		t.Error("subset image 1 is not image 4")
	}
	_, err = Subset(ds, []int{3, -1})
	wantErr(t, err, "index -1", "position 1")
	_, err = Subset(ds, []int{10})
	wantErr(t, err, "index 10")
}

func TestCropFlip(t *testing.T) {
	const c, h, w = 2, 3, 4
	src := make([]float32, c*h*w)
	for i := range src {
		src[i] = float32(i + 1)
	}
	at := func(img []float32, ch, y, x int) float32 { return img[(ch*h+y)*w+x] }
	dst := make([]float32, len(src))
	cropFlip(dst, src, c, h, w, 0, 0, true)
	for ch := range c {
		for y := range h {
			for x := range w {
				if at(dst, ch, y, x) != at(src, ch, y, w-1-x) {
					t.Fatalf("flip: (%d,%d,%d) = %v", ch, y, x, at(dst, ch, y, x))
				}
			}
		}
	}
	cropFlip(dst, src, c, h, w, 1, -2, false)
	for ch := range c {
		for y := range h {
			for x := range w {
				want := float32(0)
				if sy, sx := y+1, x-2; sy < h && sx >= 0 {
					want = at(src, ch, sy, sx)
				}
				if at(dst, ch, y, x) != want {
					t.Fatalf("crop: (%d,%d,%d) = %v, want %v", ch, y, x, at(dst, ch, y, x), want)
				}
			}
		}
	}
	cropFlip(dst, src, c, h, w, 0, 0, false)
	if !slices.Equal(dst, src) {
		t.Error("identity crop changed the image")
	}
}

// TestBatcherAugment checks that each augmented sample is its original
// shifted by at most CropPad (with zeros coming in) and mirrored or not,
// and that both flips and several offsets occur.
func TestBatcherAugment(t *testing.T) {
	ds := testSet(t, 64)
	c, h, w := ds.Shape()
	b, _ := NewBatcher(ds, nil, Config{BatchSize: 16, Shuffle: true, Seed: 1, CropPad: 2, Flip: true})
	defer b.Close()
	flips := map[bool]int{}
	offsets := map[[2]int]int{}
	buf := make([]float32, c*h*w)
	for b.Next() {
		bt := b.Batch()
		for k, i := range bt.Indices {
			got := bt.X.Data()[k*c*h*w : (k+1)*c*h*w]
			src := image(t, ds, i)
			found := false
			for oy := -2; oy <= 2 && !found; oy++ {
				for ox := -2; ox <= 2 && !found; ox++ {
					for _, f := range []bool{false, true} {
						cropFlip(buf, src, c, h, w, oy, ox, f)
						if slices.Equal(buf, got) {
							found = true
							flips[f]++
							offsets[[2]int{oy, ox}]++
							break
						}
					}
				}
			}
			if !found {
				t.Fatalf("sample %d is no crop/flip of its image", i)
			}
		}
	}
	if flips[false] == 0 || flips[true] == 0 || len(offsets) < 10 {
		t.Errorf("flips %v, %d distinct offsets", flips, len(offsets))
	}
}

func TestBatcherNoAlloc(t *testing.T) {
	ds := testSet(t, 100)
	for _, pre := range []bool{false, true} {
		b, _ := NewBatcher(ds, []int{5, 1, 99, 3, 4, 50, 60, 70, 80, 90, 11}, Config{
			BatchSize: 4, Shuffle: true, CropPad: 1, Flip: true, Workers: 2, Prefetch: pre})
		checkNoAllocs(t, b, fmt.Sprintf("prefetch %v", pre))
		b.Close()
	}
}

// failSet fails to decode sample bad.
type failSet struct {
	Dataset
	bad   int
	calls atomic.Int64
}

var errFail = errors.New("disk on fire")

func (f *failSet) Image(i int, dst []float32) error {
	f.calls.Add(1)
	if i == f.bad {
		return errFail
	}
	return f.Dataset.Image(i, dst)
}

func TestBatcherError(t *testing.T) {
	for _, pre := range []bool{false, true} {
		ds := &failSet{Dataset: testSet(t, 20), bad: 13}
		b, _ := NewBatcher(ds, nil, Config{BatchSize: 4, Workers: 3, Prefetch: pre})
		n := 0
		for b.Next() {
			n++
		}
		if n != 3 || !errors.Is(b.Err(), errFail) {
			t.Errorf("prefetch %v: %d batches, err %v; want 3, %v", pre, n, b.Err(), errFail)
		}
		b.Reset(1)
		if !b.Next() || b.Err() != nil {
			t.Error("Reset did not clear the error")
		}
		b.Close()
		if b.Next() || b.Err() == nil {
			t.Error("Next after Close succeeded")
		}
	}
}

// TestBatcherNoSingleton checks that NoSingleton reshapes only an epoch
// that would end with a batch of one, that the batch sizes and X agree,
// and that every sample is visited exactly once per epoch, whatever the
// shuffle, workers and prefetching.
func TestBatcherNoSingleton(t *testing.T) {
	for _, tc := range []struct {
		n, bs int
		sizes []int
	}{
		{129, 128, []int{127, 2}},
		{257, 128, []int{128, 127, 2}},
		{1, 128, []int{1}},
		{128, 128, []int{128}},
		{256, 128, []int{128, 128}},
		{130, 128, []int{128, 2}},
		{7, 3, []int{3, 2, 2}},
		{5, 2, []int{2, 3}},
		{3, 2, []int{3}},
		{4, 1, []int{1, 1, 1, 1}},
	} {
		t.Run(fmt.Sprintf("n%d_bs%d", tc.n, tc.bs), func(t *testing.T) {
			ds := testSet(t, tc.n)
			for _, cfg := range []Config{
				{},
				{Shuffle: true, Seed: 3, Workers: 3, Prefetch: true},
				{Shuffle: true, Seed: 3, Workers: 1, Prefetch: true, CropPad: 1, Flip: true},
				{Shuffle: true, Seed: 3, Workers: 4},
			} {
				cfg.BatchSize, cfg.NoSingleton = tc.bs, true
				b, err := NewBatcher(ds, nil, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if b.Len() != len(tc.sizes) || b.Samples() != tc.n {
					t.Errorf("n %d batch %d: Len %d Samples %d, want %d, %d", tc.n, tc.bs, b.Len(), b.Samples(), len(tc.sizes), tc.n)
				}
				for epoch := range 3 {
					b.Reset(epoch)
					var sizes []int
					seen := make([]int, tc.n)
					for b.Next() {
						bt := b.Batch()
						if bt.X.Dim(0) != len(bt.Labels) || len(bt.Labels) != len(bt.Indices) {
							t.Fatalf("batch sizes disagree: X %v, %d labels, %d indices", bt.X.Shape(), len(bt.Labels), len(bt.Indices))
						}
						sizes = append(sizes, len(bt.Indices))
						for k, i := range bt.Indices {
							seen[i]++
							if bt.Labels[k] != i%7 {
								t.Fatalf("label of index %d = %d", i, bt.Labels[k])
							}
							if cfg.CropPad == 0 && !slices.Equal(bt.X.Data()[k*90:(k+1)*90], image(t, ds, i)) {
								t.Fatalf("image of index %d differs", i)
							}
						}
					}
					if err := b.Err(); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(sizes, tc.sizes) {
						t.Errorf("n %d batch %d %+v epoch %d: sizes %v, want %v", tc.n, tc.bs, cfg, epoch, sizes, tc.sizes)
					}
					for i, c := range seen {
						if c != 1 {
							t.Fatalf("n %d batch %d epoch %d: sample %d visited %d times", tc.n, tc.bs, epoch, i, c)
						}
					}
				}
				b.Close()
			}
		})
	}
	// The same order as without NoSingleton: only the cut moves.
	ds := testSet(t, 257)
	cfg := Config{BatchSize: 128, Shuffle: true, Seed: 9}
	plain, _ := NewBatcher(ds, nil, cfg)
	defer plain.Close()
	cfg.NoSingleton = true
	ns, _ := NewBatcher(ds, nil, cfg)
	defer ns.Close()
	x0, _, i0 := epochData(t, plain, 2)
	x1, _, i1 := epochData(t, ns, 2)
	if !slices.Equal(i0, i1) || !slices.Equal(x0, x1) {
		t.Error("NoSingleton changed the order or the images of an epoch")
	}
	// DropLast takes precedence.
	cfg.DropLast = true
	dl, _ := NewBatcher(ds, nil, cfg)
	defer dl.Close()
	if _, _, idx := epochData(t, dl, 0); dl.Len() != 2 || len(idx) != 256 {
		t.Errorf("DropLast with NoSingleton: %d batches, %d samples; want 2, 256", dl.Len(), len(idx))
	}
}

func TestBatcherNoSingletonNoAlloc(t *testing.T) {
	ds := testSet(t, 40)
	for _, bs := range []int{4, 2} {
		for _, pre := range []bool{false, true} {
			b, _ := NewBatcher(ds, []int{5, 1, 39, 3, 4, 20, 21, 22, 23}, Config{
				BatchSize: bs, Shuffle: true, Workers: 2, Prefetch: pre, NoSingleton: true})
			checkNoAllocs(t, b, fmt.Sprintf("batch %d prefetch %v", bs, pre))
			b.Close()
		}
	}
}

// checkNoAllocs checks that b hands out batches, epoch after epoch,
// without allocating once warmed up.
func checkNoAllocs(t *testing.T, b *Batcher, what string) {
	t.Helper()
	epoch := 0
	step := func() {
		if !b.Next() {
			epoch++
			b.Reset(epoch)
		}
	}
	for range 10 {
		step()
	}
	if a := testing.AllocsPerRun(100, step); a != 0 {
		t.Errorf("%s: %v allocations per batch, want 0", what, a)
	}
}
