package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Config configures a Batcher. The zero value plus a BatchSize gives
// batches in index order, without augmentation.
type Config struct {
	BatchSize int    // samples per batch, at least 1
	Shuffle   bool   // reshuffle the order every epoch
	Seed      uint64 // seeds the shuffle and the augmentation
	DropLast  bool   // drop the last batch if it is partial

	// NoSingleton avoids a last batch of one sample, which BatchNorm
	// cannot normalize, without skipping it: when an epoch of n > B
	// samples would end with a batch of one, the batch before it gives
	// it one sample, so the epoch ends with batches of B-1 and 2 and
	// every sample is still visited once. With B = 2 (where B-1 would be
	// one) the last three samples form one batch of 3 instead. A set of
	// one sample still gives one batch of one; DropLast takes precedence.
	NoSingleton bool

	// CropPad > 0 enables random crops: the image is padded by CropPad
	// zeros on every side and a window of the original size is cut at a
	// uniform offset (CIFAR training uses 4).
	CropPad int
	// Flip enables random horizontal flips with probability 1/2, applied
	// after the crop.
	Flip bool

	// Workers is the number of goroutines decoding a batch (at most the
	// batch size). 0 means min(kernels.Threads(), 8), read when the
	// Batcher is made, so decoding keeps to the thread budget set with
	// kernels.SetThreads; a positive value overrides it.
	Workers  int
	Prefetch bool // decode the next batch in the background
}

// maxDefaultWorkers caps the default worker count: decoding a batch is
// cheap beside training on it, so more goroutines would only compete
// with the kernels.
const maxDefaultWorkers = 8

// defaultWorkers returns the decoding goroutines a Batcher starts when
// Config.Workers is 0.
func defaultWorkers() int { return min(kernels.Threads(), maxDefaultWorkers) }

// Batch is one batch: images X [B, C, H, W], and the labels and dataset
// indices of its samples. B is Config.BatchSize except perhaps for the
// last batch of an epoch (and, with Config.NoSingleton, the one before
// it). A Batch's storage is reused: it is valid until the next call to
// Next, Reset or Close.
type Batch struct {
	X       *tensor.Tensor
	Labels  []int
	Indices []int
}

// Batcher cuts a Dataset into batches, epoch after epoch:
//
//	b, err := data.NewBatcher(ds, nil, cfg)
//	defer b.Close()
//	for epoch := range epochs {
//		b.Reset(epoch)
//		for b.Next() {
//			batch := b.Batch()
//			...
//		}
//		if err := b.Err(); err != nil { ... }
//	}
//
// The order of an epoch is a function of (Seed, epoch) only, and the crop
// and flip of a sample of (Seed, epoch, dataset index), so batches do not
// depend on Workers, Prefetch or scheduling. After the first epoch,
// Reset and Next do not allocate. A Batcher is not safe for concurrent
// use; Close stops its goroutines.
type Batcher struct {
	ds      Dataset
	cfg     Config
	c, h, w int
	base    []int // the index list (or 0..n-1)
	order   []int // this epoch's order
	batches int
	// moved is set when Config.NoSingleton reshapes the end of the
	// epoch: batches of B-1 and 2, or, if B = 2, a last batch of 3.
	moved bool

	epoch  int
	k      int // next batch to hand out
	cur    *Batch
	err    error
	closed bool

	pcg *rand.PCG
	rng *rand.Rand

	slots [2]slot

	// Parallel decoding: fill hands parts 0..workers-1 of the slot job to
	// the worker goroutines through jobs, and waits on wg.
	workers int
	jobs    chan int
	wg      sync.WaitGroup
	job     *slot
	errs    []error
	scratch [][]float32 // one sample per part, for augmentation

	// Prefetching: batch numbers go out on reqs, results come back on
	// done; pending is true while one is out.
	reqs    chan int
	done    chan error
	pending bool
}

// slot holds the buffers of one batch.
type slot struct {
	batch   Batch
	x       []float32
	full    *tensor.Tensor // view of x with BatchSize samples
	part    *tensor.Tensor // view of x for a short (or, B = 2, long) batch
	labels  []int
	indices []int
}

// Salts that separate the random streams drawn from one seed.
const (
	saltShuffle = 0x5bd1e9955bd1e995
	saltAugment = 0xc2b2ae3d27d4eb4f
)

