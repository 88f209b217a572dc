package tensor

import "math/bits"

// Arena hands out scratch tensors for one step of work (say, a training
// step) and takes them all back at once with Reset. Buffers are kept in
// power-of-two capacity classes and tensor headers are kept too, so once
// a step has run, a later step that asks for the same sequence of shapes
// allocates nothing.
//
// A tensor from an arena, and every view of it, is invalid after Reset:
// its storage will be handed out again. Keep results that must outlive
// the step (parameters, optimizer state, metrics) outside the arena, or
// Clone them. An Arena is not safe for concurrent use; give each
// goroutine its own.
type Arena struct {
	classes [bits.UintSize]arenaClass // class c holds buffers of capacity 1<<c
	headers []*Tensor
	used    int // headers handed out since Reset
}

// arenaClass is the buffers of one capacity; the first used are taken,
// and of those, the ones in free were given back (Free) and are handed
// out again first.
type arenaClass struct {
	bufs [][]float32
	used int
	free [][]float32
}

// NewArena returns an empty arena.
func NewArena() *Arena { return new(Arena) }

// Get returns a zeroed tensor of the given shape, valid until Reset.
func (a *Arena) Get(shape ...int) *Tensor {
	t := a.GetUninit(shape...)
	clear(t.data)
	return t
}

// GetUninit is Get without zeroing: the tensor holds whatever its buffer
// held before. Use it for outputs that an op overwrites completely.
func (a *Arena) GetUninit(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panicf("Arena.Get", "negative dimension in shape %s", fmtShape(shape))
		}
		n *= d
	}
	var t *Tensor
	if a.used < len(a.headers) {
		t = a.headers[a.used]
	} else {
		t = new(Tensor)
		a.headers = append(a.headers, t)
	}
	a.used++
	t.shape = append(t.shape[:0], shape...)
	t.data = a.buffer(n)
	return t
}

// buffer returns n floats from the smallest class that holds them.
func (a *Arena) buffer(n int) []float32 {
	if n == 0 {
		return []float32{}
	}
	c := &a.classes[bits.Len(uint(n-1))]
	if k := len(c.free); k > 0 {
		b := c.free[k-1]
		c.free = c.free[:k-1]
		return b[:n]
	}
	if c.used == len(c.bufs) {
		c.bufs = append(c.bufs, make([]float32, 1<<bits.Len(uint(n-1))))
	}
	b := c.bufs[c.used]
	c.used++
	return b[:n] // the whole buffer as capacity, for Free
}

// Free gives the storage of t, a tensor from this arena's Get or
// GetUninit, back before Reset, for the next request of its capacity
// class: a step whose buffers die at different times (the gradients of a
// backward pass, consumed one op after another) then needs only the
// memory of those alive at once. t and every view of it are invalid
// afterwards. Freeing a tensor twice, or one from elsewhere, corrupts the
// arena.
func (a *Arena) Free(t *Tensor) {
	b := t.data[:cap(t.data)]
	if len(b) == 0 {
		return
	}
	if len(b)&(len(b)-1) != 0 {
		panicf("Arena.Free", "a tensor of capacity %d, not from an arena", len(b))
	}
	c := &a.classes[bits.Len(uint(len(b)-1))]
	c.free = append(c.free, b)
}

// Reset makes every tensor handed out since the last Reset invalid and
// its storage available again. It keeps the memory.
func (a *Arena) Reset() {
	for i := range a.classes {
		a.classes[i].used = 0
		a.classes[i].free = a.classes[i].free[:0]
	}
	a.used = 0
}

// Cap returns the number of float32 elements the arena holds, in use or
// not, for memory reports.
func (a *Arena) Cap() int {
	n := 0
	for i := range a.classes {
		n += len(a.classes[i].bufs) << i
	}
	return n
}

// Release drops all memory the arena holds, keeping it usable. Tensors
// handed out before are invalid, as after Reset.
func (a *Arena) Release() {
	*a = Arena{}
}
