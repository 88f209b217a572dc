//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// avx2Impl is the AVX2+FMA implementation for amd64: a 6×16 GEMM
// microkernel (12 YMM accumulators) and 8-wide vector kernels. (A 4×24
// kernel for products of 16 or 32 rows, where 6-row tiles pad 12%, was
// tried and measured no faster: see docs/kernels.md.)
var avx2Impl = impl{
	name:          "avx2",
	rank:          20,
	gemm:          &gemmKernel{name: "6x16", mr: 6, nr: 16, kernel: gemmKernel6x16AVX2, strided: gemmKernel6x16StridedAVX2, rows: gemmKernel6x16RowsAVX2, packA6: packA6AVX2, packBRow: packBRow16AVX2},
	axpy:          axpyAVX2,
	dot:           dotAVX2,
	scale:         scaleAVX2,
	add:           addAVX2,
	mul:           mulAVX2,
	relu:          reluAVX2,
	reluBackward:  reluBackwardAVX2,
	sum:           sumAVX2,
	max:           maxAVX2,
	scaleShift:    scaleShiftAVX2,
	im2colRowsS1:  im2colRowsS1AVX2,
	col2imRowsS1:  col2imRowsS1AVX2,
	copyRows:      copyRowsAVX2,
	deinterleave:  deinterleaveAVX2,
	maxPool2x2Row: maxPool2x2RowAVX2,
	interleave:    interleaveAVX2,
}

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		registerImpl(&avx2Impl)
	}
}
