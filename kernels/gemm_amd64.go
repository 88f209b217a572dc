//go:build !purego

package kernels

import "unsafe"

// gemmKernel6x16AVX2 adapts gemm6x16AVX2 to gemmKernel.kernel.
func gemmKernel6x16AVX2(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	gemm6x16AVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// gemmKernel6x16StridedAVX2 adapts gemm6x16StridedAVX2 to gemmKernel.strided.
func gemmKernel6x16StridedAVX2(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	gemm6x16StridedAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// gemmKernel6x16RowsAVX2 adapts gemm6x16RowsAVX2 to gemmKernel.rows.
func gemmKernel6x16RowsAVX2(k int, a, b []float32, rows []int, c []float32, ldc int, alpha, beta float32) {
	_ = rows[k-1]
	gemm6x16RowsAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(rows), unsafe.SliceData(c), ldc, alpha, beta)
}

// packBRow16AVX2 is packBRowGeneric(16) in assembly.
func packBRow16AVX2(dst []float32, stride int, src []float32) {
	packRowChecked(packRow16AVX2, 16, dst, stride, src)
}

// gemm6x16AVX2 computes, for i < 6 and j < 16,
//
//	s := sum over p < k of a[p*6+i] * b[p*ldb+j]
//	c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]   (alpha*s when beta == 0)
//
// It prefetches for a packed B (ldb = 16).
//
//go:noescape
func gemm6x16AVX2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// gemm6x16RowsAVX2 is gemm6x16AVX2 with row p of B at b + rows[p] floats.
//
//go:noescape
func gemm6x16RowsAVX2(k int, a, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

// gemm6x16StridedAVX2 is gemm6x16AVX2 prefetching for B read in place.
//
//go:noescape
func gemm6x16StridedAVX2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// packRow16AVX2 computes, for t < panels,
//
//	copy(dst[t*stride:t*stride+16], src[t*16:t*16+16])
//
//go:noescape
func packRow16AVX2(dst *float32, stride int, src *float32, panels int)

// im2colRowsS1AVX2 is im2colRowsS1Go in assembly. The caller (Im2col's
// walk) has checked the geometry against the slices.
func im2colRowsS1AVX2(dst, src []float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int) {
	_ = dst[oh*ow-1]
	im2colRowsS1Asm(unsafe.SliceData(dst), unsafe.SliceData(src), w, h, oh, ow, iy0, sh, lo, hi, xoff)
}

// im2colRowsS1Asm computes im2colRowsS1Go on raw pointers.
//
//go:noescape
func im2colRowsS1Asm(dst, src *float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int)

// col2imRowsS1AVX2 is col2imRowsS1Go in assembly. The caller (Col2im's
// walk) has checked the geometry against the slices.
func col2imRowsS1AVX2(src, x []float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int) {
	_ = src[oh*ow-1]
	col2imRowsS1Asm(unsafe.SliceData(src), unsafe.SliceData(x), w, h, oh, ow, iy0, sh, lo, hi, xoff)
}

// col2imRowsS1Asm computes col2imRowsS1Go on raw pointers.
//
//go:noescape
func col2imRowsS1Asm(src, x *float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int)

// copyRowsAVX2 is copyRowsGo in assembly; CopyRows has checked the bounds.
func copyRowsAVX2(dst []float32, dstStride int, src []float32, srcStride, rows, width int) {
	copyRowsAsm(unsafe.SliceData(dst), dstStride, unsafe.SliceData(src), srcStride, rows, width)
}

// copyRowsAsm computes copyRowsGo on raw pointers.
//
//go:noescape
func copyRowsAsm(dst *float32, dstStride int, src *float32, srcStride, rows, width int)

// packA6AVX2 is packA6Go with whole blocks of eight columns transposed in
// assembly. The assembly's last store spills two floats past its block, so
// the final block goes through Go when nothing follows it in dst.
func packA6AVX2(dst, r0, r1, r2, r3, r4, r5 []float32, kc int) {
	blocks := kc / 8
	if kc%8 == 0 && blocks > 0 {
		blocks--
	}
	if blocks > 0 {
		_, _, _, _, _, _, _ = dst[6*kc-1], r0[8*blocks-1], r1[8*blocks-1], r2[8*blocks-1], r3[8*blocks-1], r4[8*blocks-1], r5[8*blocks-1]
		packA6x8AVX2(unsafe.SliceData(dst), unsafe.SliceData(r0), unsafe.SliceData(r1), unsafe.SliceData(r2),
			unsafe.SliceData(r3), unsafe.SliceData(r4), unsafe.SliceData(r5), blocks)
	}
	d := 8 * blocks
	packA6Go(dst[6*d:], r0[d:], r1[d:], r2[d:], r3[d:], r4[d:], r5[d:], kc-d)
}

// packRowsAVX2 is packRowsGo with whole blocks of eight columns of four or
// eight rows transposed in assembly, the rest in Go.
func packRowsAVX2(dst []float32, stride int, rows [8][]float32, n, kc int) {
	d := 0
	if blocks := kc / 8; blocks > 0 && (n == 8 || n == 4) {
		d = 8 * blocks
		var ptrs [8]*float32
		for r := range n {
			ptrs[r] = unsafe.SliceData(rows[r][:d])
		}
		_ = dst[(d-1)*stride+n-1]
		if n == 8 {
			packA8x8AVX2(unsafe.SliceData(dst), stride, &ptrs, blocks)
		} else {
			packA4x8AVX2(unsafe.SliceData(dst), stride, &ptrs, blocks)
		}
	}
	if d < kc {
		var rest [8][]float32
		for r := range n {
			rest[r] = rows[r][d:]
		}
		packRowsGo(dst[d*stride:], stride, rest, n, kc-d)
	}
}

// packA8x8AVX2 and packA4x8AVX2 pack blocks·8 columns of eight and four
// rows; see the assembly.
//
//go:noescape
func packA8x8AVX2(dst *float32, stride int, rows *[8]*float32, blocks int)

//go:noescape
func packA4x8AVX2(dst *float32, stride int, rows *[8]*float32, blocks int)

// packA6x8AVX2 packs blocks·8 columns of six rows; see the assembly.
//
//go:noescape
func packA6x8AVX2(dst *float32, r0, r1, r2, r3, r4, r5 *float32, blocks int)
