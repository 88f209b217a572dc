package data

import "fmt"

// concatenated is the samples of a followed by those of b.
type concatenated struct{ a, b Dataset }

// Concat returns the dataset of a's samples followed by b's: sample i is
// a's sample i for i < a.Len(), else b's sample i − a.Len(). The two must
// have the same image shape and classes. Closing the result closes
// neither; the caller keeps ownership of a and b.
func Concat(a, b Dataset) (Dataset, error) {
	if err := SameKind(a, b); err != nil {
		return nil, fmt.Errorf("data.Concat: %w", err)
	}
	return concatenated{a, b}, nil
}

// SameKind returns an error unless a and b have the same image shape and
// the same classes, describing b against a.
func SameKind(a, b Dataset) error {
	ac, ah, aw := a.Shape()
	bc, bh, bw := b.Shape()
	if ac != bc || ah != bh || aw != bw || a.Classes() != b.Classes() {
		return fmt.Errorf("%d×%d×%d images of %d classes where %d×%d×%d images of %d classes are expected",
			bc, bh, bw, b.Classes(), ac, ah, aw, a.Classes())
	}
	return nil
}

func (c concatenated) Len() int               { return c.a.Len() + c.b.Len() }
func (c concatenated) Shape() (int, int, int) { return c.a.Shape() }
func (c concatenated) Classes() int           { return c.a.Classes() }

func (c concatenated) Label(i int) int {
	if n := c.a.Len(); i >= n {
		return c.b.Label(i - n)
	}
	return c.a.Label(i)
}

func (c concatenated) Image(i int, dst []float32) error {
	if n := c.a.Len(); i >= n {
		return c.b.Image(i-n, dst)
	}
	return c.a.Image(i, dst)
}
