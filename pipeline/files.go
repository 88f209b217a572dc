package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/atomicfile"
)

// Stage files are plain .npy arrays and JSON; these readers check what a
// stage needs of them and name the file in every error.

// ReadVector reads a one-dimensional float32 .npy (scores), rejecting
// NaN and infinite entries.
func ReadVector(path string) ([]float32, error) {
	v, shape, err := data.ReadNpy[float32](path)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 {
		return nil, fmt.Errorf("%s: shape %v, want a vector", path, shape)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%s: entry %d is %v", path, i, x)
		}
	}
	return v, nil
}

// ReadMatrix reads a two-dimensional float32 .npy (embeddings) and
// returns it with its row count and width, rejecting non-finite entries.
func ReadMatrix(path string) (m []float32, rows, cols int, err error) {
	v, shape, err := data.ReadNpy[float32](path)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(shape) != 2 {
		return nil, 0, 0, fmt.Errorf("%s: shape %v, want a matrix (samples × dimensions)", path, shape)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, 0, 0, fmt.Errorf("%s: row %d column %d is %v", path, i/shape[1], i%shape[1], x)
		}
	}
	return v, shape[0], shape[1], nil
}

// ReadIndices reads a vector of sample indices (any integer dtype) and
// checks that they are distinct, ascending and below n.
func ReadIndices(path string, n int) ([]int, error) {
	idx, err := data.ReadIndices(path, n)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(idx); i++ {
		if idx[i] < idx[i-1] {
			return nil, fmt.Errorf("%s: entries %d and %d (%d, %d) are not ascending", path, i-1, i, idx[i-1], idx[i])
		}
	}
	return idx, nil
}

// ReadKept reads a kept set: pool indices below n, ascending, which may
// repeat (random-replace draws with replacement).
func ReadKept(path string, n int) ([]int, error) {
	v, shape, err := data.ReadNpy[int64](path)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 {
		return nil, fmt.Errorf("%s: shape %v, want a vector of indices", path, shape)
	}
	idx := make([]int, len(v))
	for j, x := range v {
		if x < 0 || x >= int64(n) || j > 0 && x < v[j-1] {
			return nil, fmt.Errorf("%s: entry %d (%d) is not an ascending index below %d", path, j, x, n)
		}
		idx[j] = int(x)
	}
	return idx, nil
}

// formatRatio formats a prune ratio for file and run names.
func formatRatio(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// WriteIndices writes indices as an int64 vector.
func WriteIndices(path string, idx []int) error {
	v := make([]int64, len(idx))
	for i, x := range idx {
		v[i] = int64(x)
	}
	return data.WriteNpy(path, []int{len(v)}, v)
}

// WriteVector writes a float32 vector.
func WriteVector(path string, v []float32) error {
	return data.WriteNpy(path, []int{len(v)}, v)
}

// WriteJSON writes v as indented JSON, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// readJSON reads path into v; ok is false if the file does not exist.
func readJSON(path string, v any) (ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
