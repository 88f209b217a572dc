// Package tensortest holds the test helpers that need the tensor package,
// apart from testutil so that tensor's own tests can use testutil without
// an import cycle.
package tensortest

import (
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// FromSlice is tensor.FromSlice failing t on an error: a tensor of shape
// from literal values.
func FromSlice(t testing.TB, data []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromSlice(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}
