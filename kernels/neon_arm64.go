//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// neonImpl is the NEON (ASIMD) implementation for arm64: an 8×8 GEMM
// microkernel (16 accumulator vectors, by-element FMLA) and vector kernels
// that process 16 floats per main-loop iteration. The assembly is in
// gemm_arm64.s and vec_arm64.s.
var neonImpl = impl{
	name:          "neon",
	rank:          20,
	gemm:          &gemmKernel{name: "8x8", mr: 8, nr: 8, kernel: gemmKernel8x8NEON, packBRow: packBRowNEON},
	axpy:          axpyNEON,
	dot:           dotNEON,
	scale:         scaleNEON,
	add:           addNEON,
	mul:           mulNEON,
	relu:          reluNEON,
	reluBackward:  reluBackwardNEON,
	sum:           sumNEON,
	max:           maxNEON,
	scaleShift:    scaleShiftNEON,
	im2colRowsS1:  im2colRowsS1Go,
	col2imRowsS1:  col2imRowsS1Go,
	copyRows:      copyRowsGo,
	deinterleave:  deinterleaveGo,
	maxPool2x2Row: maxPool2x2RowGo,
	interleave:    interleaveGo,
}

func init() {
	// ASIMD is mandatory in ARMv8-A, but ask anyway.
	if cpu.ARM64.HasASIMD {
		registerImpl(&neonImpl)
	}
}

// gemmKernel8x8NEON is the 8×8 NEON microkernel; see gemmKernel for the
// loop it computes. The driver guarantees that a holds 8·k values, that b
// holds k rows of 8 at stride ldb and that the 8×8 tile at c with stride
// ldc lies inside C; the checks below are cheap insurance, and the
// assembly does no bounds checks.
func gemmKernel8x8NEON(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	if k > 0 {
		_ = a[8*k-1]
		_ = b[(k-1)*ldb+7]
	}
	_ = c[7*ldc+7]
	gemmNEON8x8(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// packBRowNEON is packBRowGeneric for nr = 8.
func packBRowNEON(dst []float32, stride int, src []float32) {
	packRowChecked(packRow8NEON, 8, dst, stride, src)
}

// gemmNEON8x8 computes, for the packed A micro-panel at a (8 floats per
// p), the B micro-panel at b (rows of 8 floats, ldb apart) and the 8×8
// tile of C at c with row stride ldc:
//
//	for i := 0; i < 8; i++ {
//		for j := 0; j < 8; j++ {
//			var s float32
//			for p := 0; p < k; p++ { s += a[p*8+i] * b[p*ldb+j] }
//			if beta == 0 { c[i*ldc+j] = alpha * s } else { c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] }
//		}
//	}
//
// With beta == 0 it does not read C.
//
//go:noescape
func gemmNEON8x8(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// packRow8NEON computes, for t < panels,
//
//	copy(dst[t*stride:t*stride+8], src[t*8:t*8+8])
//
//go:noescape
func packRow8NEON(dst *float32, stride int, src *float32, panels int)

// axpyNEON computes
//
//	for i := range x { y[i] += alpha * x[i] }
//
//go:noescape
func axpyNEON(alpha float32, x, y []float32)

// dotNEON computes
//
//	var s float32
//	for i := range x { s += x[i] * y[i] }
//	return s
//
// with four vector accumulators, so the rounding differs from that loop.
//
//go:noescape
func dotNEON(x, y []float32) float32

// scaleNEON computes
//
//	for i := range x { x[i] *= alpha }
//
//go:noescape
func scaleNEON(alpha float32, x []float32)

// addNEON computes
//
//	for i := range dst { dst[i] = x[i] + y[i] }
//
//go:noescape
func addNEON(dst, x, y []float32)

// mulNEON computes
//
//	for i := range dst { dst[i] = x[i] * y[i] }
//
//go:noescape
func mulNEON(dst, x, y []float32)

// reluNEON computes
//
//	for i := range dst { if x[i] > 0 { dst[i] = x[i] } else { dst[i] = 0 } }
//
// so NaN and -0 become +0.
//
//go:noescape
func reluNEON(dst, x []float32)

// reluBackwardNEON computes
//
//	for i := range dx { if x[i] > 0 { dx[i] = dy[i] } else { dx[i] = 0 } }
//
//go:noescape
func reluBackwardNEON(dx, dy, x []float32)

// sumNEON computes
//
//	var s float32
//	for _, v := range x { s += v }
//	return s
//
// with four vector accumulators, so the rounding differs from that loop.
//
//go:noescape
func sumNEON(x []float32) float32

// maxNEON computes
//
//	m := float32(math.Inf(-1))
//	for _, v := range x { if v != v { return v }; m = max(m, v) }
//	return m
//
// It returns -Inf for an empty x and NaN if any element is NaN.
//
//go:noescape
func maxNEON(x []float32) float32

// scaleShiftNEON computes
//
//	for i := range dst { dst[i] = x[i]*a + b }
//
// with a fused multiply-add.
//
//go:noescape
func scaleShiftNEON(dst, x []float32, a, b float32)
