package optim

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/internal/testutil/tensortest"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// fixture is a tiny model: a [1,2] weight and a [1] bias, with gradients
// for three steps; the bias has none at step 2, so that step must skip it.
type fixture struct {
	w, b   *autograd.Var
	params []Param
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{
		w: autograd.Leaf(tensortest.FromSlice(t, []float32{1, -2}, 1, 2), true),
		b: autograd.Leaf(tensortest.FromSlice(t, []float32{0.5}, 1), true),
	}
	f.params = []Param{{Name: "fc.weight", Var: f.w}, {Name: "fc.bias", Var: f.b}}
	return f
}

var (
	gradW = [3][]float32{{0.1, 0.2}, {0.3, -0.1}, {-0.2, 0.4}}
	gradB = [3][]float32{{1}, nil, {2}}
)

// setGrads installs step k's gradients (k from 0).
func (f *fixture) setGrads(t testing.TB, k int) {
	f.w.Grad = tensortest.FromSlice(t, append([]float32(nil), gradW[k]...), 1, 2)
	f.b.Grad = nil
	if gradB[k] != nil {
		f.b.Grad = tensortest.FromSlice(t, append([]float32(nil), gradB[k]...), 1)
	}
}

// want3 holds the expected weight (2 values) and bias after each of three
// steps.
type want3 [3][3]float64

// checkSteps is one case of an optimizer's rule, SGD's or Adam's, as a
// subtest: the optimizer newOpt builds with cfg over a fresh fixture,
// stepped three times, against want.
func checkSteps[C any, O Optimizer](t *testing.T, name string, newOpt func([]Param, C) (O, error), cfg C, want want3) {
	t.Run(name, func(t *testing.T) {
		f := newFixture(t)
		opt, err := newOpt(f.params, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for k := range 3 {
			f.setGrads(t, k)
			opt.Step()
			got := []float32{f.w.Value.Data()[0], f.w.Value.Data()[1], f.b.Value.Data()[0]}
			for i, w := range want[k] {
				if !testutil.Near(float64(got[i]), w, 2e-6) {
					t.Errorf("%s step %d: got %v, want %v", name, k+1, got, want[k])
					break
				}
			}
		}
	})
}

// The expected values below were worked out from the update formulas and
// agree with torch.optim (1.13) to float32 rounding. For instance SGD with
// lr 0.1, momentum 0.9 and weight decay 0.01, step 1 on w[0] = 1, ∇ = 0.1:
// g = 0.1 + 0.01·1 = 0.11, buf = g, w = 1 - 0.1·0.11 = 0.989; step 2
// (∇ = 0.3): g = 0.3 + 0.01·0.989 = 0.30989, buf = 0.9·0.11 + 0.30989 =
// 0.40889, w = 0.989 - 0.040889 = 0.948111. With Nesterov step 1 uses
// g + 0.9·buf = 0.209: w = 1 - 0.0209 = 0.9791.
func TestSGD(t *testing.T) {
	cases := []struct {
		name string
		cfg  SGDConfig
		want want3
	}{
		{"momentum+wd", SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}, want3{
			{0.989, -2.018, 0.3995}, {0.948111, -2.022182, 0.3995}, {0.9303627610, -2.0639235973, 0.1086505130}}},
		{"nesterov", SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01, Nesterov: true}, want3{
			{0.9791, -2.0342, 0.30905}, {0.9113296866, -2.0259149075, 0.30905}, {0.9144861102, -2.1014399529, -0.1529421806}}},
		{"nesterov, bias exempt", SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01, Nesterov: true, NoDecay: BiasAndNorm}, want3{
			{0.9791, -2.0342, 0.31}, {0.9113296866, -2.0259149075, 0.31}, {0.9144861102, -2.1014399529, -0.151}}},
		{"plain+wd", SGDConfig{LR: 0.1, WeightDecay: 0.01}, want3{
			{0.989, -2.018, 0.3995}, {0.9580110312, -2.0059819222, 0.3995}, {0.9770530462, -2.0439758301, 0.1991005093}}},
		{"dampening", SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.5}, want3{
			{0.99, -2.02, 0.4}, {0.966, -2.033, 0.4}, {0.9544, -2.0647, 0.21}}},
	}
	for _, c := range cases {
		checkSteps(t, c.name, NewSGD, c.cfg, c.want)
	}
}

