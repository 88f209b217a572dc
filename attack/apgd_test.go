package attack

import (
	"slices"
	"testing"
)

func TestCheckpoints(t *testing.T) {
	// Intervals 22, 19, 16, 13, 10, 7, then the minimum 6.
	if got, want := checkpoints(100), []int{22, 41, 57, 70, 80, 87, 93, 99}; !slices.Equal(got, want) {
		t.Errorf("checkpoints(100) = %v, want %v", got, want)
	}
	// 0.22·50 = 11, shrinking by 1 (0.03·50 rounded down): 11, 10, 9, 8, 7.
	if got, want := checkpoints(50), []int{11, 21, 30, 38, 45}; !slices.Equal(got, want) {
		t.Errorf("checkpoints(50) = %v, want %v", got, want)
	}
	if got := checkpoints(3); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("checkpoints(3) = %v, want [1 2 3]", got)
	}
}

// TestCheckpointRule drives the step-size rule on four one-pixel samples
// after an interval of 22 steps (ρ·22 = 16.5):
//  0. the loss rose in 10 steps: halve;
//  1. it rose in 20 and the best improved: keep;
//  2. it rose in 20, the best did not improve, the step was kept last
//     time: halve;
//  3. as 2, but the step was halved last time: keep.
func TestCheckpointRule(t *testing.T) {
	a := &APGD{}
	e := &a.e
	e.n, e.chw = 4, 1
	e.cur, e.prev, e.grad = []float32{0, 0, 0, 0}, []float32{0, 0, 0, 0}, []float32{0, 0, 0, 0}
	a.best, a.gbest = []float32{1, 2, 3, 4}, []float32{-1, -2, -3, -4}
	e.eta = []float32{1, 1, 1, 1}
	a.inc = []int{10, 20, 20, 20}
	a.fbest = []float64{5, 5, 5, 5}
	a.fbestLast = []float64{5, 4, 5, 5}
	a.fprev = []float64{0, 0, 0, 0}
	a.reduced = []bool{false, false, false, true}
	a.checkpoint(22)
	if want := []float32{0.5, 1, 0.5, 1}; !slices.Equal(e.eta, want) {
		t.Errorf("steps %v, want %v", e.eta, want)
	}
	if want := []float32{1, 0, 3, 0}; !slices.Equal(e.cur, want) || !slices.Equal(e.prev, want) {
		t.Errorf("iterates %v (previous %v), want restarts at the best points: %v", e.cur, e.prev, want)
	}
	if want := []float32{-1, 0, -3, 0}; !slices.Equal(e.grad, want) {
		t.Errorf("gradients %v, want the best points' %v", e.grad, want)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(a.reduced, want) {
		t.Errorf("reduced %v, want %v", a.reduced, want)
	}
	if !slices.Equal(a.inc, []int{0, 0, 0, 0}) || !slices.Equal(a.fbestLast, a.fbest) {
		t.Errorf("counters %v and last best %v not reset", a.inc, a.fbestLast)
	}
	// Exactly ρ of the steps (16.5 rounds to at most 16 increases) still
	// halves: "at most ρ".
	a.inc, a.reduced, a.fbestLast = []int{16, 17, 0, 0}, []bool{true, true, true, true}, []float64{0, 0, 0, 0}
	e.eta = []float32{1, 1, 1, 1}
	a.checkpoint(22)
	if e.eta[0] != 0.5 || e.eta[1] != 1 {
		t.Errorf("16 and 17 increases in 22 steps gave steps %v, want 0.5 and 1", e.eta[:2])
	}
}
