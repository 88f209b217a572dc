//go:build !purego

package kernels

// gemmKernelAVX2 is the 6×16 AVX2+FMA microkernel; see impl.gemmKernel for
// the loop it computes. The slices are trusted to be long enough: the
// driver checks the tile lies inside C.
func gemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	gemmKernelGeneric6x16(k, a, b, c, ldc, alpha, beta)
}

// gemmKernelGeneric6x16 is a temporary Go reference with the AVX2 tile.
func gemmKernelGeneric6x16(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var acc [6 * 16]float32
	for p := 0; p < k; p++ {
		for i := 0; i < 6; i++ {
			av := a[p*6+i]
			for j := 0; j < 16; j++ {
				acc[i*16+j] += av * b[p*16+j]
			}
		}
	}
	for i := 0; i < 6; i++ {
		for j := 0; j < 16; j++ {
			if beta == 0 {
				c[i*ldc+j] = alpha * acc[i*16+j]
			} else {
				c[i*ldc+j] = alpha*acc[i*16+j] + beta*c[i*ldc+j]
			}
		}
	}
}
