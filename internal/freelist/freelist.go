// Package freelist keeps objects for reuse across calls: the scratch of
// kernels, convolutions and attacks. Unlike a sync.Pool, a List never
// drops its objects at a garbage collection (nor at random under the race
// detector), so steady-state calls allocate nothing; and an object put
// back by one goroutine is visible to every other.
package freelist

import "sync"

// List is a mutex-guarded stack of *T. The zero value is ready: Get then
// returns new zero objects when the list is empty, and the list keeps
// every object put back.
type List[T any] struct {
	// New, if set, makes an object when the list is empty.
	New func() *T
	// Max, if positive, bounds the objects kept: enough for the calls
	// that run concurrently, so that large scratch is not hoarded.
	Max int

	mu    sync.Mutex
	items []*T
}

// Get pops an object, or makes one.
func (l *List[T]) Get() *T {
	l.mu.Lock()
	if n := len(l.items); n > 0 {
		x := l.items[n-1]
		l.items = l.items[:n-1]
		l.mu.Unlock()
		return x
	}
	l.mu.Unlock()
	if l.New != nil {
		return l.New()
	}
	return new(T)
}

// Put keeps x for reuse, or drops it if the list already holds Max.
func (l *List[T]) Put(x *T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Max <= 0 || len(l.items) < l.Max {
		l.items = append(l.items, x)
	}
}
