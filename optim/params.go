package optim

import (
	"fmt"
	"strconv"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Param is a trainable parameter with its state-dict name, the type
// nn.Module.Params returns: pass a model's parameters as they are.
type Param = autograd.Param

// Named wraps vars as Params named by their index: "0", "1", ...
func Named(vars ...*autograd.Var) []Param {
	ps := make([]Param, len(vars))
	for i, v := range vars {
		ps[i] = Param{Name: strconv.Itoa(i), Var: v}
	}
	return ps
}

// BiasAndNorm reports whether p is a bias or a normalization scale or
// shift, that is whether its rank is at most 1. As a NoDecay predicate it
// applies weight decay to conv and linear weights only, the usual
// exemption in adversarial-training recipes.
func BiasAndNorm(p Param) bool { return p.Var.Value.Rank() <= 1 }

// Optimizer is what a training loop needs from SGD and Adam.
type Optimizer interface {
	// Step updates every parameter that has a gradient.
	Step()
	// ZeroGrad clears every parameter's gradient.
	ZeroGrad()
	// LR returns the current learning rate.
	LR() float32
	// SetLR sets the learning rate for the following steps.
	SetLR(lr float32)
	// State returns a snapshot of the optimizer state.
	State() map[string]*tensor.Tensor
	// LoadState restores a snapshot taken by State.
	LoadState(state map[string]*tensor.Tensor) error
}

// Chunking of the update work: each chunk is a contiguous range of one
// tensor, and each part handed to a thread is a run of chunks holding at
// least partElems elements (or what is left). Small tensors share a part.
const (
	chunkElems = 1 << 15
	partElems  = 1 << 15
)

// chunk is elements [lo, hi) of tensor t of the list being updated.
type chunk struct{ t, lo, hi int }

// parallel runs an update over a fixed list of tensors in parallel parts.
// It implements kernels.Runner without exporting RunPart from the
// optimizers, and is built once so running it does not allocate.
type parallel struct {
	chunks []chunk
	parts  []int // part i covers chunks[parts[i]:parts[i+1]]
	update func(c chunk)
}

// newParallel plans the chunks and parts for tensors of the given lengths.
func newParallel(lengths []int, update func(c chunk)) *parallel {
	p := &parallel{update: update, parts: []int{0}}
	acc := 0
	for t, n := range lengths {
		for lo := 0; lo < n; lo += chunkElems {
			hi := min(lo+chunkElems, n)
			p.chunks = append(p.chunks, chunk{t, lo, hi})
			if acc += hi - lo; acc >= partElems {
				p.parts = append(p.parts, len(p.chunks))
				acc = 0
			}
		}
	}
	if acc > 0 {
		p.parts = append(p.parts, len(p.chunks))
	}
	return p
}

// RunPart implements kernels.Runner.
func (p *parallel) RunPart(i int) {
	for _, c := range p.chunks[p.parts[i]:p.parts[i+1]] {
		p.update(c)
	}
}

// run applies update to every chunk.
func (p *parallel) run() { kernels.Run(p, len(p.parts)-1) }

// paramSet is what SGD and Adam share: the parameters, their weight decay,
// per-parameter update counts, the learning rate and the state layout.
type paramSet struct {
	kind    string // "SGD" or "Adam", for messages
	params  []Param
	decay   []float32 // weight decay per parameter, 0 where exempt
	count   []int     // updates each parameter has received
	active  []bool    // this step: the parameter has a gradient
	lr      float32
	steps   int
	slots   []string            // per-parameter state tensors, by key suffix
	buffers [][]*tensor.Tensor  // buffers[s][i]: slot s of parameter i
	run     *parallel           // the optimizer's update over the parameters
	index   map[string]stateKey // state key → what it holds
}

// stateKey locates one entry of the state map: a slot of a parameter,
// slot -1 for the parameter's step count, or param -1 for the global step.
type stateKey struct{ param, slot int }

const globalStepKey = "step"

// init validates params and the shared hyperparameters and lays out the
// state: one zero tensor per slot and parameter. update is the
// optimizer's per-chunk rule, which run calls on every chunk of the
// parameters that have a gradient this step, with the chunk's part p of
// the parameter's value and g of its gradient: the part of the rule SGD
// and Adam share.
func (s *paramSet) init(kind string, params []Param, lr, wd float32, noDecay func(Param) bool, update func(c chunk, p, g []float32), slots ...string) error {
	s.kind, s.lr, s.slots = kind, lr, slots
	if !(lr >= 0) {
		return fmt.Errorf("optim: %s learning rate %g is not a non-negative number", kind, lr)
	}
	if !(wd >= 0) {
		return fmt.Errorf("optim: %s weight decay %g is not a non-negative number", kind, wd)
	}
	s.params = append([]Param(nil), params...)
	s.decay = make([]float32, len(params))
	s.count = make([]int, len(params))
	s.active = make([]bool, len(params))
	s.buffers = make([][]*tensor.Tensor, len(slots))
	for k := range slots {
		s.buffers[k] = make([]*tensor.Tensor, len(params))
	}
	s.index = map[string]stateKey{globalStepKey: {-1, 0}}
	lengths := make([]int, len(params))
	for i, p := range params {
		if p.Var == nil || p.Var.Value == nil {
			return fmt.Errorf("optim: %s parameter %d (%q) has no value", kind, i, p.Name)
		}
		if noDecay == nil || !noDecay(p) {
			s.decay[i] = wd
		}
		keys := []string{p.Name + ".step"}
		for _, slot := range slots {
			keys = append(keys, p.Name+"."+slot)
		}
		for k, key := range keys {
			if _, dup := s.index[key]; dup {
				return fmt.Errorf("optim: %s parameter name %q is used twice (state key %q)", kind, p.Name, key)
			}
			s.index[key] = stateKey{i, k - 1}
		}
		for k := range slots {
			s.buffers[k][i] = tensor.New(p.Var.Value.Shape()...)
		}
		lengths[i] = p.Var.Value.Len()
	}
	s.run = newParallel(lengths, func(c chunk) {
		if !s.active[c.t] {
			return
		}
		v := s.params[c.t].Var
		update(c, v.Value.Data()[c.lo:c.hi], v.Grad.Data()[c.lo:c.hi])
	})
	return nil
}

// slot returns chunk c's part of slot k of its parameter's state.
func (s *paramSet) slot(k int, c chunk) []float32 { return s.buffers[k][c.t].Data()[c.lo:c.hi] }

// begin starts a step: it marks which parameters have a gradient, checks
// its size and counts the update.
func (s *paramSet) begin() {
	s.steps++
	for i, p := range s.params {
		g := p.Var.Grad
		s.active[i] = g != nil
		if g == nil {
			continue
		}
		if g.Len() != p.Var.Value.Len() {
			panic(fmt.Sprintf("optim.%s.Step: parameter %q has value %v but gradient %v", s.kind, p.Name, p.Var.Value, g))
		}
		s.count[i]++
	}
}

// ZeroGrad clears every parameter's gradient, keeping its storage.
func (s *paramSet) ZeroGrad() {
	for _, p := range s.params {
		p.Var.ZeroGrad()
	}
}

// LR returns the current learning rate.
func (s *paramSet) LR() float32 { return s.lr }

// SetLR sets the learning rate used by the following steps.
func (s *paramSet) SetLR(lr float32) { s.lr = lr }

// Steps returns how many times Step has run (including steps restored by
// LoadState).
func (s *paramSet) Steps() int { return s.steps }

// State returns a copy of the optimizer state, safe to keep or write while
// training goes on: "step" holds the number of Step calls, and each
// parameter that has been updated contributes "<name>.step" (its own update
// count) and one tensor per buffer ("<name>.momentum_buffer" for SGD,
// "<name>.exp_avg" and "<name>.exp_avg_sq" for Adam). Counts are stored as
// float32, exact up to 2^24 steps.
func (s *paramSet) State() map[string]*tensor.Tensor {
	m := map[string]*tensor.Tensor{globalStepKey: scalar(s.steps)}
	for i, p := range s.params {
		if s.count[i] == 0 {
			continue
		}
		m[p.Name+".step"] = scalar(s.count[i])
		for k, slot := range s.slots {
			m[p.Name+"."+slot] = s.buffers[k][i].Clone()
		}
	}
	return m
}

func scalar(n int) *tensor.Tensor { return tensor.New(1).Fill(float32(n)) }

// LoadState replaces the optimizer state with one taken by State, from
// this optimizer or one over parameters of the same names and shapes. A
// parameter absent from state starts afresh. Nothing changes if state is
// invalid: a key that names no parameter, a shape that differs from the
// parameter's, a parameter with some of its entries but not all, or a
// step count that is not a non-negative integer.
func (s *paramSet) LoadState(state map[string]*tensor.Tensor) error {
	fail := func(key, format string, args ...any) error {
		return fmt.Errorf("optim: %s state %q: %s", s.kind, key, fmt.Sprintf(format, args...))
	}
	counts := make([]int, len(s.params))
	found := make([]int, len(s.params))
	steps := 0
	for key, t := range state {
		at, ok := s.index[key]
		switch {
		case !ok:
			return fail(key, "names no parameter of this optimizer")
		case t == nil:
			return fail(key, "is nil")
		case at.param < 0 || at.slot < 0:
			n, err := stepCount(t)
			if err != nil {
				return fail(key, "%v", err)
			}
			if at.param < 0 {
				steps = n
			} else {
				counts[at.param] = n
				found[at.param]++
			}
		default:
			if want := s.params[at.param].Var.Value; !tensor.SameShape(t, want) {
				return fail(key, "has shape %v, parameter %q has %v", t.Shape(), s.params[at.param].Name, want.Shape())
			}
			found[at.param]++
		}
	}
	for i, p := range s.params {
		if f := found[i]; f != 0 && (f != 1+len(s.slots) || counts[i] == 0) {
			return fail(p.Name, "parameter has %d of its %d state entries (with a non-zero step)", f, 1+len(s.slots))
		}
	}
	s.steps = steps
	for i, p := range s.params {
		s.count[i] = counts[i]
		for k, slot := range s.slots {
			if t := state[p.Name+"."+slot]; t != nil && counts[i] > 0 {
				copy(s.buffers[k][i].Data(), t.Data())
			} else {
				s.buffers[k][i].Zero()
			}
		}
	}
	return nil
}

// stepCount reads a step count stored by State.
func stepCount(t *tensor.Tensor) (int, error) {
	if t.Len() != 1 {
		return 0, fmt.Errorf("step count has shape %v, want one element", t.Shape())
	}
	v := t.Data()[0]
	if !(v >= 0 && v <= 1<<24) || v != float32(int(v)) {
		return 0, fmt.Errorf("step count %g is not a non-negative integer", v)
	}
	return int(v), nil
}
