package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Module is a differentiable function with named state.
type Module interface {
	// Forward records the module's computation on x on tp and returns
	// the output.
	Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var
	// Params returns the learnable parameters, named by their path from
	// this module (e.g. "layer1.0.conv1.weight"), in state-dict order.
	Params() []Param
	// Buffers returns the non-learned state (BatchNorm's running
	// statistics), named and ordered like Params.
	Buffers() []NamedTensor
	// SetTrain puts the module and all its children in training (true)
	// or evaluation (false) mode.
	SetTrain(train bool)
	// Training reports whether the module is in training mode.
	Training() bool
}

// Param is a named learnable parameter, the type optimizers take too.
type Param = autograd.Param

// NamedTensor is a named tensor: a buffer or a state-dict entry.
type NamedTensor = tensor.Named

// entry is one state-dict entry while walking a module tree; v is set for
// parameters and nil for buffers.
type entry struct {
	name string
	t    *tensor.Tensor
	v    *autograd.Var
}

// walker is implemented by every module of this package (through base): it
// appends the module's entries, prefixed, in PyTorch's state-dict order.
type walker interface {
	walk(prefix string, out []entry) []entry
}

// child is a named submodule.
type child struct {
	name string
	m    Module
}

// base holds what every module of this package has in common: its own
// parameters and buffers, its named children and its mode. Embedding it
// provides Params, Buffers, SetTrain and Training.
type base struct {
	params  []entry
	buffers []entry
	kids    []child
	eval    bool // the zero value is training mode, as in PyTorch
}

// param registers a new learnable parameter holding t and returns its Var.
func (b *base) param(name string, t *tensor.Tensor) *autograd.Var {
	v := autograd.Leaf(t, true)
	b.params = append(b.params, entry{name: name, t: t, v: v})
	return v
}

// buffer registers t as a buffer and returns it.
func (b *base) buffer(name string, t *tensor.Tensor) *tensor.Tensor {
	b.buffers = append(b.buffers, entry{name: name, t: t})
	return t
}

// add registers m as a child named name.
func (b *base) add(name string, m Module) {
	b.kids = append(b.kids, child{name, m})
}

func (b *base) walk(prefix string, out []entry) []entry {
	for _, own := range [][]entry{b.params, b.buffers} {
		for _, e := range own {
			e.name = prefix + e.name
			out = append(out, e)
		}
	}
	for _, c := range b.kids {
		out = walkModule(c.m, prefix+c.name+".", out)
	}
	return out
}

// walkModule appends m's entries with names prefixed. A Module from
// outside this package lists its parameters, then its buffers.
func walkModule(m Module, prefix string, out []entry) []entry {
	if w, ok := m.(walker); ok {
		return w.walk(prefix, out)
	}
	for _, p := range m.Params() {
		out = append(out, entry{name: prefix + p.Name, t: p.Var.Value, v: p.Var})
	}
	for _, bf := range m.Buffers() {
		out = append(out, entry{name: prefix + bf.Name, t: bf.T})
	}
	return out
}

// Params returns the parameters of the module and its children.
func (b *base) Params() []Param {
	var ps []Param
	for _, e := range b.walk("", nil) {
		if e.v != nil {
			ps = append(ps, Param{Name: e.name, Var: e.v})
		}
	}
	return ps
}

// Buffers returns the buffers of the module and its children.
func (b *base) Buffers() []NamedTensor {
	var bs []NamedTensor
	for _, e := range b.walk("", nil) {
		if e.v == nil {
			bs = append(bs, NamedTensor{Name: e.name, T: e.t})
		}
	}
	return bs
}

// SetTrain sets the mode of the module and all its children.
func (b *base) SetTrain(train bool) {
	b.eval = !train
	for _, c := range b.kids {
		c.m.SetTrain(train)
	}
}

// Training reports whether the module is in training mode.
func (b *base) Training() bool { return !b.eval }

// StateDict returns every parameter and buffer of m under its PyTorch
// name, in PyTorch's order. The tensors are m's own, not copies: Clone them
// to keep a snapshot while training continues.
func StateDict(m Module) []NamedTensor {
	es := walkModule(m, "", nil)
	sd := make([]NamedTensor, len(es))
	for i, e := range es {
		sd[i] = NamedTensor{Name: e.name, T: e.t}
	}
	return sd
}

