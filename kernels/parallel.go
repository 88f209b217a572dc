package kernels

import (
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

// The worker pool: goroutines started once that wait for batches. A batch
// is handed to up to threads-1 idle workers; the caller claims parts too,
// so a batch always finishes even if no worker is free (or the caller is a
// worker running a nested batch). Parts are claimed with an atomic counter
// and the waiting goroutine only waits for parts already being executed,
// so nesting cannot deadlock.
var pool struct {
	mu      sync.Mutex
	threads atomic.Int32 // participants per batch, including the caller
	started int          // worker goroutines running
	queue   chan *batch
}

type batch struct {
	r     Runner
	parts int64
	next  atomic.Int64
	wg    sync.WaitGroup
	refs  atomic.Int32 // holders: the caller plus workers notified
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

func init() {
	pool.queue = make(chan *batch, 256)
	SetThreads(runtime.GOMAXPROCS(0))
}

// SetThreads sets how many threads a kernel call may use (the caller plus
// n-1 pooled workers); n < 1 means GOMAXPROCS. It returns the previous value.
// The thread count is part of what makes results reproducible: a parallel
// reduction splits its work by it.
func SetThreads(n int) int {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	for pool.started < n-1 {
		pool.started++
		go worker()
	}
	return int(pool.threads.Swap(int32(n)))
}

// Threads returns the thread count set by SetThreads.
func Threads() int { return int(pool.threads.Load()) }

func worker() {
	for b := range pool.queue {
		b.work()
		b.release()
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
		batchPool.Put(b)
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
	b := batchPool.Get().(*batch)
	b.r = r
	b.parts = int64(parts)
	b.next.Store(0)
	b.refs.Store(1)
	b.wg.Add(parts)
	for range helpers {
		b.refs.Add(1)
		select {
		case pool.queue <- b:
		default:
			b.refs.Add(-1)
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
