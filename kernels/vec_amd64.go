//go:build !purego

package kernels

// Placeholders until the AVX2 vector kernels land: they delegate to Go.

func axpyAVX2(alpha float32, x, y []float32)        { axpyGeneric(alpha, x, y) }
func dotAVX2(x, y []float32) float32                { return dotGeneric(x, y) }
func scaleAVX2(alpha float32, x []float32)          { scaleGeneric(alpha, x) }
func addAVX2(dst, x, y []float32)                   { addGeneric(dst, x, y) }
func mulAVX2(dst, x, y []float32)                   { mulGeneric(dst, x, y) }
func reluAVX2(dst, x []float32)                     { reluGeneric(dst, x) }
func reluBackwardAVX2(dx, dy, x []float32)          { reluBackwardGeneric(dx, dy, x) }
func sumAVX2(x []float32) float32                   { return sumGeneric(x) }
func maxAVX2(x []float32) float32                   { return maxGeneric(x) }
func scaleShiftAVX2(dst, x []float32, a, b float32) { scaleShiftGeneric(dst, x, a, b) }