// StateMap indexes a state dict by name.
func StateMap(sd []NamedTensor) map[string]*tensor.Tensor {
	m := make(map[string]*tensor.Tensor, len(sd))
	for _, e := range sd {
		m[e.Name] = e.T
	}
	return m
}

// NumParams returns the number of learnable scalars of m (buffers
// excluded), as PyTorch's sum(p.numel() for p in model.parameters()).
func NumParams(m Module) int {
	n := 0
	for _, p := range m.Params() {
		n += p.Var.Value.Len()
	}
	return n
}

// ShapeMismatch is a state-dict entry whose shape differs from the model's.
type ShapeMismatch struct {
	Name        string
	Have, Model []int // the loaded tensor's shape and the model's
}

// StateDictError lists everything that keeps a state dict from loading
// into a model. The caller usually wraps it with the file name.
type StateDictError struct {
	Missing    []string // in the model, not in the state dict (model order)
	Unexpected []string // in the state dict, not in the model (sorted)
	Mismatched []ShapeMismatch
}

func (e *StateDictError) Error() string {
	var b strings.Builder
	b.WriteString("nn.LoadStateDict: state dict does not match the model")
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; %d missing keys: %s", len(e.Missing), strings.Join(e.Missing, ", "))
	}
	if len(e.Unexpected) > 0 {
		fmt.Fprintf(&b, "; %d unexpected keys: %s", len(e.Unexpected), strings.Join(e.Unexpected, ", "))
	}
	if len(e.Mismatched) > 0 {
		fmt.Fprintf(&b, "; %d shape mismatches:", len(e.Mismatched))
		for i, s := range e.Mismatched {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(&b, "%s %s has shape %v, model wants %v", sep, s.Name, s.Have, s.Model)
		}
	}
	return b.String()
}

// numBatchesTracked is the name suffix of BatchNorm's batch counter, which
// PyTorch stores as a scalar (shape []) and bulwark as shape [1].
const numBatchesTracked = "num_batches_tracked"

// shapeFits reports whether a loaded tensor of shape have may fill the
// model's tensor named name of shape want.
func shapeFits(name string, have, want []int) bool {
	if slices.Equal(have, want) {
		return true
	}
	scalar := func(s []int) bool { return len(s) == 0 || (len(s) == 1 && s[0] == 1) }
	return strings.HasSuffix(name, numBatchesTracked) && scalar(have) && scalar(want)
}

// LoadStateDict copies sd into m's parameters and buffers (in place, so
// Vars held by an optimizer stay valid). The names must match exactly and
// the shapes too, except that num_batches_tracked may have shape [] or [1]
// and may be missing: as PyTorch does with state dicts that lack it (older
// checkpoints, other tools), it is then set to 0. On any mismatch it
// returns a *StateDictError listing all missing and unexpected keys and
// shape mismatches, and m is unchanged.
func LoadStateDict(m Module, sd map[string]*tensor.Tensor) error {
	es := walkModule(m, "", nil)
	var e StateDictError
	known := make(map[string]bool, len(es))
	for _, en := range es {
		known[en.name] = true
		t, ok := sd[en.name]
		switch {
		case !ok && strings.HasSuffix(en.name, numBatchesTracked):
		case !ok || t == nil:
			e.Missing = append(e.Missing, en.name)
		case !shapeFits(en.name, t.Shape(), en.t.Shape()):
			e.Mismatched = append(e.Mismatched, ShapeMismatch{en.name, slices.Clone(t.Shape()), slices.Clone(en.t.Shape())})
		}
	}
	for name := range sd {
		if !known[name] {
			e.Unexpected = append(e.Unexpected, name)
		}
	}
	slices.Sort(e.Unexpected)
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched) > 0 {
		return &e
	}
	for _, en := range es {
		if t, ok := sd[en.name]; ok {
			copy(en.t.Data(), t.Data())
		} else {
			en.t.Fill(0) // a missing num_batches_tracked
		}
	}
	return nil
}
