package tensor

import (
	"github.com/bulwark-ml/bulwark/internal/freelist"
	"github.com/bulwark-ml/bulwark/kernels"
)

// Scratch convention. Ops keep no state between calls except recycled
// scratch, and all of it lives in package-level freelist.Lists bounded by
// scratchMax: the chunked runners of the elementwise, reduction, softmax
// and batched-product ops (below), the pooling runners (pool.go) and the
// convolution runs and buffers (conv.go). A freelist.List, unlike a
// sync.Pool, keeps its objects across garbage collections and under the
// race detector, so a warmed-up op allocates nothing, deterministically.
//
// Arena is a different thing and stays apart: it hands out user-visible
// result tensors for one step and is reset by its owner, whereas the
// lists hold op-internal scratch that never leaves the call.

// scratchMax bounds the recycled scratch kept per kind: enough for the
// calls that run concurrently.
const scratchMax = 8

// ranger is work over a range of independent units (elements, rows, ...).
// Each unit's result must not depend on how the units are split, which
// keeps parallel results identical to serial ones.
type ranger interface{ runRange(lo, hi int) }

// chunked adapts a ranger to kernels.Runner: part i covers units
// [i·per, (i+1)·per).
type chunked[J any, P interface {
	*J
	ranger
}] struct {
	job    J
	n, per int
}

// RunPart runs one chunk of units.
func (c *chunked[J, P]) RunPart(i int) {
	lo := i * c.per
	P(&c.job).runRange(lo, min(lo+c.per, c.n))
}

// numParts returns how many chunks of at least grain units to split n
// units into, at most one per thread.
func numParts(n, grain int) int {
	return min(kernels.Threads(), max(1, n/max(grain, 1)))
}

// runChunked copies job into a chunked runner from list and runs its n
// units in parts chunks on the worker pool. Recycling the runner keeps
// the call free of allocations in steady state; the caller's job stays
// on its stack.
func runChunked[J any, P interface {
	*J
	ranger
}](list *freelist.List[chunked[J, P]], job J, n, parts int) {
	c := list.Get()
	per := (n + parts - 1) / parts
	c.job, c.n, c.per = job, n, per
	kernels.Run(c, (n+per-1)/per)
	*c = chunked[J, P]{} // drop references to the tensors
	list.Put(c)
}
