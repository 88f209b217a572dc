package data

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-ml/bulwark/kernels"
)

// concurrencySet wraps a Dataset and records the most Image calls that
// were in flight at once.
type concurrencySet struct {
	Dataset
	now, peak atomic.Int32
}

func (s *concurrencySet) Image(i int, dst []float32) error {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(50 * time.Microsecond) // give other decoders a chance to overlap
	return s.Dataset.Image(i, dst)
}

// TestBatcherWorkersFollowThreads: with Config.Workers 0 a Batcher starts
// min(kernels.Threads(), 8) decoders (at most one per sample of a batch);
// an explicit Workers wins over the thread budget.
func TestBatcherWorkersFollowThreads(t *testing.T) {
	defer kernels.SetThreads(kernels.SetThreads(1))
	for _, c := range []struct{ threads, workers, batch, want int }{
		{1, 0, 16, 1},
		{3, 0, 16, 3},
		{12, 0, 16, 8},
		{3, 0, 2, 2},
		{1, 4, 16, 4},
		{12, 2, 16, 2},
	} {
		t.Run(fmt.Sprintf("threads%d_workers%d_batch%d", c.threads, c.workers, c.batch), func(t *testing.T) {
			kernels.SetThreads(c.threads)
			ds := &concurrencySet{Dataset: testSet(t, 40)}
			b, err := NewBatcher(ds, nil, Config{BatchSize: c.batch, Workers: c.workers})
			if err != nil {
				t.Fatal(err)
			}
			if b.workers != c.want {
				t.Errorf("threads %d, Workers %d, batch %d: %d decoders, want %d", c.threads, c.workers, c.batch, b.workers, c.want)
			}
			epochData(t, b, 0)
			b.Close()
			if p := int(ds.peak.Load()); p > c.want {
				t.Errorf("threads %d, Workers %d: %d samples decoded at once, want at most %d", c.threads, c.workers, p, c.want)
			}
		})
	}
}
