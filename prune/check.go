package prune

import (
	"fmt"
	"math"
)

// firstNonFinite returns the index of the first NaN or ±Inf in x, or -1.
func firstNonFinite(x []float32) int {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	return -1
}

// checkFinite returns an error naming the first NaN or ±Inf in x, which
// the caller calls what (for example "scores").
func checkFinite(what string, x []float32) error {
	if i := firstNonFinite(x); i >= 0 {
		return fmt.Errorf("%s[%d] is %v", what, i, x[i])
	}
	return nil
}

// checkIndices returns an error unless every entry of idx is in [0, n)
// and none repeats. what names the slice in the message.
func checkIndices(what string, idx []int, n int) error {
	first := make(map[int]int, len(idx))
	for j, i := range idx {
		if i < 0 || i >= n {
			return fmt.Errorf("%s[%d] = %d is outside [0, %d)", what, j, i, n)
		}
		if p, dup := first[i]; dup {
			return fmt.Errorf("%s[%d] = %d repeats %s[%d]", what, j, i, what, p)
		}
		first[i] = j
	}
	return nil
}