// NewBatcher returns a Batcher over the samples of ds listed in indices
// (nil means all, in order), positioned at the start of epoch 0. The
// index list is copied; an index out of range or an invalid Config is an
// error.
func NewBatcher(ds Dataset, indices []int, cfg Config) (*Batcher, error) {
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("data.NewBatcher: batch size %d, want at least 1", cfg.BatchSize)
	}
	if cfg.CropPad < 0 || cfg.Workers < 0 {
		return nil, fmt.Errorf("data.NewBatcher: negative CropPad (%d) or Workers (%d)", cfg.CropPad, cfg.Workers)
	}
	if indices == nil {
		indices = make([]int, ds.Len())
		for i := range indices {
			indices[i] = i
		}
	} else {
		if err := checkIndices("data.NewBatcher", indices, ds.Len()); err != nil {
			return nil, err
		}
		indices = append([]int(nil), indices...)
	}
	b := &Batcher{ds: ds, cfg: cfg, base: indices, order: make([]int, len(indices))}
	b.c, b.h, b.w = ds.Shape()
	n, bs := len(indices), cfg.BatchSize
	b.batches = n / bs
	if !cfg.DropLast && n%bs != 0 {
		b.batches++
	}
	capacity := bs
	if cfg.NoSingleton && !cfg.DropLast && n > bs && n%bs == 1 {
		b.moved = true
		if bs == 2 {
			b.batches-- // the single sample joins the last full batch
			capacity = 3
		}
	}
	b.pcg = rand.NewPCG(0, 0)
	b.rng = rand.New(b.pcg)
	chw := b.c * b.h * b.w
	for i := range b.slots {
		s := &b.slots[i]
		s.x = make([]float32, capacity*chw)
		s.full = view(s.x, bs, b.c, b.h, b.w)
		s.labels = make([]int, capacity)
		s.indices = make([]int, capacity)
	}
	b.workers = cfg.Workers
	if b.workers == 0 {
		b.workers = defaultWorkers()
	}
	b.workers = max(1, min(b.workers, cfg.BatchSize))
	b.errs = make([]error, b.workers)
	b.scratch = make([][]float32, b.workers)
	for i := range b.scratch {
		b.scratch[i] = make([]float32, chw)
	}
	if b.workers > 1 {
		b.jobs = make(chan int)
		for range b.workers {
			go b.work()
		}
	}
	if cfg.Prefetch {
		b.reqs, b.done = make(chan int), make(chan error)
		go b.prefetch()
	}
	b.Reset(0)
	return b, nil
}

// view wraps x as an [n, c, h, w] tensor; the sizes always match.
func view(x []float32, n, c, h, w int) *tensor.Tensor {
	t, err := tensor.FromSlice(x[:n*c*h*w], n, c, h, w)
	if err != nil {
		panic("data: " + err.Error())
	}
	return t
}

// Len returns the number of batches in an epoch.
func (b *Batcher) Len() int { return b.batches }

// Samples returns the number of samples an epoch visits (before DropLast).
func (b *Batcher) Samples() int { return len(b.base) }

// Reset starts epoch epoch: it computes the epoch's order and positions
// the Batcher before its first batch.
func (b *Batcher) Reset(epoch int) {
	b.drain()
	b.epoch, b.k, b.cur, b.err = epoch, 0, nil, nil
	copy(b.order, b.base)
	if !b.cfg.Shuffle {
		return
	}
	b.pcg.Seed(tensor.SplitMix64(b.cfg.Seed^saltShuffle), tensor.SplitMix64(b.cfg.Seed+uint64(epoch)*0x9e3779b97f4a7c15))
	for i := len(b.order) - 1; i > 0; i-- {
		j := b.rng.IntN(i + 1)
		b.order[i], b.order[j] = b.order[j], b.order[i]
	}
}

// errClosed is returned by Err after Next is called on a closed Batcher.
var errClosed = errors.New("data: Batcher used after Close")

// Next prepares the next batch of the epoch and reports whether there is
// one; at the end of the epoch or on an error it returns false (see Err).
// The previous batch's storage may be reused.
func (b *Batcher) Next() bool {
	if b.closed {
		b.err = errClosed
	}
	if b.err != nil || b.k >= b.batches {
		b.cur = nil
		return false
	}
	s := &b.slots[b.k%2]
	var err error
	if b.cfg.Prefetch {
		if !b.pending {
			b.reqs <- b.k
		}
		err = <-b.done
		b.pending = false
		if err == nil && b.k+1 < b.batches {
			b.reqs <- b.k + 1
			b.pending = true
		}
	} else {
		err = b.fill(b.k)
	}
	if err != nil {
		b.err, b.cur = err, nil
		return false
	}
	b.cur = &s.batch
	b.k++
	return true
}

// Batch returns the batch that the last successful Next prepared.
func (b *Batcher) Batch() *Batch { return b.cur }

// Err returns the error that ended the epoch early, if any.
func (b *Batcher) Err() error { return b.err }

