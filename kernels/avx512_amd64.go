//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// avx512Impl is the AVX-512 implementation for amd64: a 12×32 GEMM
// microkernel (24 ZMM accumulators). Its vector kernels are the AVX2 ones:
// they are bound by memory, not by vector width. It ranks below AVX2: on
// AMD Zen 4 (this project's machines), 512-bit FMAs are double-pumped, so
// it is no faster on square products and slower on skinny ones, where its
// 12-row tile wastes more. On CPUs with two full-width 512-bit FMA units it
// should double the GEMM peak; select it with Use("avx512") there.
var avx512Impl = func() impl {
	im := avx2Impl
	im.name, im.rank = "avx512", 10
	im.gemm = &gemmKernel{name: "12x32", mr: 12, nr: 32, kernel: gemmKernel12x32AVX512, packBRow: packBRow32AVX512}
	return im
}()

func init() {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		registerImpl(&avx512Impl)
	}
}

// gemmKernel12x32AVX512 adapts gemm12x32AVX512 to gemmKernel.kernel.
func gemmKernel12x32AVX512(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	gemm12x32AVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// packBRow32AVX512 is packBRowGeneric(32) in assembly.
func packBRow32AVX512(dst []float32, stride int, src []float32) {
	packRowChecked(packRow32AVX512, 32, dst, stride, src)
}

// gemm12x32AVX512 computes, for i < 12 and j < 32,
//
//	s := sum over p < k of a[p*12+i] * b[p*ldb+j]
//	c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]   (alpha*s when beta == 0)
//
//go:noescape
func gemm12x32AVX512(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// packRow32AVX512 computes, for t < panels,
//
//	copy(dst[t*stride:t*stride+32], src[t*32:t*32+32])
//
//go:noescape
func packRow32AVX512(dst *float32, stride int, src *float32, panels int)