func TestAdam(t *testing.T) {
	cases := []struct {
		name string
		cfg  AdamConfig
		want want3
	}{
		// Step 1 of Adam moves each weight by lr·sign(g): m̂ = g, v̂ = g².
		{"adam+L2", AdamConfig{LR: 0.01, WeightDecay: 0.01}, want3{
			{0.99, -2.01, 0.49}, {0.9807465076, -2.0114414692, 0.49}, {0.9777550697, -2.0175445080, 0.4803454876}}},
		{"adamw", AdamConfig{LR: 0.01, WeightDecay: 0.1, Decoupled: true}, want3{
			{0.989, -2.008, 0.4895}, {0.9788332582, -2.0086555481, 0.4895}, {0.9752753973, -2.0132279396, 0.4793587029}}},
		{"adamw, bias exempt, betas, eps", AdamConfig{LR: 0.01, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1, Decoupled: true, NoDecay: BiasAndNorm}, want3{
			{0.9890000820, -2.0079998970, 0.49}, {0.9785888791, -2.0081033707, 0.49}, {0.9756393433, -2.0130152702, 0.4801766276}}},
	}
	for _, c := range cases {
		checkSteps(t, c.name, NewAdam, c.cfg, c.want)
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		cfg  SGDConfig
		want string
	}{
		{"negative lr", SGDConfig{LR: -1}, "learning rate"},
		{"NaN lr", SGDConfig{LR: float32(math.NaN())}, "learning rate"},
		{"negative momentum", SGDConfig{LR: 0.1, Momentum: -0.5}, "momentum"},
		{"nesterov without momentum", SGDConfig{LR: 0.1, Nesterov: true}, "Nesterov"},
		{"nesterov with dampening", SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.1, Nesterov: true}, "Nesterov"},
		{"negative weight decay", SGDConfig{LR: 0.1, WeightDecay: -1}, "weight decay"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewSGD(f.params, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewSGD(%+v): err = %v, want one about %s", c.cfg, err, c.want)
			}
		})
	}
	if _, err := NewAdam(f.params, AdamConfig{LR: 0.1, Beta1: 1, Beta2: 0.9}); err == nil {
		t.Error("Adam accepted beta1 = 1")
	}
	dup := []Param{f.params[0], {Name: "fc.weight", Var: f.b}}
	if _, err := NewSGD(dup, SGDConfig{LR: 0.1}); err == nil || !strings.Contains(err.Error(), `"fc.weight"`) {
		t.Errorf("duplicate names: err = %v", err)
	}
	if _, err := NewAdam([]Param{{Name: "x", Var: nil}}, AdamConfig{LR: 0.1}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("nil Var: err = %v", err)
	}
}

