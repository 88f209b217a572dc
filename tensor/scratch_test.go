package tensor

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/freelist"
)

// countJob counts the units it runs and remembers the runner that ran
// them last (its address is inside the recycled chunked runner).
type countJob struct{ units *atomic.Int64 }

var lastRunner atomic.Pointer[countJob]

func (j *countJob) runRange(lo, hi int) {
	j.units.Add(int64(hi - lo))
	lastRunner.Store(j)
}

// TestRunChunkedRecycles checks the scratch convention on runChunked:
// every unit runs once, the runner goes back to its list with its job
// cleared, and the same runner serves the next call even after garbage
// collections (which would have emptied a sync.Pool).
func TestRunChunkedRecycles(t *testing.T) {
	var list freelist.List[chunked[countJob, *countJob]]
	var units atomic.Int64
	withThreads(4, func() {
		runChunked(&list, countJob{&units}, 1001, 4)
		first := lastRunner.Load()
		runtime.GC()
		runtime.GC()
		runChunked(&list, countJob{&units}, 1001, 4)
		if lastRunner.Load() != first {
			t.Error("a new runner after two garbage collections; want the recycled one")
		}
	})
	if n := units.Load(); n != 2002 {
		t.Errorf("%d units run, want 2002", n)
	}
	c := list.Get()
	if c.job.units != nil || c.n != 0 {
		t.Error("a recycled runner still holds its job")
	}
}