// Close stops the Batcher's goroutines. It does not close the Dataset.
func (b *Batcher) Close() {
	if b.closed {
		return
	}
	b.drain()
	b.closed = true
	if b.jobs != nil {
		close(b.jobs)
	}
	if b.reqs != nil {
		close(b.reqs)
	}
}

// drain waits for a batch being prefetched.
func (b *Batcher) drain() {
	if b.pending {
		<-b.done
		b.pending = false
	}
}

// prefetch serves fill requests in the background.
func (b *Batcher) prefetch() {
	for k := range b.reqs {
		b.done <- b.fill(k)
	}
}

// work decodes parts of the current job until jobs is closed.
func (b *Batcher) work() {
	for p := range b.jobs {
		b.errs[p] = b.decodePart(p)
		b.wg.Done()
	}
}

// span returns the position in the epoch's order of batch k's first
// sample and its sample count.
func (b *Batcher) span(k int) (start, n int) {
	bs := b.cfg.BatchSize
	start = k * bs
	if b.moved {
		last := b.batches - 1
		switch {
		case bs == 2 && k == last:
			return start, 3
		case bs > 2 && k == last-1:
			return start, bs - 1
		case bs > 2 && k == last:
			return start - 1, 2
		}
	}
	return start, min(bs, len(b.order)-start)
}

// fill decodes batch k of the epoch into slot k%2.
func (b *Batcher) fill(k int) error {
	s := &b.slots[k%2]
	bs := b.cfg.BatchSize
	start, n := b.span(k)
	s.batch.Indices = s.indices[:n]
	s.batch.Labels = s.labels[:n]
	copy(s.batch.Indices, b.order[start:start+n])
	for j, i := range s.batch.Indices {
		s.batch.Labels[j] = b.ds.Label(i)
	}
	switch {
	case n == bs:
		s.batch.X = s.full
	case s.part == nil || s.part.Dim(0) != n:
		s.part = view(s.x, n, b.c, b.h, b.w)
		fallthrough
	default:
		s.batch.X = s.part
	}
	b.job = s
	if b.workers == 1 {
		return b.decodePart(0)
	}
	b.wg.Add(b.workers)
	for p := range b.workers {
		b.jobs <- p
	}
	b.wg.Wait()
	for _, err := range b.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// decodePart decodes part p of the current job's samples (a contiguous
// share of the batch) into its images.
func (b *Batcher) decodePart(p int) error {
	s := b.job
	n := len(s.batch.Indices)
	chw := b.c * b.h * b.w
	for j := p * n / b.workers; j < (p+1)*n/b.workers; j++ {
		i := s.batch.Indices[j]
		dst := s.x[j*chw : (j+1)*chw]
		if b.cfg.CropPad == 0 && !b.cfg.Flip {
			if err := b.ds.Image(i, dst); err != nil {
				return err
			}
			continue
		}
		src := b.scratch[p]
		if err := b.ds.Image(i, src); err != nil {
			return err
		}
		oy, ox, flip := augmentParams(tensor.SplitMix64(b.cfg.Seed^saltAugment)^tensor.SplitMix64(uint64(b.epoch)), i, b.cfg.CropPad, b.cfg.Flip)
		cropFlip(dst, src, b.c, b.h, b.w, oy, ox, flip)
	}
	return nil
}

// augmentParams draws the crop offset (oy, ox in [-pad, pad]) and flip of
// dataset sample i from key, which names the seed and epoch.
func augmentParams(key uint64, i, pad int, flip bool) (oy, ox int, f bool) {
	r := tensor.SplitMix64(key ^ tensor.SplitMix64(uint64(i)))
	if pad > 0 {
		m := uint64(2*pad + 1)
		oy = int(r%m) - pad
		ox = int((r>>24)%m) - pad
	}
	return oy, ox, flip && r>>63 == 1
}

// cropFlip writes into dst the c×h×w window at offset (oy, ox) of src
// (c×h×w) padded with zeros, mirrored left-right if flip:
//
//	dst[ch][y][x] = src[ch][y+oy][xs+ox], xs = w-1-x if flip else x,
//
// and 0 where that falls outside src. This is torchvision's
// RandomCrop(padding=p) followed by RandomHorizontalFlip.
func cropFlip(dst, src []float32, c, h, w, oy, ox int, flip bool) {
	for ch := range c {
		for y := range h {
			row := dst[(ch*h+y)*w : (ch*h+y+1)*w]
			sy := y + oy
			if sy < 0 || sy >= h {
				clear(row)
				continue
			}
			in := src[(ch*h+sy)*w : (ch*h+sy+1)*w]
			for x := range row {
				xs := x
				if flip {
					xs = w - 1 - x
				}
				xs += ox
				if xs < 0 || xs >= w {
					row[x] = 0
				} else {
					row[x] = in[xs]
				}
			}
		}
	}
}
