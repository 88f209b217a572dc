package autograd

import (
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// TestGradCheckCatchesWrongGradient checks that GradCheck reports a
// gradient that misses a path: x·c where c is a detached copy of x has
// analytic gradient c but numeric gradient 2x.
func TestGradCheckCatchesWrongGradient(t *testing.T) {
	rng := tensor.NewRNG(1)
	err := GradCheck(func(tp *Tape, xs []*Var) *Var {
		return tp.Mul(xs[0], Leaf(xs[0].Value.Clone(), false))
	}, []*tensor.Tensor{randT(rng, 0.5, 1, 2, 3)}, GradCheckOptions{})
	if err == nil || !strings.Contains(err.Error(), "input 0 [2 3]") || !strings.Contains(err.Error(), "worst element") {
		t.Fatalf("GradCheck = %v, want an error naming input 0 and its worst element", err)
	}
	t.Log(err)
}
