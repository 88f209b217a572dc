package freelist

import (
	"sync"
	"testing"
)

func TestList(t *testing.T) {
	var l List[int]
	a := l.Get()
	*a = 7
	l.Put(a)
	if b := l.Get(); b != a || *b != 7 {
		t.Fatalf("Get after Put returned %p (%d), want %p", b, *b, a)
	}
	if c := l.Get(); c == a || *c != 0 {
		t.Fatalf("Get on an empty list returned a used object")
	}

	made := 0
	m := List[int]{New: func() *int { made++; return new(int) }, Max: 2}
	xs := []*int{m.Get(), m.Get(), m.Get()}
	for _, x := range xs {
		m.Put(x)
	}
	if made != 3 || len(m.items) != 2 {
		t.Fatalf("made %d, kept %d; want 3 and Max = 2", made, len(m.items))
	}
	if got := testing.AllocsPerRun(100, func() { m.Put(m.Get()) }); got != 0 {
		t.Fatalf("%v allocations per Get+Put in steady state", got)
	}
}

func TestListConcurrent(t *testing.T) {
	var l List[int]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				x := l.Get()
				*x++
				l.Put(x)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, x := range l.items {
		total += *x
	}
	if total != 8000 {
		t.Fatalf("increments seen through the list: %d, want 8000", total)
	}
}
