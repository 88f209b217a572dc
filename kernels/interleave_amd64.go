//go:build !purego

package kernels

import (
	"math"
	"unsafe"
)

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

// maxPool2x2RowAVX2 is maxPool2x2RowGo with blocks of eight outputs in
// assembly; MaxPool2x2Row has checked the lengths. A last partial block
// runs through the same assembly on copies padded with −Inf (padding
// lanes are dropped; each output reads only its own four inputs), since
// the Go scan's data-dependent branches cost several times more on the
// short rows of small images (SmallCNN's pooled rows are 12 and 4 wide).
func maxPool2x2RowAVX2(y []float32, idx []int32, r0, r1 []float32, at0, w int) {
	n := len(y) &^ 7
	var pos [8]int32
	if n > 0 {
		for k := range pos {
			pos[k] = int32(at0 + 2*k)
		}
		maxPool2x2Row8Asm(unsafe.SliceData(y), unsafe.SliceData(idx), unsafe.SliceData(r0), unsafe.SliceData(r1),
			&pos, int32(w), n/8)
	}
	rem := len(y) - n
	if rem == 0 {
		return
	}
	var a, b [16]float32
	var ty [8]float32
	var ti [8]int32
	for k := range a {
		a[k], b[k] = float32(math.Inf(-1)), float32(math.Inf(-1))
	}
	copy(a[:], r0[2*n:2*len(y)])
	copy(b[:], r1[2*n:2*len(y)])
	for k := range pos {
		pos[k] = int32(at0 + 2*n + 2*k)
	}
	maxPool2x2Row8Asm(&ty[0], &ti[0], &a[0], &b[0], &pos, int32(w), 1)
	copy(y[n:], ty[:rem])
	copy(idx[n:], ti[:rem])
}

// maxPool2x2Row8Asm computes blocks of eight outputs of MaxPool2x2Row;
// see the assembly.
//
//go:noescape
func maxPool2x2Row8Asm(y *float32, idx *int32, r0, r1 *float32, pos *[8]int32, w int32, blocks int)
