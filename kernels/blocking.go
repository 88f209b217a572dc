package kernels

import (
	"sync"

	"github.com/klauspost/cpuid/v2"
)

// Blocking holds the cache-block sizes of the GEMM loop nest, in elements:
// a KC×NR micro-panel of B stays in L1 while the microkernel sweeps an MC×KC
// block of A held in L2, and the KC×NC block of B lives in L3.
type Blocking struct {
	MC, KC, NC int
}

// CacheSizes are the data-cache sizes in bytes the blocking is derived
// from: the CPU's as cpuid reports them, with defaults where it reports
// nothing (as under emulation).
type CacheSizes struct {
	L1D, L2, L3 int
}

// Caches returns the cache sizes used for blocking.
func Caches() CacheSizes {
	c := CacheSizes{L1D: 32 << 10, L2: 512 << 10, L3: 8 << 20}
	if v := cpuid.CPU.Cache.L1D; v > 0 {
		c.L1D = v
	}
	if v := cpuid.CPU.Cache.L2; v > 0 {
		c.L2 = v
	}
	if v := cpuid.CPU.Cache.L3; v > 0 {
		c.L3 = v
	}
	return c
}

var blockingOverride struct {
	sync.Mutex
	b *Blocking
}

// SetBlocking overrides the derived block sizes (for tuning); nil restores
// them. Values are rounded to the microkernel's tile. It returns the
// blocking now in force.
func SetBlocking(b *Blocking) Blocking {
	blockingOverride.Lock()
	if b == nil {
		blockingOverride.b = nil
	} else {
		cp := *b
		blockingOverride.b = &cp
	}
	blockingOverride.Unlock()
	return blockingFor(active.gemm)
}

// CurrentBlocking returns the block sizes of the active microkernel.
func CurrentBlocking() Blocking { return blockingFor(active.gemm) }

// blockingFor derives the block sizes for a microkernel's tile from the
// cache sizes, unless overridden.
func blockingFor(im *gemmKernel) Blocking {
	blockingOverride.Lock()
	o := blockingOverride.b
	blockingOverride.Unlock()
	var b Blocking
	if o != nil {
		b = *o
	} else {
		c := Caches()
		// B's micro-panel fills L1: A's micro-panel streams through it
		// from L2. Measured on Zen 4, a full L1 beats the textbook half
		// (fewer C updates per flop).
		b.KC = c.L1D / (im.nr * 4)
		// A's block takes about a quarter of L2.
		b.MC = c.L2 / 4 / (b.KC * 4)
		// B's block takes half of the shared L3: long row segments let the
		// prefetcher stream B when packing it (measured: skinny products
		// gain 10% from NC 4096 to 8192 on Zen 4, square ones are flat).
		b.NC = c.L3 / 2 / (b.KC * 4)
		b.KC = clamp(b.KC, 64, 512)
		b.MC = clamp(b.MC, 4*im.mr, 1024)
		b.NC = clamp(b.NC, 16*im.nr, 8192)
	}
	b.MC = max(im.mr, b.MC/im.mr*im.mr)
	b.NC = max(im.nr, b.NC/im.nr*im.nr)
	b.KC = max(1, b.KC)
	return b
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }
