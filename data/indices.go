package data

import "fmt"

// ReadIndices reads a 1-D .npy of integer sample indices (bulwark select's
// kept.npy, a seed subset, a list to record) and checks that every entry
// lies in [0, n) and appears once. The order is kept. Errors name the
// file and the offending entry.
func ReadIndices(path string, n int) ([]int, error) {
	v, shape, err := ReadNpy[int64](path)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 {
		return nil, fmt.Errorf("data: %s: shape %v, want a vector of indices", path, shape)
	}
	out := make([]int, len(v))
	seen := make([]bool, n)
	for j, x := range v {
		if x < 0 || x >= int64(n) {
			return nil, fmt.Errorf("data: %s: entry %d is %d, outside the %d samples of the data", path, j, x, n)
		}
		if seen[x] {
			return nil, fmt.Errorf("data: %s: entry %d (%d) appears twice", path, j, x)
		}
		seen[x] = true
		out[j] = int(x)
	}
	return out, nil
}
