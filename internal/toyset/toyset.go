// Package toyset builds the small in-memory datasets that tests train on:
// random images labelled by a rule a tiny model learns in a few epochs.
package toyset

import (
	"slices"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Quadrants returns n uniform random c×s×s images (s even) drawn with
// seed, each labelled 0..3 by its brightest quadrant (over all channels).
func Quadrants(seed uint64, n, c, s int) data.Dataset {
	x := tensor.Rand(tensor.NewRNG(seed), n, c, s, s)
	y := make([]int, n)
	h := s / 2
	for i := range n {
		var q [4]float32
		for k, v := range x.Data()[i*c*s*s : (i+1)*c*s*s] {
			r, col := (k%(s*s))/s, k%s
			q[(r/h)*2+col/h] += v
		}
		y[i] = slices.Index(q[:], slices.Max(q[:]))
	}
	ds, err := data.FromTensor(x, y, 4)
	if err != nil {
		panic("toyset: " + err.Error())
	}
	return ds
}
