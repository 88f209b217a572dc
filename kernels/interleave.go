package kernels

import (
	"fmt"
	"math"
)

// Deinterleave splits src into its even- and odd-indexed elements:
//
//	for i := range even { even[i] = src[2*i] }
//	for i := range odd { odd[i] = src[2*i+1] }
//
// A stride-2 convolution splits each image row this way into the two
// column phases it reads (see tensor's implicit GEMM).
func Deinterleave(even, odd, src []float32) {
	checkLen("Deinterleave", "src", len(src), max(2*len(even)-1, 2*len(odd)))
	active.deinterleave(even, odd, src)
}

// Interleave is the inverse of Deinterleave:
//
//	for i := range even { dst[2*i] = even[i] }
//	for i := range odd { dst[2*i+1] = odd[i] }
func Interleave(dst, even, odd []float32) {
	checkLen("Interleave", "dst", len(dst), max(2*len(even)-1, 2*len(odd)))
	active.interleave(dst, even, odd)
}

func deinterleaveGo(even, odd, src []float32) {
	for i := range even {
		even[i] = src[2*i]
	}
	for i := range odd {
		odd[i] = src[2*i+1]
	}
}

func interleaveGo(dst, even, odd []float32) {
	for i, v := range even {
		dst[2*i] = v
	}
	for i, v := range odd {
		dst[2*i+1] = v
	}
}

// MaxPool2x2Row computes one output row of a 2×2 max pooling at stride 2
// from the two input rows r0 and r1 it covers: the maximum of each window
// and, in idx, the index of its winner in the input plane, the window's
// top-left input being at index at0+2·o and the row below w further:
//
//	for o := range y {
//		best, at := r0[2*o], 0
//		for k, v := range [3]float32{r0[2*o+1], r1[2*o], r1[2*o+1]} {
//			if v > best || v != v {
//				best, at = v, [3]int{1, w, w + 1}[k]
//			}
//		}
//		y[o], idx[o] = best, int32(at0+2*o+at)
//	}
//
// A NaN wins, a later NaN over an earlier one, and ties keep the first, as
// PyTorch's max pooling scans a window.
func MaxPool2x2Row(y []float32, idx []int32, r0, r1 []float32, at0, w int) {
	checkLen("MaxPool2x2Row", "idx", len(idx), len(y))
	checkLen("MaxPool2x2Row", "r0", len(r0), 2*len(y))
	checkLen("MaxPool2x2Row", "r1", len(r1), 2*len(y))
	if at0 < 0 || w < 0 || at0+2*len(y)+w > math.MaxInt32 {
		panic(fmt.Sprintf("kernels.MaxPool2x2Row: at0=%d w=%d out of int32 range", at0, w))
	}
	active.maxPool2x2Row(y, idx, r0, r1, at0, w)
}

func maxPool2x2RowGo(y []float32, idx []int32, r0, r1 []float32, at0, w int) {
	r0, r1, idx = r0[:2*len(y)], r1[:2*len(y)], idx[:len(y)]
	for o := range y {
		i := 2 * o
		best, at := r0[i], 0
		if b := r0[i+1]; b > best || b != b {
			best, at = b, 1
		}
		if c := r1[i]; c > best || c != c {
			best, at = c, w
		}
		if d := r1[i+1]; d > best || d != d {
			best, at = d, w+1
		}
		y[o], idx[o] = best, int32(at0+i+at)
	}
}
