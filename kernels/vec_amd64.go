//go:build !purego

package kernels

// AVX2+FMA vector kernels, implemented in vec_amd64.s.
//
// Each kernel works on n elements, where n is the length of the output (or
// of x where there is no output). The callers in vec.go have already checked
// and resliced every other slice to n, so the assembly trusts the lengths.
// The main loops handle 32 floats per iteration in four YMM registers, then
// 8 at a time, then one at a time, so any size and any alignment work and
// nothing past element n-1 is read or written. Every kernel may be called
// with dst aliasing an input (each element is read before it is written).

// axpyAVX2 computes, with a fused multiply-add,
//
//	for i := range x {
//		y[i] += alpha * x[i]
//	}
//
//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

// dotAVX2 computes, in float32 with eight-lane accumulators (four of them in
// the main loop) and fused multiply-adds, summed horizontally at the end,
//
//	var s float32
//	for i := range x {
//		s += x[i] * y[i]
//	}
//	return s
//
//go:noescape
func dotAVX2(x, y []float32) float32

// scaleAVX2 computes
//
//	for i := range x {
//		x[i] *= alpha
//	}
//
//go:noescape
func scaleAVX2(alpha float32, x []float32)

// addAVX2 computes
//
//	for i := range dst {
//		dst[i] = x[i] + y[i]
//	}
//
//go:noescape
func addAVX2(dst, x, y []float32)

// mulAVX2 computes
//
//	for i := range dst {
//		dst[i] = x[i] * y[i]
//	}
//
//go:noescape
func mulAVX2(dst, x, y []float32)

// reluAVX2 computes
//
//	for i := range dst {
//		if x[i] > 0 {
//			dst[i] = x[i]
//		} else {
//			dst[i] = 0 // +0, also for -0 and NaN
//		}
//	}
//
//go:noescape
func reluAVX2(dst, x []float32)

// reluBackwardAVX2 computes
//
//	for i := range dx {
//		if x[i] > 0 {
//			dx[i] = dy[i]
//		} else {
//			dx[i] = 0 // +0, also for a NaN x[i]
//		}
//	}
//
//go:noescape
func reluBackwardAVX2(dx, dy, x []float32)

// sumAVX2 computes, in float32 with eight-lane accumulators (four of them in
// the main loop), summed horizontally at the end,
//
//	var s float32
//	for _, v := range x {
//		s += v
//	}
//	return s
//
//go:noescape
func sumAVX2(x []float32) float32

// maxAVX2 computes
//
//	m := float32(math.Inf(-1))
//	for _, v := range x {
//		if v != v {
//			return v // NaN (the assembly returns the quiet NaN 0x7fc00000)
//		}
//		if v > m {
//			m = v
//		}
//	}
//	return m
//
//go:noescape
func maxAVX2(x []float32) float32

// scaleShiftAVX2 computes, with a fused multiply-add,
//
//	for i := range dst {
//		dst[i] = x[i]*a + b
//	}
//
//go:noescape
func scaleShiftAVX2(dst, x []float32, a, b float32)
