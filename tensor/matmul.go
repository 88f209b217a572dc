package tensor

import (
	"github.com/bulwark-ml/bulwark/internal/freelist"
	"github.com/bulwark-ml/bulwark/kernels"
)

// batchGrainFlops is the least work per part when BatchedMatMul spreads
// batches over threads; it matches the size below which kernels.Sgemm
// keeps a single product on one thread.
const batchGrainFlops = 1 << 21

// opDims returns the rows and columns of op(x) for a stored rows×cols
// matrix shape, where op transposes if trans is set.
func opDims(shape []int, trans bool) (rows, cols int) {
	if trans {
		return shape[1], shape[0]
	}
	return shape[0], shape[1]
}

// matDims checks that the trailing two axes of a and b form a product
// op(a)·op(b) and returns its m, n and k, panicking, naming op and both
// shapes, if they do not.
func matDims(op string, a, b []int, transA, transB bool) (m, n, k int) {
	m, k = opDims(a[len(a)-2:], transA)
	k2, n := opDims(b[len(b)-2:], transB)
	if k != k2 {
		panicf(op, "shapes %s and %s do not match (transA=%v, transB=%v: inner sizes %d and %d)",
			fmtShape(a), fmtShape(b), transA, transB, k, k2)
	}
	return m, n, k
}

// MatMul returns op(a)·op(b) for 2-D a and b, where op transposes its
// argument if transA or transB is set (without copying it), so a Linear
// layer's backward pass needs no transposed copies. out must not share
// storage with a or b.
func MatMul(out, a, b *Tensor, transA, transB bool) *Tensor {
	if len(a.shape) != 2 || len(b.shape) != 2 {
		panicf("MatMul", "shapes %s and %s are not both 2-D", fmtShape(a.shape), fmtShape(b.shape))
	}
	m, n, k := matDims("MatMul", a.shape, b.shape, transA, transB)
	out = output("MatMul", out, []int{m, n})
	kernels.Sgemm(transA, transB, m, n, k, 1, a.data, max(1, a.shape[1]), b.data, max(1, b.shape[1]),
		0, out.data, max(1, n))
	return out
}

// BatchedMatMul returns op(a[i])·op(b[i]) for every i, as [B, M, N], for
// a of shape [B, M, K] and b of shape [B, K, N] (with op as in MatMul,
// acting on the last two axes). b may also be 2-D, one matrix shared by
// the whole batch. Small products are spread over threads by batch, large
// ones each use all threads. out must not share storage with a or b.
func BatchedMatMul(out, a, b *Tensor, transA, transB bool) *Tensor {
	const op = "BatchedMatMul"
	if len(a.shape) != 3 || (len(b.shape) != 3 && len(b.shape) != 2) ||
		(len(b.shape) == 3 && b.shape[0] != a.shape[0]) {
		panicf(op, "shapes %s and %s are not [B, M, K] and [B, K, N] or [K, N]",
			fmtShape(a.shape), fmtShape(b.shape))
	}
	m, n, k := matDims(op, a.shape, b.shape, transA, transB)
	batch := a.shape[0]
	out = output(op, out, []int{batch, m, n})
	j := batchedJob{
		transA: transA, transB: transB, m: m, n: n, k: k,
		a: a.data, lda: max(1, a.shape[2]), strideA: len(a.data) / max(1, batch),
		b: b.data, ldb: max(1, b.shape[len(b.shape)-1]),
		c: out.data, strideC: m * n,
	}
	if len(b.shape) == 3 {
		j.strideB = len(b.data) / max(1, batch)
	} else if !transA {
		// One shared, untransposed B: the batch is one product with B·M rows.
		j.m, j.strideA, j.strideC = batch*m, 0, 0
		batch = min(batch, 1)
	}
	flops := 2 * j.m * n * k
	if parts := numParts(batch, (batchGrainFlops+flops-1)/max(1, flops)); parts > 1 {
		runChunked(&batchedRuns, j, batch, parts)
	} else {
		j.runRange(0, batch)
	}
	return out
}

// batchedJob is a batch of products with the same shapes; a unit is one
// product. A zero stride shares one operand across the batch.
type batchedJob struct {
	transA, transB            bool
	m, n, k                   int
	a, b, c                   []float32
	lda, ldb                  int
	strideA, strideB, strideC int
}

var batchedRuns = freelist.List[chunked[batchedJob, *batchedJob]]{Max: scratchMax}

// runRange computes products [lo, hi).
func (j *batchedJob) runRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		kernels.Sgemm(j.transA, j.transB, j.m, j.n, j.k, 1,
			j.a[i*j.strideA:], j.lda, j.b[i*j.strideB:], j.ldb,
			0, j.c[i*j.strideC:], max(1, j.n))
	}
}
