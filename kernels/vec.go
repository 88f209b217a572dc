package kernels

import "fmt"

// The vector kernels below operate on the first n elements, where n is the
// length of the output (or of x where there is no output). Every other
// slice must be at least that long, or the kernel panics naming it.

func checkLen(kernel, name string, have, need int) {
	if have < need {
		panic(fmt.Sprintf("kernels.%s: len(%s) = %d, need at least %d", kernel, name, have, need))
	}
}

// Axpy computes y[i] += alpha*x[i] for i < len(x).
func Axpy(alpha float32, x, y []float32) {
	checkLen("Axpy", "y", len(y), len(x))
	active.axpy(alpha, x, y[:len(x)])
}

// Dot returns the sum of x[i]*y[i] for i < len(x).
func Dot(x, y []float32) float32 {
	checkLen("Dot", "y", len(y), len(x))
	return active.dot(x, y[:len(x)])
}

// Scale computes x[i] *= alpha.
func Scale(alpha float32, x []float32) { active.scale(alpha, x) }

// Add computes dst[i] = x[i] + y[i] for i < len(dst). dst may alias x or y.
func Add(dst, x, y []float32) {
	checkLen("Add", "x", len(x), len(dst))
	checkLen("Add", "y", len(y), len(dst))
	active.add(dst, x[:len(dst)], y[:len(dst)])
}

// Mul computes dst[i] = x[i] * y[i] for i < len(dst). dst may alias x or y.
func Mul(dst, x, y []float32) {
	checkLen("Mul", "x", len(x), len(dst))
	checkLen("Mul", "y", len(y), len(dst))
	active.mul(dst, x[:len(dst)], y[:len(dst)])
}

// Relu computes dst[i] = x[i] < 0 ? +0 : x[i] for i < len(dst), as
// PyTorch's relu does: negatives (and -Inf) become +0, while a NaN passes
// through unchanged (bit for bit, payload and sign included) instead of
// being erased, and so do -0 and +Inf. Every implementation gives the same
// bits. dst may alias x.
func Relu(dst, x []float32) {
	checkLen("Relu", "x", len(x), len(dst))
	active.relu(dst, x[:len(dst)])
}

// ReluBackward computes dx[i] = dy[i] if x[i] > 0, else +0, for i < len(dx):
// the gradient of ReLU given its input x (or equally its output, which is
// positive exactly where x is). The mask x[i] > 0 is false for a NaN, so a
// NaN x[i] gives dx[i] = +0 even though Relu passes that NaN through.
// (PyTorch's relu backward, threshold_backward(dy, y, 0), zeroes where
// y <= 0 instead, which passes dy through at a NaN; the two agree
// everywhere else, -0 included.) dx may alias dy.
func ReluBackward(dx, dy, x []float32) {
	checkLen("ReluBackward", "dy", len(dy), len(dx))
	checkLen("ReluBackward", "x", len(x), len(dx))
	active.reluBackward(dx, dy[:len(dx)], x[:len(dx)])
}

// Sum returns the sum of the elements of x.
func Sum(x []float32) float32 { return active.sum(x) }

// Max returns the largest element of x: -Inf for an empty slice, and NaN
// if any element is NaN.
func Max(x []float32) float32 { return active.max(x) }

// ScaleShift computes dst[i] = x[i]*a + b for i < len(dst). dst may alias x.
func ScaleShift(dst, x []float32, a, b float32) {
	checkLen("ScaleShift", "x", len(x), len(dst))
	active.scaleShift(dst, x[:len(dst)], a, b)
}

// ScaleShiftChannels applies a per-channel affine map to an NCHW batch laid
// out as n×c×spatial: dst[(i*c+ch)*spatial+s] = x[...]*scale[ch] + shift[ch].
// This is BatchNorm in inference, or a bias add with scale all ones.
func ScaleShiftChannels(dst, x, scale, shift []float32, n, c, spatial int) {
	if n < 0 || c < 0 || spatial < 0 {
		panic(fmt.Sprintf("kernels.ScaleShiftChannels: negative size n=%d c=%d spatial=%d", n, c, spatial))
	}
	size := n * c * spatial
	checkLen("ScaleShiftChannels", "dst", len(dst), size)
	checkLen("ScaleShiftChannels", "x", len(x), size)
	checkLen("ScaleShiftChannels", "scale", len(scale), c)
	checkLen("ScaleShiftChannels", "shift", len(shift), c)
	for i := 0; i < n*c; i++ {
		ch := i % c
		off := i * spatial
		active.scaleShift(dst[off:off+spatial], x[off:off+spatial], scale[ch], shift[ch])
	}
}

// CopyRows copies rows rows of width floats from src, whose rows are
// srcStride apart, to dst, whose rows are dstStride apart:
//
//	for r := 0; r < rows; r++ {
//		copy(dst[r*dstStride:r*dstStride+width], src[r*srcStride:r*srcStride+width])
//	}
//
// It moves images into and out of padded layouts, where rows are a few
// dozen floats and a copy call per row would cost more than the copy.
func CopyRows(dst []float32, dstStride int, src []float32, srcStride, rows, width int) {
	if rows < 0 || width < 0 || dstStride < width || srcStride < width {
		panic(fmt.Sprintf("kernels.CopyRows: rows=%d width=%d dstStride=%d srcStride=%d", rows, width, dstStride, srcStride))
	}
	if rows == 0 || width == 0 {
		return
	}
	checkLen("CopyRows", "dst", len(dst), (rows-1)*dstStride+width)
	checkLen("CopyRows", "src", len(src), (rows-1)*srcStride+width)
	active.copyRows(dst, dstStride, src, srcStride, rows, width)
}

func copyRowsGo(dst []float32, dstStride int, src []float32, srcStride, rows, width int) {
	for r := range rows {
		copy(dst[r*dstStride:r*dstStride+width], src[r*srcStride:r*srcStride+width])
	}
}
