package kernels

import "fmt"

// PackedA is the left operand op(A), m×k, packed once for many products:
// a convolution's weights, which multiply every image of a batch in turn.
// Sgemm packs A again on every call, which for the small images of late
// convolution layers costs as much as a third of the product. A PackedA
// keeps the microkernel and blocking it was packed for, so SgemmPacked
// computes exactly, bit for bit, what Sgemm computes with the same A, for
// products of more than 16 columns (narrowMaxCols; narrower ones, which
// Sgemm may give a narrow tile, are computed with the packed tile).
// The zero value is empty; Pack fills it, reusing its storage. It is
// read-only once packed, so products on many goroutines may share it.
type PackedA struct {
	m, k int
	gk   *gemmKernel
	blk  Blocking
	// data holds, for each block of K of kcMax (the last shorter) in
	// order, roundUp(m, mr)×kc values as MR-tall micro-panels: the layout
	// packA gives one MC block, for all of M at once.
	data []float32
}

// Pack packs op(A) (A is m×k, or k×m if transA, with row stride lda) for
// the active implementation. Invalid arguments panic naming them.
func (p *PackedA) Pack(transA bool, m, k int, a []float32, lda int) {
	if m < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.PackedA.Pack: negative size m=%d k=%d", m, k))
	}
	if transA {
		checkMatrix("a", "lda", k, m, a, lda)
	} else {
		checkMatrix("a", "lda", m, k, a, lda)
	}
	p.m, p.k = m, k
	p.gk = active.gemmFor(m, narrowMaxCols+1)
	p.blk = blockingFor(p.gk)
	mp := roundUp(m, p.gk.mr)
	p.data = grow(p.data, mp*k)
	if m == 0 || k == 0 {
		return
	}
	kcMax := evenSplit(k, p.blk.KC, 1)
	for pc := 0; pc < k; pc += kcMax {
		kc := min(kcMax, k-pc)
		for ic := 0; ic < m; ic += p.blk.MC {
			packA(p.gk, p.data[mp*pc+ic*kc:], a, lda, nil, transA, ic, min(p.blk.MC, m-ic), pc, kc)
		}
	}
}

// Rows returns m, the rows of op(A) and of C.
func (p *PackedA) Rows() int { return p.m }

// block returns the packed rows [ic, ic+mc) of the K block at pc (of
// length kc), as packA would have written them.
func (p *PackedA) block(ic, pc, kc int) []float32 {
	return p.data[roundUp(p.m, p.gk.mr)*pc+ic*kc:]
}

// SgemmPacked is SgemmRows with op(A) packed in pa: C (m×n) =
// alpha·op(A)·op(B) + beta·C, where m is pa.Rows(), op(B) is k×n (B, Bᵀ if
// transB, or B's rows at b[bRows[p]:] if bRows is not nil) and k is the
// columns of op(A). Invalid arguments panic naming them.
func SgemmPacked(pa *PackedA, transB bool, n int, alpha float32, b []float32, bRows []int, ldb int,
	beta float32, c []float32, ldc int) {
	if pa == nil || pa.gk == nil {
		panic("kernels.SgemmPacked: pa is not packed")
	}
	m, k := pa.m, pa.k
	if n < 0 {
		panic(fmt.Sprintf("kernels.SgemmPacked: negative size n=%d", n))
	}
	if bRows != nil && transB {
		panic("kernels.SgemmPacked: bRows needs a non-transposed B")
	}
	checkBC(transB, m, n, k, b, bRows, ldb, c, ldc)
	runGemm(gemmJob{transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		b: b, c: c, ldb: ldb, ldc: ldc, bRows: bRows, packed: pa})
}
