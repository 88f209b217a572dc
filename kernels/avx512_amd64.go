//go:build !purego

package kernels

import (
	"unsafe"

	"github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

// avx512Impl is the AVX-512 implementation for amd64: a 12×32 GEMM
// microkernel (24 ZMM accumulators) for products of many rows, and an 8×32
// one (16 accumulators) for the 16 to 64 rows of small convolutions, which
// 12-row tiles pad by up to 50%, and AVX2's 6×16 for products of at most
// 16 columns (see gemmFor). Its vector kernels are the
// AVX2 ones: they are bound by memory, not by vector width.
//
// It is the default only where the CPU executes 512-bit FMAs at full width
// (fullWidthAVX512); elsewhere, as on AMD Zen 4, whose 512-bit FMAs are
// double-pumped, it is no faster than AVX2 and slower on skinny products,
// so AVX2 stays the default and Use("avx512") selects it.
var avx512Impl = func() impl {
	im := avx2Impl
	im.name, im.rank = "avx512", 10
	im.gemm = &gemmKernel{name: "12x32", mr: 12, nr: 32, kernel: gemmKernel12x32AVX512,
		rows: gemmKernel12x32RowsAVX512, packRows: packRowsAVX2, packBRow: packBRow32AVX512}
	im.gemmNarrow = avx2Impl.gemm
	im.gemmSmall = &gemmKernel{name: "8x32", mr: 8, nr: 32, kernel: gemmKernel8x32AVX512,
		strided: gemmKernel8x32StridedAVX512, rows: gemmKernel8x32RowsAVX512, packRows: packRowsAVX2, packBRow: packBRow32AVX512}
	return im
}()

func init() {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		full, why := fullWidthAVX512()
		if full {
			avx512Impl.rank = 30
		}
		avx512Impl.why = why
		registerImpl(&avx512Impl)
	}
}

// fullWidthAVX512 reports whether this CPU has two 512-bit FMA pipes at full
// width, from a table keyed by vendor, family and model (a table, not a
// timing probe, so that the choice, and with it every result, is the same
// on every run), and why. The table lists what is known:
//   - Intel with AMX (Sapphire Rapids and later Xeons): two 512-bit FMA
//     units. Earlier Intel AVX-512 parts have one or two, which cpuid does
//     not tell, so they keep AVX2.
//   - AMD family 1Ah (Zen 5) server and desktop parts (models 00h–1Fh,
//     Turin; 40h–4Fh, Granite Ridge): a full 512-bit datapath. Zen 5 mobile
//     parts and Zen 4 (family 19h) double-pump 512-bit operations.
func fullWidthAVX512() (bool, string) {
	c := &cpuid.CPU
	return fullWidth(c.VendorID, c.Family, c.Model, c.Supports(cpuid.AMXTILE))
}

// fullWidth is the table of fullWidthAVX512 for a CPU's vendor, family,
// model and whether it has AMX tiles.
func fullWidth(vendor cpuid.Vendor, family, model int, amx bool) (bool, string) {
	switch {
	case vendor == cpuid.Intel && amx:
		return true, "Intel with AMX: two full-width 512-bit FMA units"
	case vendor == cpuid.AMD && family == 0x1A && (model < 0x20 || model >= 0x40 && model < 0x50):
		return true, "AMD Zen 5 (family 1Ah) server or desktop: full-width 512-bit datapath"
	case vendor == cpuid.AMD && family == 0x1A:
		return false, "AMD Zen 5 mobile: 512-bit FMAs double-pumped"
	case vendor == cpuid.AMD && family == 0x19:
		return false, "AMD Zen 4 (family 19h): 512-bit FMAs double-pumped"
	}
	return false, "512-bit FMA width not known for this CPU"
}

// gemmKernel12x32AVX512 adapts gemm12x32AVX512 to gemmKernel.kernel.
func gemmKernel12x32AVX512(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	gemm12x32AVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// gemmKernel12x32RowsAVX512 adapts gemm12x32RowsAVX512 to gemmKernel.rows.
func gemmKernel12x32RowsAVX512(k int, a, b []float32, rows []int, c []float32, ldc int, alpha, beta float32) {
	_ = rows[k-1]
	gemm12x32RowsAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(rows), unsafe.SliceData(c), ldc, alpha, beta)
}

// gemmKernel8x32AVX512 adapts gemm8x32AVX512 to gemmKernel.kernel.
func gemmKernel8x32AVX512(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	gemm8x32AVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// gemmKernel8x32StridedAVX512 adapts gemm8x32StridedAVX512 to gemmKernel.strided.
func gemmKernel8x32StridedAVX512(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	gemm8x32StridedAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), ldc, alpha, beta)
}

// gemmKernel8x32RowsAVX512 adapts gemm8x32RowsAVX512 to gemmKernel.rows.
func gemmKernel8x32RowsAVX512(k int, a, b []float32, rows []int, c []float32, ldc int, alpha, beta float32) {
	_ = rows[k-1]
	gemm8x32RowsAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(rows), unsafe.SliceData(c), ldc, alpha, beta)
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

// gemm12x32RowsAVX512 is gemm12x32AVX512 with row p of B at b + rows[p] floats.
//
//go:noescape
func gemm12x32RowsAVX512(k int, a, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

// gemm8x32AVX512 computes, for i < 8 and j < 32,
//
//	s := sum over p < k of a[p*8+i] * b[p*ldb+j]
//	c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]   (alpha*s when beta == 0)
//
// It prefetches for a packed B (ldb = 32).
//
//go:noescape
func gemm8x32AVX512(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// gemm8x32StridedAVX512 is gemm8x32AVX512 prefetching for B read in place.
//
//go:noescape
func gemm8x32StridedAVX512(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// gemm8x32RowsAVX512 is gemm8x32AVX512 with row p of B at b + rows[p] floats.
//
//go:noescape
func gemm8x32RowsAVX512(k int, a, b *float32, rows *int, c *float32, ldc int, alpha, beta float32)

// packRow32AVX512 computes, for t < panels,
//
//	copy(dst[t*stride:t*stride+32], src[t*32:t*32+32])
//
//go:noescape
func packRow32AVX512(dst *float32, stride int, src *float32, panels int)
