package optim

import (
	"fmt"
	"slices"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Buffer is a named non-learned tensor of a model, such as a BatchNorm
// running mean ("bn1.running_mean"), that an EMA can follow too.
type Buffer = tensor.Named

// EMAConfig configures an EMA.
type EMAConfig struct {
	// Decay is the weight of the old average, in [0, 1]; typically 0.999
	// or 0.9999.
	Decay float32
	// Warmup ramps the decay up for early updates, as TensorFlow's
	// ExponentialMovingAverage with num_updates does: the update after t
	// earlier ones uses min(Decay, (1+t)/(10+t)), so the average does not
	// cling to the random initialization.
	Warmup bool
	// CopyBuffers copies buffers instead of averaging them. By default
	// buffers are averaged like the weights (as timm's ModelEmaV2 does),
	// which keeps BatchNorm statistics consistent with averaged weights.
	CopyBuffers bool
}

// EMA keeps an exponential moving average ("shadow") of a model's weights,
// and optionally of its buffers, for evaluation. After each optimizer step
// Update sets shadow = d·shadow + (1-d)·current. To evaluate with the
// averaged model, call Apply, evaluate, then Restore. The shadow starts as
// a copy of the values at NewEMA.
type EMA struct {
	cfg     EMAConfig
	params  []Param
	buffers []Buffer
	names   []string
	shadow  []*tensor.Tensor
	backup  []*tensor.Tensor // the live values while the shadow is applied
	applied bool
	updates int
	d       float32 // the decay of the update in progress
	run     *parallel
}

// NewEMA starts an average of params and buffers (which may be nil). It
// fails, naming the problem, for a decay outside [0, 1], a missing tensor
// or a name used twice.
func NewEMA(params []Param, buffers []Buffer, cfg EMAConfig) (*EMA, error) {
	if !(cfg.Decay >= 0 && cfg.Decay <= 1) {
		return nil, fmt.Errorf("optim: EMA decay %g is not in [0, 1]", cfg.Decay)
	}
	e := &EMA{cfg: cfg, params: append([]Param(nil), params...), buffers: append([]Buffer(nil), buffers...)}
	seen := map[string]bool{}
	var lengths []int
	for i := range len(params) + len(buffers) {
		name, t := e.tensor(i)
		if t == nil {
			return nil, fmt.Errorf("optim: EMA tensor %q is missing", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("optim: EMA name %q is used twice", name)
		}
		seen[name] = true
		e.names = append(e.names, name)
		e.shadow = append(e.shadow, t.Clone())
		lengths = append(lengths, t.Len())
	}
	e.run = newParallel(lengths, e.update)
	return e, nil
}

// tensor returns the name and live value of tracked tensor i: the
// parameters, then the buffers.
func (e *EMA) tensor(i int) (string, *tensor.Tensor) {
	if i < len(e.params) {
		p := e.params[i]
		if p.Var == nil {
			return p.Name, nil
		}
		return p.Name, p.Var.Value
	}
	b := e.buffers[i-len(e.params)]
	return b.Name, b.T
}

// live returns tracked tensor i's current value, checking that its size
// has not changed since NewEMA.
func (e *EMA) live(i int) []float32 {
	_, t := e.tensor(i)
	if t == nil || t.Len() != e.shadow[i].Len() {
		panic(fmt.Sprintf("optim.EMA: %q changed from %v to %v since NewEMA", e.names[i], e.shadow[i], t))
	}
	return t.Data()
}

// Decay returns the decay the next Update will use.
func (e *EMA) Decay() float32 {
	if !e.cfg.Warmup {
		return e.cfg.Decay
	}
	t := float32(e.updates)
	return min(e.cfg.Decay, (1+t)/(10+t))
}

// Updates returns how many updates the average has had.
func (e *EMA) Updates() int { return e.updates }

// Update folds the current weights (and buffers) into the average. It
// panics if called while the shadow is applied.
func (e *EMA) Update() {
	if e.applied {
		panic("optim.EMA.Update: called between Apply and Restore")
	}
	e.d = e.Decay()
	for i := range e.shadow {
		e.live(i)
	}
	e.run.run()
	e.updates++
}

// update averages one chunk of tracked tensor c.t.
func (e *EMA) update(c chunk) {
	_, t := e.tensor(c.t)
	x := t.Data()[c.lo:c.hi]
	s := e.shadow[c.t].Data()[c.lo:c.hi]
	if c.t >= len(e.params) && e.cfg.CopyBuffers {
		copy(s, x)
		return
	}
	kernels.Scale(e.d, s)
	kernels.Axpy(1-e.d, x, s)
}

// Apply swaps the averaged values into the model, keeping the live ones
// for Restore. It panics if the shadow is already applied.
func (e *EMA) Apply() {
	if e.applied {
		panic("optim.EMA.Apply: already applied; call Restore first")
	}
	if e.backup == nil {
		e.backup = make([]*tensor.Tensor, len(e.shadow))
		for i, s := range e.shadow {
			e.backup[i] = tensor.New(s.Shape()...)
		}
	}
	for i, s := range e.shadow {
		x := e.live(i)
		copy(e.backup[i].Data(), x)
		copy(x, s.Data())
	}
	e.applied = true
}

// Restore puts back the live values that Apply swapped out. It panics
// without a matching Apply.
func (e *EMA) Restore() {
	if !e.applied {
		panic("optim.EMA.Restore: called without Apply")
	}
	for i, b := range e.backup {
		copy(e.live(i), b.Data())
	}
	e.applied = false
}

// State returns a copy of the averaged tensors keyed by parameter and
// buffer name: a model state dict that can be saved and loaded as the
// EMA model. Save Updates alongside it to resume the warm-up.
func (e *EMA) State() map[string]*tensor.Tensor {
	m := make(map[string]*tensor.Tensor, len(e.shadow))
	for i, s := range e.shadow {
		m[e.names[i]] = s.Clone()
	}
	return m
}

// LoadState restores the average from a State map and the update count.
// state must hold exactly the tracked names, with matching shapes;
// otherwise nothing changes and the error names the first problem.
func (e *EMA) LoadState(state map[string]*tensor.Tensor, updates int) error {
	if updates < 0 {
		return fmt.Errorf("optim: EMA update count %d is negative", updates)
	}
	for i, name := range e.names {
		t := state[name]
		if t == nil {
			return fmt.Errorf("optim: EMA state has no %q", name)
		}
		if !tensor.SameShape(t, e.shadow[i]) {
			return fmt.Errorf("optim: EMA state %q has shape %v, want %v", name, t.Shape(), e.shadow[i].Shape())
		}
	}
	if len(state) != len(e.names) {
		for name := range state {
			if !slices.Contains(e.names, name) {
				return fmt.Errorf("optim: EMA state %q names no tracked tensor", name)
			}
		}
	}
	for i, name := range e.names {
		copy(e.shadow[i].Data(), state[name].Data())
	}
	e.updates = updates
	return nil
}
