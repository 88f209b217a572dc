package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate for each optimizer step, counting from
// 0. Schedules are step-based so they can change the rate mid-epoch; wrap
// an epoch-based one in PerEpoch, and convert epoch milestones with
// EpochSteps. LR never panics: past the end, or for a configuration that
// Validate would reject, it returns a sensible rate (the final one).
type Schedule interface {
	LR(step int) float32
}

// Constant is a fixed learning rate.
type Constant float32

// LR returns c.
func (c Constant) LR(int) float32 { return float32(c) }

// MultiStep multiplies Base by Gamma at each milestone step, as
// torch.optim.lr_scheduler.MultiStepLR: LR(step) = Base·Gamma^k, where k
// counts the milestones ≤ step.
type MultiStep struct {
	Base       float32
	Milestones []int // steps, ascending
	Gamma      float32
}

// LR implements Schedule.
func (s MultiStep) LR(step int) float32 {
	lr := float64(s.Base)
	for _, m := range s.Milestones {
		if step >= m {
			lr *= float64(s.Gamma)
		}
	}
	return float32(lr)
}

// Validate reports a configuration error: unsorted or negative milestones
// or a non-positive Gamma.
func (s MultiStep) Validate() error {
	for i, m := range s.Milestones {
		if m < 0 || i > 0 && m < s.Milestones[i-1] {
			return fmt.Errorf("optim: MultiStep milestones %v are not non-negative and ascending", s.Milestones)
		}
	}
	if !(s.Gamma > 0) || !(s.Base >= 0) {
		return fmt.Errorf("optim: MultiStep needs base ≥ 0 and gamma > 0, have %g and %g", s.Base, s.Gamma)
	}
	return nil
}

// Cosine warms up linearly over Warmup steps, then anneals from Base to
// Min along a half cosine, reaching Min at step Total and staying there:
//
//	LR(step) = Base·(step+1)/Warmup                                 step < Warmup
//	LR(step) = Min + (Base-Min)·(1 + cos(π·(step-Warmup)/(Total-Warmup)))/2   Warmup ≤ step < Total
//	LR(step) = Min                                                  step ≥ Total
//
// Without warm-up this is torch.optim.lr_scheduler.CosineAnnealingLR with
// T_max = Total and eta_min = Min, stepped once per step.
type Cosine struct {
	Base, Min     float32
	Total, Warmup int
}

// LR implements Schedule.
func (s Cosine) LR(step int) float32 {
	if step < s.Warmup {
		return float32(float64(s.Base) * float64(max(step, 0)+1) / float64(s.Warmup))
	}
	t, span := step-s.Warmup, s.Total-s.Warmup
	if t >= span {
		return s.Min
	}
	return float32(cosineAnneal(float64(s.Base), float64(s.Min), float64(t)/float64(span)))
}

// Validate reports a configuration error.
func (s Cosine) Validate() error {
	if s.Total <= 0 || s.Warmup < 0 || s.Warmup > s.Total {
		return fmt.Errorf("optim: Cosine needs 0 ≤ warmup ≤ total and total > 0, have warmup %d and total %d", s.Warmup, s.Total)
	}
	if !(s.Min >= 0 && s.Base >= s.Min) {
		return fmt.Errorf("optim: Cosine needs 0 ≤ min ≤ base, have min %g and base %g", s.Min, s.Base)
	}
	return nil
}

// cosineAnneal goes from start (pct 0) to end (pct 1) along a half cosine.
func cosineAnneal(start, end, pct float64) float64 {
	return end + (start-end)/2*(math.Cos(math.Pi*pct)+1)
}

// OneCycle is torch.optim.lr_scheduler.OneCycleLR with its default cosine
// annealing in two phases: from Max/DivFactor up to Max over the first
// PctStart·Total steps, then down to Max/(DivFactor·FinalDivFactor) at step
// Total-1, where it stays. Zero PctStart, DivFactor or FinalDivFactor mean
// PyTorch's defaults: 0.3, 25 and 1e4. Momentum is not cycled (as with
// cycle_momentum=False).
type OneCycle struct {
	Max                                 float32
	Total                               int
	PctStart, DivFactor, FinalDivFactor float64
}

// withDefaults fills in PyTorch's defaults for zero fields.
func (s OneCycle) withDefaults() OneCycle {
	if s.PctStart == 0 {
		s.PctStart = 0.3
	}
	if s.DivFactor == 0 {
		s.DivFactor = 25
	}
	if s.FinalDivFactor == 0 {
		s.FinalDivFactor = 1e4
	}
	return s
}

// LR implements Schedule.
func (s OneCycle) LR(step int) float32 {
	s = s.withDefaults()
	maxLR := float64(s.Max)
	initial := maxLR / s.DivFactor
	final := initial / s.FinalDivFactor
	// The explicit conversion rounds the product before the subtraction
	// (no fused multiply-add), as PyTorch computes it.
	end1 := float64(s.PctStart*float64(s.Total)) - 1
	end2 := float64(s.Total - 1)
	x := float64(min(max(step, 0), s.Total-1))
	switch {
	case x <= end1 && end1 > 0:
		return float32(cosineAnneal(initial, maxLR, x/end1))
	case x <= end1 || end2 <= end1: // a one-step warm-up phase peaks at once
		return float32(maxLR)
	}
	return float32(cosineAnneal(maxLR, final, (x-end1)/(end2-end1)))
}

// Validate reports a configuration error.
func (s OneCycle) Validate() error {
	s = s.withDefaults()
	switch {
	case s.Total <= 0:
		return fmt.Errorf("optim: OneCycle total steps %d is not positive", s.Total)
	case !(s.PctStart > 0 && s.PctStart < 1):
		return fmt.Errorf("optim: OneCycle pct_start %g is not in (0, 1)", s.PctStart)
	case !(s.DivFactor > 0 && s.FinalDivFactor > 0):
		return fmt.Errorf("optim: OneCycle div factors %g and %g are not positive", s.DivFactor, s.FinalDivFactor)
	case !(s.Max >= 0):
		return fmt.Errorf("optim: OneCycle max LR %g is not non-negative", s.Max)
	}
	return nil
}

// PerEpoch runs an epoch-based Schedule step by step: the rate changes
// only at epoch boundaries, as when a PyTorch scheduler steps once per
// epoch. LR(step) = Schedule.LR(step / StepsPerEpoch).
type PerEpoch struct {
	Schedule
	StepsPerEpoch int
}

// LR implements Schedule.
func (s PerEpoch) LR(step int) float32 { return s.Schedule.LR(step / max(s.StepsPerEpoch, 1)) }

// EpochSteps converts epoch counts (such as MultiStep milestones given in
// epochs) to step counts.
func EpochSteps(stepsPerEpoch int, epochs ...int) []int {
	steps := make([]int, len(epochs))
	for i, e := range epochs {
		steps[i] = e * stepsPerEpoch
	}
	return steps
}
