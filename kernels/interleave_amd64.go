//go:build !purego

package kernels

import "unsafe"

// deinterleaveAVX2 is deinterleaveGo with blocks of 8 pairs in assembly
// and the rest in Go; Deinterleave has checked the lengths.
func deinterleaveAVX2(even, odd, src []float32) {
	n := min(len(even), len(odd)) &^ 7
	if n > 0 {
		deinterleave8Asm(unsafe.SliceData(even), unsafe.SliceData(odd), unsafe.SliceData(src), n/8)
	}
	deinterleaveGo(even[n:], odd[n:], src[2*n:])
}

// interleaveAVX2 is interleaveGo with blocks of 8 pairs in assembly.
func interleaveAVX2(dst, even, odd []float32) {
	n := min(len(even), len(odd)) &^ 7
	if n > 0 {
		interleave8Asm(unsafe.SliceData(dst), unsafe.SliceData(even), unsafe.SliceData(odd), n/8)
	}
	interleaveGo(dst[2*n:], even[n:], odd[n:])
}

// deinterleave8Asm deinterleaves blocks of 16 floats of src into 8 of
// even and 8 of odd.
//
//go:noescape
func deinterleave8Asm(even, odd, src *float32, blocks int)

// interleave8Asm is the inverse of deinterleave8Asm.
//
//go:noescape
func interleave8Asm(dst, even, odd *float32, blocks int)
