package nn

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestGradCheckInput checks ∂logits/∂x of tiny models, which runs the
// backward of every layer, in both modes. Pre-activation blocks apply
// BatchNorm and ReLU straight to their input, so finite differences of
// the input cross ReLU kinks; they are checked with SiLU (a shallow Swish
// WideResNet and TestGradCheckPreActBlock), which exercises the same
// graph.
func TestGradCheckInput(t *testing.T) {
	wrn := func(swish bool) func(Config) (*Net, error) {
		return func(c Config) (*Net, error) { return NewWideResNet(10, 2, swish, c) }
	}
	for _, c := range []struct {
		name     string
		build    func(Config) (*Net, error)
		in, size int
		norm     bool
	}{
		{"resnet8", builders["resnet8"], 3, 8, true},
		{"wrn-10-2-swish", wrn(true), 3, 8, false},
		{"smallcnn", builders["smallcnn"], 1, 16, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, train := range []bool{true, false} {
				cfg := Config{Width: 0.25, Seed: 3, NumClasses: 5, InChannels: c.in, ImageSize: c.size}
				if c.norm {
					cfg.Mean, cfg.Std = []float32{0.5, 0.4, 0.3}, []float32{0.2, 0.25, 0.3}
				}
				m, err := c.build(cfg)
				if err != nil {
					t.Fatal(err)
				}
				m.SetTrain(train)
				x := randInput(7, 2, c.in, c.size)
				err = autograd.GradCheck(func(tp *autograd.Tape, xs []*autograd.Var) *autograd.Var {
					return m.Forward(tp, xs[0])
				}, []*tensor.Tensor{x}, autograd.GradCheckOptions{Eps: 1e-3, Tol: 1e-2, Seed: 1})
				if err != nil {
					t.Errorf("%s train=%v: %v", c.name, train, err)
				}
			}
		})
	}
}

// TestGradCheckPreActBlock checks PreActBlocks with the Sequential
// projection shortcut of PreActResNet and with the identity, w.r.t. the
// input, in training mode (SiLU for smoothness, see TestGradCheckInput).
func TestGradCheckPreActBlock(t *testing.T) {
	for _, c := range []struct{ cout, stride int }{{6, 1}, {6, 2}, {4, 1}} {
		t.Run(fmt.Sprintf("cout%d_stride%d", c.cout, c.stride), func(t *testing.T) {
			b := newPreActBlock(tensor.NewRNG(1), 4, c.cout, c.stride, swish, shortcutSeq)
			if (b.shortcut == nil) != (c.cout == 4 && c.stride == 1) {
				t.Fatalf("%+v: shortcut %v", c, b.shortcut)
			}
			x := randInput(2, 2, 4, 6)
			err := autograd.GradCheck(func(tp *autograd.Tape, xs []*autograd.Var) *autograd.Var {
				return b.Forward(tp, xs[0])
			}, []*tensor.Tensor{x}, autograd.GradCheckOptions{Eps: 1e-3, Tol: 1e-2, Seed: 1})
			if err != nil {
				t.Errorf("%+v: %v", c, err)
			}
		})
	}
}

// TestGradCheckParams compares the parameter gradients of a tiny
// ResNet-8 in training mode with central differences at a few elements of
// every parameter.
func TestGradCheckParams(t *testing.T) {
	m := mustNew(t, "resnet8", Config{Width: 0.25, Seed: 5, NumClasses: 4})
	x := autograd.Leaf(randInput(8, 4, 3, 8), false)
	tp := autograd.NewTape()
	y := m.Forward(tp, x)
	r := tensor.NewRNG(2).Uniform(tensor.New(y.Value.Shape()...), -1, 1)
	tp.BackwardFrom(y, r)
	loss := func() float64 {
		tp.Reset()
		restore := tp.NoGrad()
		defer restore()
		var s float64
		for i, v := range m.Forward(tp, x).Value.Data() {
			s += float64(v) * float64(r.Data()[i])
		}
		return s
	}
	var worst float64
	var worstAt string
	for _, p := range m.Params() {
		if p.Var.Grad == nil {
			t.Fatalf("%s: no gradient", p.Name)
		}
		d := p.Var.Value.Data()
		for _, k := range []int{0, len(d) / 2, len(d) - 1} {
			num := testutil.CentralDiff(d, k, 1e-3, loss)
			ana := float64(p.Var.Grad.Data()[k])
			if e := math.Abs(num-ana) / math.Max(math.Abs(num)+math.Abs(ana), 1e-2); e > worst {
				worst, worstAt = e, fmt.Sprintf("%s[%d]: analytic %.6g, numeric %.6g", p.Name, k, ana, num)
			}
		}
	}
	if worst > 2e-2 {
		t.Errorf("worst relative error %.3g at %s", worst, worstAt)
	}
}

// TestTrainingStepSmoke runs a training-mode forward and backward of a
// cross-entropy loss through each model and checks that every parameter
// gets a finite, not entirely zero gradient, and that gradients w.r.t. the
// input (what attacks need) flow too.
func TestTrainingStepSmoke(t *testing.T) {
	for _, arch := range Archs() {
		cfg := Config{Width: 0.125, Seed: 1}
		in, size := 3, 32
		if arch == "smallcnn" {
			cfg.Width, in, size = 0.5, 1, 28
		}
		m := mustNew(t, arch, cfg)
		x := autograd.Leaf(randInput(3, 4, in, size), true)
		tp := autograd.NewTape()
		for step := range 2 {
			for _, p := range m.Params() {
				p.Var.ZeroGrad()
			}
			x.ZeroGrad()
			loss := tp.CrossEntropy(m.Forward(tp, x), []int{0, 3, 5, 9}, autograd.CEOptions{})
			if l := loss.Value.Data()[0]; !(l > 0) || math.IsInf(float64(l), 0) {
				t.Fatalf("%s step %d: loss %v", arch, step, l)
			}
			tp.Backward(loss)
			for _, p := range m.Params() {
				g := p.Var.Grad
				if g == nil {
					t.Fatalf("%s: %s has no gradient", arch, p.Name)
				}
				var norm float64
				for _, v := range g.Data() {
					norm += float64(v) * float64(v)
				}
				if math.IsNaN(norm) || math.IsInf(norm, 0) || (norm == 0 && !strings.HasSuffix(p.Name, "bias")) {
					t.Errorf("%s step %d: %s gradient norm² %v", arch, step, p.Name, norm)
				}
			}
			if x.Grad == nil || tensor.MaxAll(x.Grad) == 0 && tensor.MinAll(x.Grad) == 0 {
				t.Errorf("%s: no gradient w.r.t. the input", arch)
			}
			tp.Reset()
		}
		// Evaluation under NoGrad records nothing.
		m.SetTrain(false)
		restore := tp.NoGrad()
		y := m.Forward(tp, x)
		restore()
		if y.RequiresGrad() || tp.Len() != 0 {
			t.Errorf("%s: NoGrad eval recorded %d ops", arch, tp.Len())
		}
		tp.Reset()
	}
}
