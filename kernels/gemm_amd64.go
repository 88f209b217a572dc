//go:build !purego

package kernels

import "unsafe"

// gemmKernelAVX2 is the 6×16 AVX2+FMA microkernel on packed panels; see
// impl.gemmKernel for the loop it computes.
func gemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	gemmKernelStridedAVX2(k, a, b, 16, c, ldc, alpha, beta)
}

// gemmKernelStridedAVX2 is gemmKernelAVX2 with B rows ldb apart. The
// driver guarantees that a holds 6·k values, that b holds k rows of 16 at
// stride ldb and that the 6×16 tile at c with stride ldc lies inside C, so
// the assembly does no bounds checks.
func gemmKernelStridedAVX2(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	gemm6x16AVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// gemm6x16AVX2 computes, for i < 6 and j < 16,
//
//	s := sum over p < k of a[p*6+i] * b[p*ldb+j]
//	c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]   (alpha*s when beta == 0)
//
//go:noescape
func gemm6x16AVX2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// packBRowAVX2 is packBRowGeneric for nr = 16.
func packBRowAVX2(dst []float32, stride int, src []float32, nr int) {
	panels := len(src) / 16
	if nr != 16 || (panels-1)*stride+16 > len(dst) {
		panic("kernels: packBRowAVX2 misuse")
	}
	packRow16AVX2(unsafe.SliceData(dst), stride, unsafe.SliceData(src), panels)
}

// packRow16AVX2 computes, for t < panels,
//
//	copy(dst[t*stride:t*stride+16], src[t*16:t*16+16])
//
//go:noescape
func packRow16AVX2(dst *float32, stride int, src *float32, panels int)
