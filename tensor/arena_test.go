package tensor

import (
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// TestArena checks shapes, zeroing, that tensors handed out in one step
// do not overlap, and that a step reuses the previous step's storage.
func TestArena(t *testing.T) {
	a := NewArena()
	shapes := [][]int{{3, 5}, {7}, {2, 3, 4}, {16}, {17}, {0, 4}, {}, {3, 5}}
	step := func() []*Tensor {
		var ts []*Tensor
		for i, s := range shapes {
			var x *Tensor
			if i%2 == 0 {
				x = a.Get(s...)
				for j, v := range x.data {
					if v != 0 {
						t.Fatalf("Get(%v)[%d] = %v, want zeroed", s, j, v)
					}
				}
			} else {
				x = a.GetUninit(s...)
			}
			if !slices.Equal(x.Shape(), s) || x.Len() != numel(s) || cap(x.data) != len(x.data) {
				t.Fatalf("Get(%v): shape %v, len %d, cap %d", s, x.Shape(), x.Len(), cap(x.data))
			}
			x.Fill(float32(i + 1))
			ts = append(ts, x)
		}
		for i, x := range ts { // nothing overwrote anything
			for _, v := range x.data {
				if v != float32(i+1) {
					t.Fatalf("tensor %d (%v) overwritten by a later one", i, x.Shape())
				}
			}
		}
		return ts
	}
	first := step()
	size := a.Cap()
	a.Reset()
	second := step()
	for i := range first {
		if first[i] != second[i] || (len(first[i].data) > 0 && &first[i].data[0] != &second[i].data[0]) {
			t.Errorf("tensor %d (%v): storage not reused after Reset", i, shapes[i])
		}
	}
	if a.Cap() != size {
		t.Errorf("Cap grew from %d to %d for the same step", size, a.Cap())
	}

	a.Release()
	if a.Cap() != 0 {
		t.Errorf("Cap after Release = %d", a.Cap())
	}
	step()
}

// TestArenaNoAlloc checks that a warmed-up step, including ops writing
// into arena tensors, allocates nothing: neither storage nor headers.
func TestArenaNoAlloc(t *testing.T) {
	a := NewArena()
	g := NewRNG(40)
	x, w, b := Randn(g, 8, 17), Randn(g, 17, 5), Randn(g, 5)
	step := func() {
		a.Reset()
		h := MatMul(a.GetUninit(8, 5), x, w, false, false)
		Add(h, h, b)
		Relu(h, h)
		p := Softmax(a.GetUninit(8, 5), h, -1)
		s := Sum(a.Get(5), p, false, 0)
		_ = a.Get(3, 7, 2)
		_ = a.GetUninit(100)
		_ = s
	}
	step()
	if n := testing.AllocsPerRun(50, step); n != 0 {
		t.Errorf("%v allocations per warmed-up step", n)
	}
	// A bucket serves any size up to its capacity.
	a.Reset()
	x1 := a.Get(30)
	a.Reset()
	if x2 := a.Get(20); &x2.data[0] != &x1.data[0] {
		t.Error("a 20-element request did not reuse the 32-element buffer")
	}
}

func TestArenaMisuse(t *testing.T) {
	testutil.CheckPanic(t, func() { NewArena().Get(3, -1) }, "tensor.Arena.Get", "negative", "[3 -1]")
}
