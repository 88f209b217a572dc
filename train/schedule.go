package train

import (
	"github.com/bulwark-ml/bulwark/optim"
)

// warmup scales an inner schedule linearly from 1/steps to 1 over its
// first steps steps.
type warmup struct {
	optim.Schedule
	steps int
}

// LR implements optim.Schedule.
func (w warmup) LR(step int) float32 {
	lr := w.Schedule.LR(step)
	if step < w.steps {
		lr = float32(float64(lr) * float64(step+1) / float64(w.steps))
	}
	return lr
}

// validator is implemented by the optim schedules that can be misconfigured.
type validator interface{ Validate() error }

// schedule builds the step-based learning-rate schedule of c for a run of
// stepsPerEpoch optimizer steps per epoch.
func (c *Config) schedule(stepsPerEpoch int) (optim.Schedule, error) {
	total := c.Epochs * stepsPerEpoch
	warm := int(c.Warmup*float64(stepsPerEpoch) + 0.5)
	lr := float32(c.LR)
	var s optim.Schedule
	switch c.Schedule {
	case "", Constant:
		s = optim.Constant(lr)
	case MultiStep:
		ms := c.Milestones
		if len(ms) == 0 {
			ms = []int{max(c.Epochs/2, 1), max(c.Epochs*3/4, 1)}
		}
		gamma := c.Gamma
		if gamma == 0 {
			gamma = 0.1
		}
		s = optim.MultiStep{Base: lr, Milestones: optim.EpochSteps(stepsPerEpoch, ms...), Gamma: float32(gamma)}
	case Cosine:
		s = optim.Cosine{Base: lr, Total: total, Warmup: warm}
		warm = 0 // built in
	case OneCycle:
		oc := optim.OneCycle{Max: lr, Total: total}
		if c.Warmup > 0 {
			oc.PctStart = c.Warmup / float64(c.Epochs)
		}
		s = oc
		warm = 0 // the rising phase is the warm-up
	default:
		return nil, FieldErrorf("Schedule", "unknown schedule %q; want one of %v", c.Schedule, Schedules)
	}
	if v, ok := s.(validator); ok {
		if err := v.Validate(); err != nil {
			return nil, WrapField("Schedule", err, "%s", c.Schedule)
		}
	}
	if warm > 0 {
		s = warmup{s, warm}
	}
	return s, nil
}
