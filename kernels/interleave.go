package kernels

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
