package optim

import (
	"math"
	"testing"
)

func checkSchedule(t *testing.T, name string, s Schedule, want map[int]float64) {
	t.Helper()
	for step, w := range want {
		if got := float64(s.LR(step)); math.Abs(got-w) > 1e-6*max(math.Abs(w), 1e-3) {
			t.Errorf("%s.LR(%d) = %.9g, want %.9g", name, step, got, w)
		}
	}
}

func TestConstant(t *testing.T) {
	checkSchedule(t, "Constant", Constant(0.05), map[int]float64{0: 0.05, 1000: 0.05})
}

func TestMultiStep(t *testing.T) {
	// MultiStepLR(milestones=[3,6,6], gamma=0.1): a repeated milestone
	// decays twice.
	s := MultiStep{Base: 0.1, Milestones: []int{3, 6, 6}, Gamma: 0.1}
	checkSchedule(t, "MultiStep", s, map[int]float64{0: 0.1, 2: 0.1, 3: 0.01, 5: 0.01, 6: 1e-4, 100: 1e-4})
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	if err := (MultiStep{Base: 0.1, Milestones: []int{5, 3}, Gamma: 0.1}).Validate(); err == nil {
		t.Error("unsorted milestones validated")
	}
}

func TestCosine(t *testing.T) {
	// No warm-up: CosineAnnealingLR(T_max=10, eta_min=0.001);
	// LR(t) = 0.001 + 0.099·(1+cos(πt/10))/2.
	s := Cosine{Base: 0.1, Min: 0.001, Total: 10}
	checkSchedule(t, "Cosine", s, map[int]float64{
		0: 0.1, 1: 0.09757729755661011, 5: 0.0505, 9: 0.0034227024433899004, 10: 0.001, 50: 0.001})
	// Warm-up of 4 steps then 8 of cosine to 0: 0.025, 0.05, 0.075, 0.1,
	// then at step 4+4 the midpoint 0.05 and at 4+2 0.1·(1+cos(π/4))/2.
	w := Cosine{Base: 0.1, Total: 12, Warmup: 4}
	checkSchedule(t, "Cosine warm-up", w, map[int]float64{
		0: 0.025, 1: 0.05, 3: 0.1, 4: 0.1, 6: 0.1 * (1 + math.Sqrt2/2) / 2, 8: 0.05, 12: 0})
	if err := w.Validate(); err != nil {
		t.Error(err)
	}
	if err := (Cosine{Base: 0.1, Total: 5, Warmup: 6}).Validate(); err == nil {
		t.Error("warm-up longer than the schedule validated")
	}
}

func TestOneCycle(t *testing.T) {
	// OneCycleLR(max_lr=0.1, total_steps=10) with defaults: initial
	// 0.1/25 = 0.004, peak at step 0.3·10-1 = 2, final 0.004/1e4 = 4e-7
	// at step 9; step 1 is halfway up: 0.1 + (0.004-0.1)/2·(cos(π/2)+1) = 0.052.
	s := OneCycle{Max: 0.1, Total: 10}
	checkSchedule(t, "OneCycle", s, map[int]float64{
		0: 0.004, 1: 0.052, 2: 0.1, 3: 0.09504846320134738, 5: 0.06112620219362893,
		8: 0.004951936798652629, 9: 4e-7, 20: 4e-7})
	// OneCycleLR(max_lr=0.2, total_steps=100, pct_start=0.25,
	// div_factor=10, final_div_factor=100): peak at step 24, end 2e-4.
	s2 := OneCycle{Max: 0.2, Total: 100, PctStart: 0.25, DivFactor: 10, FinalDivFactor: 100}
	checkSchedule(t, "OneCycle custom", s2, map[int]float64{
		0: 0.02, 8: 0.065, 12: 0.11, 24: 0.2, 25: 0.19991237072687595, 49: 0.15005000000000002,
		74: 0.05015000000000002, 99: 0.0002})
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	if err := (OneCycle{Max: 0.1, Total: 10, PctStart: 1.5}).Validate(); err == nil {
		t.Error("pct_start 1.5 validated")
	}
	// A one-step warm-up (pct_start·total = 1) peaks at once without NaN.
	if lr := (OneCycle{Max: 0.1, Total: 10, PctStart: 0.1}).LR(0); lr != 0.1 {
		t.Errorf("one-step warm-up: LR(0) = %g, want 0.1", lr)
	}
}

func TestPerEpoch(t *testing.T) {
	s := PerEpoch{MultiStep{Base: 1, Milestones: []int{2}, Gamma: 0.5}, 100}
	checkSchedule(t, "PerEpoch", s, map[int]float64{0: 1, 199: 1, 200: 0.5})
	steps := EpochSteps(390, 100, 150)
	if steps[0] != 39000 || steps[1] != 58500 {
		t.Errorf("EpochSteps = %v", steps)
	}
}
