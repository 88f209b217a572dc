package train

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/tensor"
)

// batchSource is what the Trainer needs of its batcher: a *data.Batcher,
// or a mixBatcher when a synthetic pool is mixed in.
type batchSource interface {
	Reset(epoch int)
	Next() bool
	Batch() *data.Batch
	Err() error
	Len() int
	Close()
}

// defaultSyntheticFrac is the share of every batch drawn from the
// synthetic pool when Config.SyntheticFrac is 0.
const defaultSyntheticFrac = 0.8

// SyntheticShare returns SyntheticFrac with its default.
func (c *Config) SyntheticShare() float64 {
	if c.SyntheticFrac == 0 {
		return defaultSyntheticFrac
	}
	return c.SyntheticFrac
}

// SplitBatch returns how many samples of a mixed batch of bs come from
// the real set and how many from the synthetic pool.
func (c *Config) SplitBatch(bs int) (real, synth int) {
	synth = int(math.Round(c.SyntheticShare() * float64(bs)))
	synth = min(max(synth, 1), bs-1)
	return bs - synth, synth
}

// newBatcher returns the training batcher: over the training set, or,
// with a synthetic pool (Options.Synthetic, or Config.Synthetic, which it
// opens and t closes), a mixBatcher over both.
func (t *Trainer) newBatcher(bc data.Config) (batchSource, error) {
	pool := t.opts.Synthetic
	if pool == nil && t.cfg.Synthetic == "" {
		b, err := data.NewBatcher(t.train, nil, bc)
		if err != nil {
			return nil, WrapField("BatchSize", err, "")
		}
		return b, nil
	}
	if pool == nil {
		var err error
		if pool, _, err = data.Open(t.cfg.Synthetic); err != nil {
			return nil, WrapField("Synthetic", err, "")
		}
		t.owned = append(t.owned, pool)
	}
	if err := data.SameKind(t.train, pool); err != nil {
		return nil, WrapField("Synthetic", fmt.Errorf("%w (those of the training set)", err), "%s", t.synthName())
	}
	if bc.BatchSize < 2 {
		return nil, FieldErrorf("BatchSize", "%d: a mixed batch needs at least 2 samples", bc.BatchSize)
	}
	nr, ns := t.cfg.SplitBatch(bc.BatchSize)
	m, err := newMixBatcher(t.train, pool, nr, ns, bc)
	if err != nil {
		return nil, WrapField("Synthetic", err, "%s", t.synthName())
	}
	return m, nil
}

// mixBatcher draws every batch from two batchers: nr samples from the
// real set and ns from the synthetic pool, real ones first. An epoch is
// one pass over the real set; the pool is reshuffled every epoch and
// every time it runs out within one. Batches depend only on (seed,
// epoch). A sample's index is its index in the real set, or the real
// set's length plus its index in the pool (the index space of
// concatenated(real, pool)).
type mixBatcher struct {
	real, synth *data.Batcher
	pool        data.Dataset
	nreal       int // samples in the real set: the pool's index offset
	epoch, pass int // the epoch, and the pool's pass within it
	batch       data.Batch
	x           []float32
	err         error
}

// poolPasses bounds the pool passes one epoch may make (it keys the
// pool's shuffle by epoch·poolPasses + pass).
const poolPasses = 1 << 16

// newMixBatcher returns a mixBatcher; bc sets the seed, augmentation and
// workers of both batchers (the pool's shuffle uses a different seed).
func newMixBatcher(real, pool data.Dataset, nr, ns int, bc data.Config) (*mixBatcher, error) {
	if pool.Len() < ns {
		return nil, fmt.Errorf("the pool has %d samples, fewer than the %d each batch takes from it", pool.Len(), ns)
	}
	rc, sc := bc, bc
	// No real part of one sample at the end of an epoch, and none skipped.
	rc.BatchSize, rc.NoSingleton = nr, true
	sc.BatchSize, sc.DropLast, sc.Seed = ns, true, bc.Seed^0x5e17a9c0ffee
	m := &mixBatcher{pool: pool, nreal: real.Len()}
	var err error
	if m.real, err = data.NewBatcher(real, nil, rc); err != nil {
		return nil, err
	}
	if m.synth, err = data.NewBatcher(pool, nil, sc); err != nil {
		m.real.Close()
		return nil, err
	}
	c, h, w := real.Shape()
	m.x = make([]float32, (nr+1+ns)*c*h*w) // NoSingleton may make one real part of nr+1 (nr = 2)
	return m, nil
}

// Reset starts epoch epoch.
func (m *mixBatcher) Reset(epoch int) {
	m.epoch, m.pass, m.err = epoch, 0, nil
	m.real.Reset(epoch)
	m.synth.Reset(epoch * poolPasses)
}

// Next prepares the next mixed batch.
func (m *mixBatcher) Next() bool {
	if m.err != nil || !m.real.Next() {
		return false
	}
	if !m.synth.Next() {
		if m.err = m.synth.Err(); m.err != nil {
			return false
		}
		m.pass++
		m.synth.Reset(m.epoch*poolPasses + m.pass%poolPasses)
		if !m.synth.Next() {
			m.err = m.synth.Err()
			return false
		}
	}
	r, s := m.real.Batch(), m.synth.Batch()
	c, h, w := r.X.Dim(1), r.X.Dim(2), r.X.Dim(3)
	n := len(r.Labels) + len(s.Labels)
	x := m.x[:n*c*h*w]
	copy(x[copy(x, r.X.Data()):], s.X.Data())
	if m.batch.X == nil || m.batch.X.Dim(0) != n {
		var err error
		if m.batch.X, err = tensor.FromSlice(x, n, c, h, w); err != nil {
			panic("train: " + err.Error())
		}
	}
	m.batch.Labels = append(append(m.batch.Labels[:0], r.Labels...), s.Labels...)
	m.batch.Indices = append(m.batch.Indices[:0], r.Indices...)
	for _, i := range s.Indices {
		m.batch.Indices = append(m.batch.Indices, m.nreal+i)
	}
	return true
}

// Batch returns the batch the last Next prepared.
func (m *mixBatcher) Batch() *data.Batch { return &m.batch }

// Err returns the error that ended the epoch early, if any.
func (m *mixBatcher) Err() error {
	if m.err != nil {
		return m.err
	}
	return m.real.Err()
}

// Len returns the number of batches of an epoch: those of the real set.
func (m *mixBatcher) Len() int { return m.real.Len() }

// Close stops both batchers.
func (m *mixBatcher) Close() {
	m.real.Close()
	m.synth.Close()
}
