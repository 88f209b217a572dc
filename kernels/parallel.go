package kernels

import (
	"github.com/bulwark-ml/bulwark/internal/freelist"
	"runtime"
	"sync"
	"sync/atomic"
)

// Runner is a piece of work split into numbered parts that may run
// concurrently. RunPart must be safe to call concurrently for different
// parts.
type Runner interface {
	RunPart(part int)
}

// The worker pool: goroutines started once, each idle until handed a
// batch through its own mailbox. A call claims idle workers (at most
// Threads()-1) and works on the batch itself too; parts are claimed with an
// atomic counter, so a batch always finishes even if no worker is free or
// none gets scheduled, and the waiting goroutine only waits for parts that
// are already running, so nested calls cannot deadlock. A claimed worker
// that wakes after all parts are taken just lets the batch go.
var pool struct {
	mu      sync.Mutex
	threads atomic.Int32                  // participants per batch, including the caller
	workers atomic.Pointer[[]*poolWorker] // append-only under mu
}

type poolWorker struct {
	idle atomic.Bool
	mail chan *batch
}

type batch struct {
	r     Runner
	parts int64
	next  atomic.Int64
	wg    sync.WaitGroup
	refs  atomic.Int32 // holders: the caller plus the workers handed it
}

var batches freelist.List[batch]

func init() {
	pool.workers.Store(new([]*poolWorker))
	SetThreads(runtime.GOMAXPROCS(0))
}

// SetThreads sets how many threads a kernel call may use (the caller plus
// n-1 pooled workers); n < 1 means GOMAXPROCS. It returns the previous value.
// The thread count is part of what makes results reproducible: work is
// split by it.
func SetThreads(n int) int {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	ws := *pool.workers.Load()
	for len(ws) < n-1 {
		w := &poolWorker{mail: make(chan *batch, 1)}
		w.idle.Store(true)
		go w.loop()
		ws = append(ws[:len(ws):len(ws)], w)
	}
	pool.workers.Store(&ws)
	return int(pool.threads.Swap(int32(n)))
}

// Threads returns the thread count set by SetThreads.
func Threads() int { return int(pool.threads.Load()) }

// available returns how many threads a kernel call made now could get:
// the caller plus the pooled workers idle at this moment, at most
// Threads(). A product nested inside another parallel call (each part of
// a convolution runs its images' products) finds no worker idle and runs
// whole, instead of in parts it would run one after another, each
// packing its own panels.
func available() int {
	n, limit := 1, Threads()
	for _, w := range *pool.workers.Load() {
		if n >= limit {
			break
		}
		if w.idle.Load() {
			n++
		}
	}
	return n
}

func (w *poolWorker) loop() {
	for b := range w.mail {
		b.work()
		b.release()
		w.idle.Store(true)
	}
}

func (b *batch) work() {
	for {
		i := b.next.Add(1) - 1
		if i >= b.parts {
			return
		}
		b.r.RunPart(int(i))
		b.wg.Done()
	}
}

func (b *batch) release() {
	if b.refs.Add(-1) == 0 {
		b.r = nil
		batches.Put(b)
	}
}

// Run executes r.RunPart(i) for every i in [0, parts), on up to Threads()
// threads, and returns when all parts are done. It does not allocate in
// steady state.
func Run(r Runner, parts int) {
	if parts <= 0 {
		return
	}
	helpers := min(Threads(), parts) - 1
	if helpers <= 0 {
		for i := range parts {
			r.RunPart(i)
		}
		return
	}
	b := batches.Get()
	b.r = r
	b.parts = int64(parts)
	b.next.Store(0)
	b.refs.Store(1)
	b.wg.Add(parts)
	for _, w := range *pool.workers.Load() {
		if helpers == 0 {
			break
		}
		if w.idle.CompareAndSwap(true, false) {
			b.refs.Add(1)
			w.mail <- b
			helpers--
		}
	}
	b.work()
	b.wg.Wait()
	b.release()
}

// funcRunner adapts a range function to Runner for ParallelFor.
type funcRunner struct {
	fn          func(lo, hi int)
	n, perChunk int
}

func (f *funcRunner) RunPart(i int) {
	lo := i * f.perChunk
	f.fn(lo, min(lo+f.perChunk, f.n))
}

// ParallelFor splits [0, n) into contiguous chunks of at least grain
// elements, at most one chunk per thread, and calls fn(lo, hi) for each,
// concurrently. The split depends only on n, grain and Threads().
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	chunks := min(Threads(), max(1, n/max(grain, 1)))
	if chunks <= 1 {
		fn(0, n)
		return
	}
	per := (n + chunks - 1) / chunks
	Run(&funcRunner{fn: fn, n: n, perChunk: per}, (n+per-1)/per)
}
