package attack

import (
	"fmt"
	"strings"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// WorstCase is the per-sample worst case over several attacks, for
// evaluation: it runs the attacks in order, each on the samples that are
// still classified correctly, and returns for each sample the first
// misclassifying input found (or the clean input if the sample is
// misclassified already). Its own forward passes run the model in
// evaluation mode.
type WorstCase struct {
	Label   string   // the name; "" derives one from the attacks' names
	Attacks []Attack // run in order

	pr     predictor
	sub    subBatch
	robust []bool
	out    []float32
	outT   *tensor.Tensor
	keys   []int // the samples' keys (Evaluate's), or nil
	gkeys  []int // the gathered samples' keys
}

// NewWorstCase returns the worst case over attacks, named label.
func NewWorstCase(label string, attacks ...Attack) *WorstCase {
	return &WorstCase{Label: label, Attacks: attacks}
}

// Name returns the label, or "worst of (A, B, ...)".
func (w *WorstCase) Name() string {
	if w.Label != "" {
		return w.Label
	}
	names := make([]string, len(w.Attacks))
	for i, a := range w.Attacks {
		names[i] = a.Name()
	}
	return "worst of (" + strings.Join(names, ", ") + ")"
}

// Perturb runs the attacks; see Attack.
func (w *WorstCase) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if x == nil || x.Rank() != 4 || x.Dim(0) != len(y) {
		return nil, fmt.Errorf("attack: %s: input %v with %d labels, want a [N, C, H, W] batch with N labels", w.Name(), shapeOf(x), len(y))
	}
	was := m.Training()
	defer m.SetTrain(was)
	m.SetTrain(false)
	n := len(y)
	w.robust = grow(w.robust, n)
	w.out = grow(w.out, x.Len())
	copy(w.out, x.Data())
	if err := w.pr.correct(m, x, y, w.robust, nil); err != nil {
		return nil, fmt.Errorf("attack: %s: %w", w.Name(), err)
	}
	for _, a := range w.Attacks {
		xs, ys := w.sub.gather(x, y, w.robust)
		if len(ys) == 0 {
			break
		}
		passKeys(a, &w.gkeys, w.keys, w.sub.idx)
		adv, err := a.Perturb(m, xs, ys)
		passKeys(a, &w.gkeys, nil, nil)
		if err != nil {
			return nil, err
		}
		m.SetTrain(false)
		if err := w.pr.correct(m, adv, ys, w.sub.ok, nil); err != nil {
			return nil, fmt.Errorf("attack: %s: %w", a.Name(), err)
		}
		w.sub.scatter(w.out, adv, w.robust)
	}
	return view(&w.outT, w.out, [4]int{n, x.Dim(1), x.Dim(2), x.Dim(3)}), nil
}

// predictor runs forward passes without gradients on its own tape.
type predictor struct {
	x *autograd.Var
}

// correct sets ok[i] to whether m classifies x[i] as y[i], and passes the
// logits (rows of c) to logits if it is set. Labels outside the model's
// classes are an error.
func (p *predictor) correct(m nn.Module, x *tensor.Tensor, y []int, ok []bool, logits func(z []float32, c int)) error {
	if p.x == nil {
		p.x = autograd.Leaf(nil, false)
	}
	tp := tapes.Get()
	defer putTape(tp)
	// Deferred, so that a tape whose forward pass panicked goes back to
	// the pool recording again.
	defer tp.NoGrad()()
	p.x.Value = x
	z := m.Forward(tp, p.x).Value
	if z.Rank() != 2 || z.Dim(0) != len(y) {
		return fmt.Errorf("model returned logits %v for %d inputs, want [%d, classes]", z.Shape(), len(y), len(y))
	}
	c := z.Dim(1)
	for i, t := range y {
		if t < 0 || t >= c {
			return fmt.Errorf("label %d of sample %d is outside the model's %d classes", t, i, c)
		}
		ok[i] = tensor.ArgmaxRow(z.Data()[i*c:(i+1)*c]) == t
	}
	if logits != nil {
		logits(z.Data(), c)
	}
	return nil
}

// subBatch gathers some samples of a batch into a compact batch and
// scatters results back.
type subBatch struct {
	idx []int     // batch positions of the gathered samples
	x   []float32 // their images
	y   []int     // their labels
	ok  []bool    // per gathered sample: still classified correctly
	xT  *tensor.Tensor
}

// gather collects the samples of x and y where sel is true; the tensor
// and labels it returns are valid until the next gather.
func (s *subBatch) gather(x *tensor.Tensor, y []int, sel []bool) (*tensor.Tensor, []int) {
	chw := x.Len() / max(len(y), 1)
	s.idx, s.y = s.idx[:0], s.y[:0]
	for i, b := range sel {
		if b {
			s.idx = append(s.idx, i)
			s.y = append(s.y, y[i])
		}
	}
	k := len(s.idx)
	s.x = grow(s.x, k*chw)
	s.ok = grow(s.ok, k)
	for j, i := range s.idx {
		copy(s.x[j*chw:(j+1)*chw], x.Data()[i*chw:(i+1)*chw])
	}
	shape := [4]int{k, x.Dim(1), x.Dim(2), x.Dim(3)}
	view(&s.xT, s.x, shape)
	return s.xT, s.y
}

// scatter copies the gathered samples' adversarial inputs into dst (the
// whole batch; nil skips the copy) and clears robust for those no longer classified correctly.
func (s *subBatch) scatter(dst []float32, adv *tensor.Tensor, robust []bool) {
	k := len(s.idx)
	if k == 0 {
		return
	}
	chw := adv.Len() / k
	for j, i := range s.idx {
		if dst != nil {
			copy(dst[i*chw:(i+1)*chw], adv.Data()[j*chw:(j+1)*chw])
		}
		if !s.ok[j] {
			robust[i] = false
		}
	}
}