func TestLRAndZeroGrad(t *testing.T) {
	f := newFixture(t)
	opt, err := NewSGD(f.params, SGDConfig{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	opt.SetLR(0.5)
	if opt.LR() != 0.5 {
		t.Errorf("LR() = %g after SetLR(0.5)", opt.LR())
	}
	f.setGrads(t, 0)
	opt.ZeroGrad()
	if f.w.Grad.Data()[0] != 0 || f.b.Grad.Data()[0] != 0 {
		t.Error("ZeroGrad left gradients")
	}
	opt.Step()
	if opt.Steps() != 1 || f.w.Value.Data()[0] != 1 {
		t.Errorf("a zero-gradient step: steps %d, w %v", opt.Steps(), f.w.Value.Data())
	}
}

// TestStateRoundTrip checks that an optimizer restored from State continues
// exactly as the original, and that LoadState rejects mismatched state.
func TestStateRoundTrip(t *testing.T) {
	makers := map[string]func(ps []Param) (Optimizer, error){
		"sgd": func(ps []Param) (Optimizer, error) {
			return NewSGD(ps, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01, Nesterov: true})
		},
		"adam": func(ps []Param) (Optimizer, error) { return NewAdam(ps, AdamConfig{LR: 0.01, WeightDecay: 0.01}) },
	}
	for name, mk := range makers {
		a, b := newFixture(t), newFixture(t)
		optA, err := mk(a.params)
		if err != nil {
			t.Fatal(err)
		}
		for k := range 2 {
			a.setGrads(t, k)
			optA.Step()
		}
		state := optA.State()
		if _, ok := state["fc.bias.step"]; !ok {
			t.Fatalf("%s: state lacks fc.bias.step: %v", name, keys(state))
		}
		if got := state["fc.weight.step"].Data()[0]; got != 2 {
			t.Errorf("%s: fc.weight.step = %g, want 2", name, got)
		}
		if got := state["fc.bias.step"].Data()[0]; got != 1 {
			t.Errorf("%s: fc.bias.step = %g, want 1 (no gradient at step 2)", name, got)
		}
		optB, err := mk(b.params)
		if err != nil {
			t.Fatal(err)
		}
		copy(b.w.Value.Data(), a.w.Value.Data())
		copy(b.b.Value.Data(), a.b.Value.Data())
		if err := optB.LoadState(state); err != nil {
			t.Fatal(err)
		}
		a.setGrads(t, 2)
		b.setGrads(t, 2)
		optA.Step()
		optB.Step()
		if a.w.Value.Data()[0] != b.w.Value.Data()[0] || a.b.Value.Data()[0] != b.b.Value.Data()[0] {
			t.Errorf("%s: restored optimizer diverged: %v %v vs %v %v", name,
				a.w.Value.Data(), a.b.Value.Data(), b.w.Value.Data(), b.b.Value.Data())
		}

		bad := map[string]func(m map[string]*tensor.Tensor){
			"unknown key":  func(m map[string]*tensor.Tensor) { m["conv.weight.step"] = tensor.New(1) },
			"wrong shape":  func(m map[string]*tensor.Tensor) { m[firstSlot(m, "fc.weight.")] = tensor.New(2, 1) },
			"partial":      func(m map[string]*tensor.Tensor) { delete(m, "fc.bias.step") },
			"bad step":     func(m map[string]*tensor.Tensor) { m["step"] = tensor.New(1).Fill(1.5) },
			"negative":     func(m map[string]*tensor.Tensor) { m["fc.weight.step"] = tensor.New(1).Fill(-1) },
			"nil tensor":   func(m map[string]*tensor.Tensor) { m["step"] = nil },
			"step not one": func(m map[string]*tensor.Tensor) { m["step"] = tensor.New(2) },
		}
		for what, corrupt := range bad {
			m := optA.State()
			corrupt(m)
			before := optB.State()
			if err := optB.LoadState(m); err == nil {
				t.Errorf("%s: LoadState accepted %s", name, what)
			}
			if after := optB.State(); fmt.Sprint(flatten(after)) != fmt.Sprint(flatten(before)) {
				t.Errorf("%s: a failed LoadState (%s) changed the state", name, what)
			}
		}
	}
}

func keys(m map[string]*tensor.Tensor) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// firstSlot returns a buffer key (not a step) of the parameter with prefix.
func firstSlot(m map[string]*tensor.Tensor, prefix string) string {
	for k := range m {
		if strings.HasPrefix(k, prefix) && !strings.HasSuffix(k, ".step") {
			return k
		}
	}
	return ""
}

func flatten(m map[string]*tensor.Tensor) map[string][]float32 {
	out := map[string][]float32{}
	for k, v := range m {
		out[k] = v.Data()
	}
	return out
}

// bigModel has tensors large enough to be split into several parts, plus
// small ones, with gradients.
func bigModel(t testing.TB) []Param {
	var ps []Param
	for i, n := range []int{3*chunkElems + 17, 5, 1, 2 * chunkElems, 100} {
		v := autograd.Leaf(tensor.New(n).Fill(0.5), true)
		v.Grad = tensor.New(n)
		for j := range v.Grad.Data() {
			v.Grad.Data()[j] = float32(j%7) - 3
		}
		ps = append(ps, Param{Name: fmt.Sprintf("p%d", i), Var: v})
	}
	return ps
}

func TestStepDoesNotAllocate(t *testing.T) {
	ps := bigModel(t)
	sgd, err := NewSGD(ps, SGDConfig{LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	if err != nil {
		t.Fatal(err)
	}
	adam, err := NewAdam(ps, AdamConfig{LR: 1e-3, WeightDecay: 0.01, Decoupled: true})
	if err != nil {
		t.Fatal(err)
	}
	ema, err := NewEMA(ps, nil, EMAConfig{Decay: 0.99, Warmup: true})
	if err != nil {
		t.Fatal(err)
	}
	sgd.Step()
	adam.Step()
	ema.Update()
	ema.Apply()
	ema.Restore()
	for name, fn := range map[string]func(){
		"SGD.Step":          sgd.Step,
		"Adam.Step":         adam.Step,
		"EMA.Update":        ema.Update,
		"EMA.Apply+Restore": func() { ema.Apply(); ema.Restore() },
	} {
		t.Run(name, func(t *testing.T) {
			if n := testing.AllocsPerRun(20, fn); n != 0 {
				t.Errorf("%s allocates %.1f times per call", name, n)
			}
		})
	}
}

// TestThreadCountInvariance checks that results do not depend on how many
// threads the kernels pool uses.
func TestThreadCountInvariance(t *testing.T) {
	run := func(threads int) []float32 {
		prev := kernels.SetThreads(threads)
		defer kernels.SetThreads(prev)
		ps := bigModel(t)
		opt, err := NewAdam(ps, AdamConfig{LR: 1e-3, WeightDecay: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			opt.Step()
		}
		var out []float32
		for _, p := range ps {
			out = append(out, p.Var.Value.Data()...)
		}
		return out
	}
	one, four := run(1), run(4)
	for i := range one {
		if one[i] != four[i] {
			t.Fatalf("element %d: %g with 1 thread, %g with 4", i, one[i], four[i])
		}
	}
}

func BenchmarkSGDStep(b *testing.B) {
	ps := bigModel(b)
	opt, err := NewSGD(ps, SGDConfig{LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		opt.Step()
	}
}
