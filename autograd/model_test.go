package autograd

import (
	"fmt"
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// tinyModel is conv→bn→relu→conv→bn→(+ residual)→relu→global-avgpool→
// linear, a ResNet basic block with a stem and a head.
type tinyModel struct {
	w1, g1, b1, w2, g2, b2, wl, bl *Var
	bn1, bn2                       *BatchNormState
	act                            func(tp *Tape, x *Var) *Var // Relu unless set
}

const tinyC, tinyClasses = 4, 3

func newTinyModel(rng *tensor.RNG, requiresGrad bool) *tinyModel {
	p := func(lo, hi float32, shape ...int) *Var { return Leaf(randT(rng, lo, hi, shape...), requiresGrad) }
	bn := func() *BatchNormState {
		return &BatchNormState{RunningMean: tensor.New(tinyC), RunningVar: tensor.New(tinyC).Fill(1)}
	}
	return &tinyModel{
		w1: p(-0.5, 0.5, tinyC, 3, 3, 3), g1: p(0.5, 1.5, tinyC), b1: p(-0.5, 0.5, tinyC),
		w2: p(-0.5, 0.5, tinyC, tinyC, 3, 3), g2: p(0.5, 1.5, tinyC), b2: p(-0.5, 0.5, tinyC),
		wl: p(-1, 1, tinyClasses, tinyC), bl: p(-0.5, 0.5, tinyClasses),
		bn1: bn(), bn2: bn(),
	}
}

func (m *tinyModel) params() []*Var {
	return []*Var{m.w1, m.g1, m.b1, m.w2, m.g2, m.b2, m.wl, m.bl}
}

func (m *tinyModel) forward(tp *Tape, x *Var, train bool) *Var {
	same := tensor.ConvParams{PadH: 1, PadW: 1}
	act := m.act
	if act == nil {
		act = (*Tape).Relu
	}
	h := act(tp, tp.BatchNorm2d(tp.Conv2d(x, m.w1, nil, same), m.g1, m.b1, m.bn1, train))
	r := tp.BatchNorm2d(tp.Conv2d(h, m.w2, nil, same), m.g2, m.b2, m.bn2, train)
	h = act(tp, tp.Add(r, h))
	return tp.Linear(tp.GlobalAvgPool2d(h), m.wl, m.bl)
}

// TestGradModel gradchecks the whole tiny model end to end with respect to
// its input and every parameter, in train and eval mode: once with ReLU
// and BatchNorm shifts that keep every ReLU input at least ~0.1 away from
// its kink (channels 0, 2, 3 of the first ReLU always on, channel 1 always
// off; the second always on), once with SiLU and random parameters.
// Both are smooth at these inputs, so the step can be large (Eps 5e-2):
// the float32 rounding noise of the numeric gradient shrinks as 1/h, and
// the input's gradient is small (it is averaged over pixels and samples).
func TestGradModel(t *testing.T) {
	for _, relu := range []bool{true, false} {
		rng := tensor.NewRNG(20)
		m := newTinyModel(rng, true)
		if relu {
			m.g1.Value.Fill(0.25)
			m.g2.Value.Fill(0.25)
			copy(m.b1.Value.Data(), []float32{1.2, -1.2, 1.0, 1.4})
			copy(m.b2.Value.Data(), []float32{1.1, 1.3, 1.0, 1.2})
		} else {
			m.act = (*Tape).SiLU
		}
		x := randT(rng, 0, 1, 2, 3, 5, 5)
		labels := []int{0, 2}
		// Running statistics close to the batch's, for eval mode.
		m.bn1.Momentum, m.bn2.Momentum = 1, 1
		m.forward(NewTape(), Leaf(x, false), true)
		m.bn1.Momentum, m.bn2.Momentum = 0.1, 0.1

		inputs := []*tensor.Tensor{x}
		for _, p := range m.params() {
			inputs = append(inputs, p.Value)
		}
		for _, train := range []bool{true, false} {
			gradCheck(t, fmt.Sprintf("model relu=%v train=%v", relu, train), func(tp *Tape, xs []*Var) *Var {
				mm := *m
				mm.w1, mm.g1, mm.b1, mm.w2, mm.g2, mm.b2, mm.wl, mm.bl = xs[1], xs[2], xs[3], xs[4], xs[5], xs[6], xs[7], xs[8]
				return tp.CrossEntropy(mm.forward(tp, xs[0], train), labels, CEOptions{LabelSmoothing: 0.1})
			}, inputs, GradCheckOptions{Eps: 5e-2})
		}
	}
}
