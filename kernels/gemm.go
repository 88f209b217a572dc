package kernels

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/internal/freelist"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ as transA/transB say, op(A) is m×k,
// op(B) is k×n and C is m×n. lda, ldb and ldc are the row strides
// (leading dimensions) of the matrices as stored. As in BLAS, beta = 0
// overwrites C without reading it, so NaNs already in C do not propagate.
//
// The plain loop it computes:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ { s += opA(i, p) * opB(p, j) }
//			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//		}
//	}
//
// It follows the BLIS design: op(B) is packed into KC×NC blocks of NR-wide
// micro-panels, op(A) into MC×KC blocks of MR-tall micro-panels, and an
// MR×NR register-tiled microkernel (AVX2+FMA, NEON or Go) computes each tile
// of C. Large products are split across the worker pool by ranges of C's
// rows or columns. Invalid arguments panic with a message naming them.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	runGemm(gemmJob{
		transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc,
	})
}

// SgemmRows is Sgemm with op(A) = A and op(B) = B (or Bᵀ if transB) whose
// rows may be scattered: if aRows is not nil, row i of A is
// a[aRows[i] : aRows[i]+k] (lda is ignored); if bRows is not nil (and B is
// not transposed), row p of B is b[bRows[p] : bRows[p]+n] (ldb is ignored).
// Rows may overlap. This is implicit-GEMM convolution: the rows of a column
// matrix are shifted windows of one padded image, so the column matrix need
// never be built. Invalid arguments panic naming them.
func SgemmRows(transB bool, m, n, k int, alpha float32, a []float32, aRows []int, lda int,
	b []float32, bRows []int, ldb int, beta float32, c []float32, ldc int) {
	if bRows != nil && transB {
		panic("kernels.SgemmRows: bRows needs a non-transposed B")
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.SgemmRows: negative size m=%d n=%d k=%d", m, n, k))
	}
	if aRows == nil {
		checkMatrix("a", "lda", m, k, a, lda)
	} else {
		checkRows("aRows", aRows, m, k, len(a))
	}
	checkBC(transB, m, n, k, b, bRows, ldb, c, ldc)
	runGemm(gemmJob{
		transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, aRows: aRows, bRows: bRows,
	})
}

// checkBC panics unless op(B) (k×n: B, Bᵀ if transB, or B's rows at
// bRows) and C (m×n) fit their slices.
func checkBC(transB bool, m, n, k int, b []float32, bRows []int, ldb int, c []float32, ldc int) {
	switch {
	case bRows != nil:
		checkRows("bRows", bRows, k, n, len(b))
	case transB:
		checkMatrix("b", "ldb", n, k, b, ldb)
	default:
		checkMatrix("b", "ldb", k, n, b, ldb)
	}
	checkMatrix("c", "ldc", m, n, c, ldc)
}

// checkRows panics unless rows holds count row offsets, each starting a run
// of width elements inside a slice of length size.
func checkRows(name string, rows []int, count, width, size int) {
	if len(rows) < count {
		panic(fmt.Sprintf("kernels.SgemmRows: len(%s) = %d, need %d", name, len(rows), count))
	}
	for i, r := range rows[:count] {
		if r < 0 || r+width > size {
			panic(fmt.Sprintf("kernels.SgemmRows: %s[%d] = %d: a row of %d from there leaves the slice of %d", name, i, r, width, size))
		}
	}
}

// runGemm runs a checked product on the worker pool; empty products and
// those with k = 0 or alpha = 0 only scale C by beta.
func runGemm(spec gemmJob) {
	if spec.m == 0 || spec.n == 0 {
		return
	}
	if spec.k == 0 || spec.alpha == 0 {
		scaleMatrix(spec.m, spec.n, spec.beta, spec.c, spec.ldc)
		return
	}
	j := jobs.Get()
	*j = spec
	if j.packed != nil {
		j.gk, j.blk = j.packed.gk, j.packed.blk
	} else {
		j.gk = active.gemmFor(spec.m, spec.n)
		j.blk = blockingFor(j.gk)
	}
	// The split does not change the result (TestSgemmSplitInvariant),
	// so it may follow the threads free now rather than Threads().
	Run(j, j.split(available()))
	*j = gemmJob{}
	jobs.Put(j)
}

// checkGemm panics with a message naming the first invalid argument.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("a", "lda", ar, ac, a, lda)
	checkMatrix("b", "ldb", br, bc, b, ldb)
	checkMatrix("c", "ldc", m, n, c, ldc)
}

func checkMatrix(name, ldName string, rows, cols int, x []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels.Sgemm: %s = %d, need at least %d for a %d×%d %s", ldName, ld, max(1, cols), rows, cols, name))
	}
	if rows > 0 && cols > 0 {
		if need := (rows-1)*ld + cols; len(x) < need {
			panic(fmt.Sprintf("kernels.Sgemm: len(%s) = %d, need at least %d for a %d×%d matrix with %s = %d",
				name, len(x), need, rows, cols, ldName, ld))
		}
	}
}

// scaleMatrix computes C = beta·C; beta = 0 writes zeros.
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			active.scale(beta, row)
		}
	}
}

// gemmJob is one Sgemm call, split into parts over ranges of rows or
// columns of C. Jobs are pooled so that a call does not allocate.
type gemmJob struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	aRows, bRows   []int    // scattered rows (SgemmRows), or nil
	packed         *PackedA // A packed ahead (SgemmPacked), or nil
	gk             *gemmKernel
	blk            Blocking

	splitCols bool // parts are column ranges (else row ranges)
	perPart   int  // rows or columns per part, a multiple of the tile
}

var jobs freelist.List[gemmJob]

// minParallelFlops is the size below which a product runs on one thread:
// there the hand-off costs more than it saves.
const minParallelFlops = 1 << 21

