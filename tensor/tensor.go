package tensor

import (
	"fmt"
	"slices"
)

// Tensor is a dense float32 array with a shape, stored contiguously in
// row-major order. Reshape returns views that share the storage.
type Tensor struct {
	shape []int
	data  []float32
}

// New returns a zero tensor of the given shape. It panics on a negative
// dimension.
func New(shape ...int) *Tensor {
	n := checkShape("New", shape)
	return &Tensor{shape: slices.Clone(shape), data: make([]float32, n)}
}

// FromSlice wraps data (without copying) as a tensor of the given shape.
// It returns an error if the shape is invalid or does not match len(data),
// since the data usually comes from outside the engine.
func FromSlice(data []float32, shape ...int) (*Tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor.FromSlice: negative dimension in shape %v", shape)
		}
		n *= d
	}
	if n != len(data) {
		return nil, fmt.Errorf("tensor.FromSlice: shape %v needs %d elements, have %d", shape, n, len(data))
	}
	return &Tensor{shape: slices.Clone(shape), data: data}, nil
}

// checkShape returns the element count of shape, panicking (naming op) if a
// dimension is negative.
func checkShape(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor.%s: negative dimension in shape %v", op, shape))
		}
		n *= d
	}
	return n
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Data returns the underlying storage, in row-major order.
func (t *Tensor) Data() []float32 { return t.data }

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.data) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	if i < 0 || i >= len(t.shape) {
		panic(fmt.Sprintf("tensor.Dim: axis %d out of range for shape %v", i, t.shape))
	}
	return t.shape[i]
}

// Reshape returns a view of t with a new shape of the same element count.
// One dimension may be -1, meaning "whatever is left". It panics, naming
// both shapes, if the counts differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = slices.Clone(shape)
	infer, n := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor.Reshape: invalid shape %v for %v", shape, t.shape))
		default:
			n *= d
		}
	}
	if infer >= 0 {
		if n == 0 || len(t.data)%n != 0 {
			panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v to %v", t.shape, shape))
		}
		shape[infer] = len(t.data) / n
		n *= shape[infer]
	}
	if n != len(t.data) {
		panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v (%d elements) to %v (%d elements)", t.shape, len(t.data), shape, n))
	}
	return &Tensor{shape: shape, data: t.data}
}

// Named is a tensor with a name: a model buffer or a state-dict entry
// (nn.NamedTensor and optim.Buffer are this type).
type Named struct {
	Name string
	T    *Tensor
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: slices.Clone(t.shape), data: slices.Clone(t.data)}
}

// String describes the shape (not the data), for error messages and logs.
func (t *Tensor) String() string { return fmt.Sprintf("Tensor%v", t.shape) }

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b *Tensor) bool { return slices.Equal(a.shape, b.shape) }

// Fill sets every element to v and returns t.
func (t *Tensor) Fill(v float32) *Tensor {
	for i := range t.data {
		t.data[i] = v
	}
	return t
}

// Zero sets every element to 0 and returns t, as when clearing gradients.
func (t *Tensor) Zero() *Tensor {
	clear(t.data)
	return t
}
