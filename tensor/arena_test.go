package tensor

import (
	"math/bits"
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
			if n := len(x.data); !slices.Equal(x.Shape(), s) || x.Len() != numel(s) || n > 0 && cap(x.data) != 1<<bits.Len(uint(n-1)) {
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

// TestArenaFree checks that freed storage is handed out again, to the
// next request of its capacity class only, that the rest is untouched,
// that Reset forgets what was freed, and that freeing a tensor from
// elsewhere panics.
func TestArenaFree(t *testing.T) {
	a := NewArena()
	x, y := a.GetUninit(20).Fill(1), a.GetUninit(3, 7).Fill(2) // both in the class of 32
	size := a.Cap()
	a.Free(x)
	if z := a.GetUninit(5); &z.data[0] == &x.data[0] {
		t.Error("a request of another class got the freed storage")
	}
	z := a.Get(4, 8) // 32: the freed buffer, zeroed
	if &z.data[0] != &x.data[0] || slices.Max(z.data) != 0 || slices.Min(y.data) != 2 || slices.Max(y.data) != 2 {
		t.Errorf("Get after Free: reused %v, zeroed %v, the other tensor kept %v",
			&z.data[0] == &x.data[0], slices.Max(z.data) == 0, slices.Min(y.data) == 2)
	}
	if a.Cap() != size+8 {
		t.Errorf("Cap %d after reusing a freed buffer, want %d (the 5-element tensor's 8 only)", a.Cap(), size+8)
	}
	a.Free(y)
	a.Reset()
	u, v := a.GetUninit(32), a.GetUninit(32)
	if &u.data[0] == &v.data[0] {
		t.Error("a buffer freed before Reset was handed out twice after it")
	}
	testutil.CheckPanic(t, func() { a.Free(New(3)) }, "Arena.Free", "not from an arena")
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