// split decides how to spread the job over up to threads parts and returns
// the number of parts, from the shape and threads alone.
func (j *gemmJob) split(threads int) int {
	mr, nr := j.gk.mr, j.gk.nr
	tilesM, tilesN := (j.m+mr-1)/mr, (j.n+nr-1)/nr
	if threads <= 1 || 2*j.m*j.n*j.k < minParallelFlops {
		j.splitCols, j.perPart = true, j.n
		return 1
	}
	j.splitCols = tilesN >= tilesM
	tiles, tile, size := tilesM, mr, j.m
	if j.splitCols {
		tiles, tile, size = tilesN, nr, j.n
	}
	parts := min(threads, tiles)
	j.perPart = (tiles + parts - 1) / parts * tile
	return (size + j.perPart - 1) / j.perPart
}

// RunPart computes one range of C.
func (j *gemmJob) RunPart(p int) {
	if j.splitCols {
		lo := p * j.perPart
		j.compute(0, j.m, lo, min(lo+j.perPart, j.n))
	} else {
		lo := p * j.perPart
		j.compute(lo, min(lo+j.perPart, j.m), 0, j.n)
	}
}

// directBMaxRows is the largest m for which B may be read in place rather
// than packed (when the microkernel supports it and B is not transposed):
// with few row tiles, each B micro-panel is used too few times to repay
// packing. In-place reads walk k rows at once, which is fast from cache but
// slow from DRAM, so B must also fit in half of L3 (j.directB).
const directBMaxRows = 96

// compute does C[i0:i1, j0:j1] with the BLIS loop nest.
func (j *gemmJob) compute(i0, i1, j0, j1 int) {
	buf := getBuffers(j.gk, j.blk, i1-i0, j1-j0, j.k)
	defer buffers.Put(buf)
	direct := !j.transB && j.m <= directBMaxRows && 4*j.k*j.n <= Caches().L3/2
	if j.bRows != nil {
		direct = j.gk.rows != nil && j.m <= directBMaxRows
	}
	// K is cut into equal blocks no larger than KC, so that k just above
	// KC does not leave a thin last block that pays a full pass over C.
	kcMax := evenSplit(j.k, j.blk.KC, 1)
	for jc := j0; jc < j1; jc += j.blk.NC {
		nc := min(j.blk.NC, j1-jc)
		for pc := 0; pc < j.k; pc += kcMax {
			kc := min(kcMax, j.k-pc)
			if !direct {
				packB(j.gk, buf.b, j.b, j.ldb, j.bRows, j.transB, pc, kc, jc, nc)
			}
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			for ic := i0; ic < i1; ic += j.blk.MC {
				mc := min(j.blk.MC, i1-ic)
				ap := buf.a
				if j.packed != nil {
					ap = j.packed.block(ic, pc, kc)
				} else {
					packA(j.gk, ap, j.a, j.lda, j.aRows, j.transA, ic, mc, pc, kc)
				}
				j.macroKernel(buf, ap, ic, mc, jc, nc, pc, kc, beta, direct)
			}
		}
	}
}

// macroKernel runs the microkernel over every tile of an mc×nc block of C.
// A is packed in ap; B is packed in buf.b, or read in place if direct
// (except a partial last panel, which is packed so no read passes the end
// of a row).
func (j *gemmJob) macroKernel(buf *gemmBuffers, ap []float32, ic, mc, jc, nc, pc, kc int, beta float32, direct bool) {
	mr, nr := j.gk.mr, j.gk.nr
	c, ldc := j.c, j.ldc
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		// Where this column panel of B comes from: packed (bp with row
		// stride nr), in place (bp with stride ldb), or in place through
		// the row table rows.
		var bp []float32
		var rows []int
		ldb, kern := nr, j.gk.kernel
		switch {
		case !direct:
			bp = buf.b[jr*kc : (jr+nr)*kc]
		case cols == nr && j.bRows != nil:
			bp, rows = j.b[jc+jr:], j.bRows[pc:pc+kc]
		case cols == nr:
			bp, ldb = j.b[pc*j.ldb+jc+jr:], j.ldb
			if j.gk.strided != nil {
				kern = j.gk.strided
			}
		default:
			bp = buf.b[:nr*kc]
			packB(j.gk, bp, j.b, j.ldb, j.bRows, false, pc, kc, jc+jr, cols)
		}
		tile := func(a, c []float32, ldc int, beta float32) {
			if rows != nil {
				j.gk.rows(kc, a, bp, rows, c, ldc, j.alpha, beta)
			} else {
				kern(kc, a, bp, ldb, c, ldc, j.alpha, beta)
			}
		}
		for ir := 0; ir < mc; ir += mr {
			panel := ap[ir*kc : (ir+mr)*kc]
			rowsC := min(mr, mc-ir)
			off := (ic+ir)*ldc + jc + jr
			if rowsC == mr && cols == nr {
				tile(panel, c[off:], ldc, beta)
				continue
			}
			// Edge tile: compute the full tile into scratch, then merge
			// only the valid part, so nothing outside C is touched.
			tile(panel, buf.tile, nr, 0)
			for r := range rowsC {
				dst := c[off+r*ldc : off+r*ldc+cols]
				src := buf.tile[r*nr : r*nr+cols]
				if beta == 0 {
					copy(dst, src)
					continue
				}
				for q := range dst {
					dst[q] = src[q] + beta*dst[q]
				}
			}
		}
	}
}

// evenSplit returns the block size that cuts n into the fewest blocks of
// at most limit, as equal as possible, rounded up to a multiple of unit.
func evenSplit(n, limit, unit int) int {
	blocks := (n + limit - 1) / limit
	return roundUp((n+blocks-1)/blocks, unit)
}
