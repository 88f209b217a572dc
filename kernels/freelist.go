package kernels

import "sync"

// freeList keeps objects for reuse. Unlike sync.Pool it never drops them at
// a GC, and an object put back by one goroutine is visible to every other,
// so steady-state kernel calls allocate nothing.
type freeList[T any] struct {
	mu    sync.Mutex
	items []*T
}

// get returns a recycled object, or a new zero one.
func (f *freeList[T]) get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.items); n > 0 {
		x := f.items[n-1]
		f.items = f.items[:n-1]
		return x
	}
	return new(T)
}

// put returns x for reuse.
func (f *freeList[T]) put(x *T) {
	f.mu.Lock()
	f.items = append(f.items, x)
	f.mu.Unlock()
}
