package attack

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// newSuite returns the attacks added for AutoAttack, with short runs, at
// radius eps in L∞ and 3·eps in L2.
func newSuite(eps float32) []Attack {
	return []Attack{
		&APGDT{Eps: eps, Steps: 10, Seed: 1},
		&APGDT{Norm: L2, Eps: 3 * eps, Steps: 10, Targets: 2, Restarts: 2, Seed: 2},
		&FAB{Eps: eps, Steps: 10, Seed: 3},
		&FAB{Norm: L2, Eps: 3 * eps, Steps: 10, Restarts: 2, Seed: 4},
		&FAB{Eps: eps, Steps: 10, Restarts: 2, Targets: 1, Seed: 5},
		&Square{Eps: eps, Queries: 100, Seed: 6},
		&Square{Norm: L2, Eps: 3 * eps, Queries: 100, Seed: 7},
		&APGD{Eps: eps, Steps: 10, Loss: DLR, EOT: 2, Seed: 8},
	}
}

// newNorm returns the threat model of an attack of newSuite.
func newNorm(a Attack) (Norm, float32) {
	switch a := a.(type) {
	case *APGDT:
		return a.Norm, a.Eps
	case *FAB:
		return a.Norm, a.Eps
	case *Square:
		return a.Norm, a.Eps
	case *APGD:
		return a.Norm, a.Eps
	}
	panic("unknown attack")
}

// head returns the first n samples of the fixture's test set.
func head(f *fixture, n int) (*tensor.Tensor, []int) {
	chw := f.x.Len() / len(f.y)
	x, err := tensor.FromSlice(f.x.Data()[:n*chw], n, f.x.Dim(1), f.x.Dim(2), f.x.Dim(3))
	if err != nil {
		panic(err)
	}
	return x, f.y[:n]
}

// TestNewAttacksInsideBall: every output of APGD-T, FAB-T and Square, in
// L∞ and L2, lies in [0,1] and within ε of its clean input.
func TestNewAttacksInsideBall(t *testing.T) {
	f := trained(t)
	x, y := head(f, 96)
	for _, eps := range []float32{8.0 / 255, 0.1, 0.3} {
		for _, a := range newSuite(eps) {
			adv, err := a.Perturb(f.model, x, y)
			if err != nil {
				t.Fatalf("%s: %v", a.Name(), err)
			}
			norm, e := newNorm(a)
			checkBall(t, a.Name(), norm, e, x, adv)
		}
	}
}

// TestNewAttacksEpsZero: at ε = 0 the new attacks return the clean input
// and the robust accuracy is the clean accuracy.
func TestNewAttacksEpsZero(t *testing.T) {
	f := trained(t)
	x, y := head(f, 64)
	idx := make([]int, 64)
	for i := range idx {
		idx[i] = i
	}
	attacks := newSuite(0)
	res, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: 32, AttackAll: true, Indices: idx}, attacks...)
	if err != nil {
		t.Fatal(err)
	}
	for a := range attacks {
		if res.Robust[a] != res.Clean {
			t.Errorf("%s at ε = 0: %d correct, clean %d", res.Names[a], res.Robust[a], res.Clean)
		}
		adv, err := attacks[a].Perturb(f.model, x, y)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(adv.Data(), x.Data()) {
			t.Errorf("%s at ε = 0 changed the input", res.Names[a])
		}
	}
}

// TestNewAttacksDeterministic: one seed, one result.
func TestNewAttacksDeterministic(t *testing.T) {
	f := trained(t)
	x, y := head(f, 64)
	for k := range newSuite(0.1) {
		a, b := newSuite(0.1)[k], newSuite(0.1)[k]
		ra, err := a.Perturb(f.model, x, y)
		if err != nil {
			t.Fatal(err)
		}
		da := slices.Clone(ra.Data())
		rb, err := b.Perturb(f.model, x, y)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(da, rb.Data()) {
			t.Errorf("%s: two runs with one seed differ", a.Name())
		}
	}
}

// TestAutoAttackAtMostComponents: AutoAttack leaves no sample correct
// that one of its attacks alone breaks. Each sample is evaluated alone
// (a batch of one) by a fresh AutoAttack and by fresh copies of each of
// its attacks, so an attack's run on a sample is the same computation in
// the cascade as alone, and the property holds exactly, sample by sample.
// L∞ runs the standard version itself; L2 its attacks, shortened,
// through Evaluate's cascade. The cascade's accuracy never rises from one
// attack to the next, and its last value is the worst case.
func TestAutoAttackAtMostComponents(t *testing.T) {
	f := trained(t)
	for _, c := range []struct {
		aa    AutoAttack
		short bool
	}{
		{AutoAttack{Norm: LInf, Eps: 0.15, Seed: 1}, false},
		{AutoAttack{Norm: L2, Eps: 0.8, Seed: 2}, true},
	} {
		t.Run(fmt.Sprint(c.aa.Norm), func(t *testing.T) {
			components := func() []Attack {
				comps, err := c.aa.Components()
				if err != nil {
					t.Fatal(err)
				}
				if c.short {
					comps[0].(*APGD).Steps = 30
					comps[1].(*APGDT).Steps = 30
					comps[2].(*FAB).Steps = 30
					comps[3].(*Square).Queries = 500
				}
				return comps
			}
			var total int
			alone := make([]int, 4)
			for i := range 24 {
				o := EvalOptions{Indices: []int{i}}
				var res Result
				if c.short {
					o.Cascade = true
					r, err := Evaluate(f.model, f.ds, o, components()...)
					if err != nil {
						t.Fatal(err)
					}
					res, o.Cascade = r, false
				} else {
					r, err := c.aa.Evaluate(f.model, f.ds, o)
					if err != nil {
						t.Fatal(err)
					}
					res = r.Result
				}
				for a := 1; a < len(res.Robust); a++ {
					if res.Robust[a] > res.Robust[a-1] {
						t.Errorf("%v sample %d: the cascade's accuracy rose at %s", c.aa.Norm, i, res.Names[a])
					}
				}
				if res.Worst != res.Robust[len(res.Robust)-1] {
					t.Errorf("%v sample %d: worst case %d, last attack %d", c.aa.Norm, i, res.Worst, res.Robust[len(res.Robust)-1])
				}
				total += res.Worst
				for k := range alone {
					one := components()[k]
					r, err := Evaluate(f.model, f.ds, o, one)
					if err != nil {
						t.Fatal(err)
					}
					alone[k] += r.Robust[0]
					if res.Worst > r.Robust[0] {
						t.Errorf("%v sample %d: AutoAttack leaves it correct, %s alone breaks it", c.aa.Norm, i, one.Name())
					}
				}
			}
			t.Logf("%v ε=%v: AutoAttack leaves %d of 24 correct; APGD-CE, APGD-T, FAB-T, Square alone %v", c.aa.Norm, c.aa.Eps, total, alone)
			if total == 0 || total == 24 {
				t.Errorf("%v: %d of 24 survive; the test wants a radius where some, not all, do", c.aa.Norm, total)
			}
		})
	}
}

// TestAutoAttackVersions: each version's attacks, in order.
func TestAutoAttackVersions(t *testing.T) {
	for _, c := range []struct {
		aa   AutoAttack
		want []string
	}{
		{AutoAttack{Eps: 0.25}, []string{"APGD-CE Linf ε=0.25", "APGD-T Linf ε=0.25", "FAB-T Linf ε=0.25", "Square Linf ε=0.25 5000 queries"}},
		{AutoAttack{Norm: L2, Eps: 0.5, Version: "standard"}, []string{"APGD-CE L2 ε=0.5", "APGD-T L2 ε=0.5", "FAB-T L2 ε=0.5", "Square L2 ε=0.5 5000 queries"}},
		{AutoAttack{Eps: 0.25, Version: "rand"}, []string{"APGD-CE Linf ε=0.25 EOT 20", "APGD-DLR Linf ε=0.25 EOT 20"}},
		{AutoAttack{Eps: 0.25, Version: "custom", Attacks: []string{"Square", " apgd-dlr"}}, []string{"Square Linf ε=0.25 5000 queries", "APGD-DLR Linf ε=0.25 ×5 restarts"}},
	} {
		t.Run(cmp.Or(c.aa.Version, "default")+" "+c.aa.Norm.String(), func(t *testing.T) {
			comps, err := c.aa.Components()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range comps {
				names = append(names, a.Name())
			}
			if !slices.Equal(names, c.want) {
				t.Errorf("%+v: attacks %q, want %q", c.aa, names, c.want)
			}
		})
	}
	comps, _ := (&AutoAttack{Eps: 0.1}).Components()
	if sq := comps[3].(*Square); !sq.FixedSchedule || sq.Queries != 0 || sq.PInit != 0 {
		t.Errorf("standard Square: %+v, want the reference's fixed schedule with the defaults", sq)
	}
}

func TestAutoAttackErrors(t *testing.T) {
	f := trained(t)
	for _, c := range []struct {
		aa   AutoAttack
		want string
	}{
		{AutoAttack{Eps: 0.1, Version: "plus"}, `unknown version "plus"`},
		{AutoAttack{Eps: 0.1, Version: "custom", Attacks: []string{"apgd-ce", "pgd"}}, `unknown attack "pgd"`},
		{AutoAttack{Eps: 0.1, Attacks: []string{"apgd-ce"}}, `only for Version "custom"`},
		{AutoAttack{Eps: 0.1, Version: "rand", Attacks: []string{"apgd-ce"}}, `only for Version "custom"`},
		{AutoAttack{Eps: 0.1, Version: "custom"}, `needs Attacks`},
		{AutoAttack{Eps: 0}, "eps = 0"},
		{AutoAttack{Eps: -0.1}, "eps = -0.1"},
		{AutoAttack{Eps: 0.1, Norm: 7}, "unknown norm"},
	} {
		t.Run(cmp.Or(c.aa.Version, "default")+" "+c.want, func(t *testing.T) {
			_, err := c.aa.Evaluate(f.model, f.ds, EvalOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: error %v, want one mentioning %q", c.aa, err, c.want)
			}
		})
	}
	// The new attacks' own checks.
	bad := f.x.Clone()
	bad.Data()[3] = -0.5
	for _, c := range []struct {
		a    Attack
		x    *tensor.Tensor
		want string
	}{
		{&APGDT{Eps: 0.1, Targets: -1}, f.x, "targets -1"},
		{&APGDT{Eps: -1}, f.x, "eps"},
		{&APGDT{Eps: 0.1, EOT: -2}, f.x, "EOT -2"},
		{&APGDT{Eps: 0.1}, bad, "outside [0,1]"},
		{&FAB{Eps: 0.1, Steps: -1}, f.x, "steps -1"},
		{&FAB{Eps: 0.1, Beta: 2}, f.x, "β 2"},
		{&FAB{Eps: 0.1}, bad, "outside [0,1]"},
		{&Square{Eps: 0.1, Queries: -5}, f.x, "queries -5"},
		{&Square{Eps: 0.1, PInit: 1.5}, f.x, "p_init 1.5"},
		{&Square{Eps: 0.1, Norm: 3}, f.x, "unknown norm"},
		{&Square{Eps: 0.1}, bad, "outside [0,1]"},
		{&APGD{Eps: 0.1, EOT: -1}, f.x, "EOT -1"},
	} {
		t.Run(kind(c.a)+" "+c.want, func(t *testing.T) {
			_, err := c.a.Perturb(f.model, c.x, f.y)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %v, want one mentioning %q", c.a.Name(), err, c.want)
			}
		})
	}
	// Targeted DLR needs 4 classes.
	m := newThresholdNet()
	x, y := thresholdData(4)
	if _, err := (&APGDT{Eps: 0.1}).Perturb(m, x, y); err == nil || !strings.Contains(err.Error(), "at least 4 classes") {
		t.Errorf("APGD-T on 2 classes: error %v", err)
	}
}

// newConstNet ignores its input: its logits are always (2, 0, 0).
func newConstNet() nn.Module {
	fc := nn.NewLinear(tensor.NewRNG(1), 64, 3, true)
	clear(fc.Weight.Value.Data())
	copy(fc.Bias.Value.Data(), []float32{2, 0, 0})
	return nn.NewSequential().Append("flatten", &nn.Flatten{}).Append("fc", fc)
}

// TestAutoAttackWarnings: the sanity checks fire on a model whose
// gradients are masked (Square beats the gradient attacks), on one whose
// logits ignore the input and misclassify everything (clean accuracy 0),
// and on a healthy model fire none (beyond the targets cap).
func TestAutoAttackWarnings(t *testing.T) {
	x, y := thresholdData(32)
	ds, err := data.FromTensor(x, y, 2)
	if err != nil {
		t.Fatal(err)
	}
	aa := &AutoAttack{Eps: 0.1, Version: "custom", Attacks: []string{"apgd-ce", "square"}, Seed: 1}
	calls := 0
	res, err := aa.Evaluate(newThresholdNet(), ds, EvalOptions{OnBatch: func(*EvalBatch) error { calls++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("masked gradients:\n%v", res)
	if calls != 1 {
		t.Errorf("the caller's OnBatch ran %d times, want 1", calls)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Square") || !strings.Contains(res.Warnings[0], "masked") {
		t.Errorf("masked gradients: warnings %q, want one about Square", res.Warnings)
	}

	labels := make([]int, 8)
	for i := range labels {
		labels[i] = 1 + i%2
	}
	cds, err := data.FromTensor(tensor.Rand(tensor.NewRNG(2), 8, 1, 8, 8), labels, 3)
	if err != nil {
		t.Fatal(err)
	}
	res, err = (&AutoAttack{Eps: 0.1, Version: "custom", Attacks: []string{"apgd-ce"}}).Evaluate(newConstNet(), cds, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("constant model:\n%v", res)
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "clean accuracy is 0") || !strings.Contains(res.Warnings[1], "same logits") {
		t.Errorf("constant model: warnings %q, want clean accuracy 0 and identical logits", res.Warnings)
	}

	f := trained(t)
	res, err = (&AutoAttack{Eps: 0.1, Version: "custom", Attacks: []string{"apgd-ce", "fab-t"}}).Evaluate(f.model, f.ds, EvalOptions{Indices: []int{0, 1, 2, 3, 4, 5, 6, 7}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "FAB-T uses 9 target classes but the model has only 4") {
		t.Errorf("trained model: warnings %q, want only the targets cap", res.Warnings)
	}
}

// counting records the batch sizes an attack is run on.
type counting struct {
	Attack
	sizes []int
}

func (c *counting) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	c.sizes = append(c.sizes, len(y))
	return c.Attack.Perturb(m, x, y)
}

// TestCascade: with Cascade, each attack runs only on the samples every
// earlier one failed to break, and Robust becomes cumulative.
func TestCascade(t *testing.T) {
	f := trained(t)
	a := &counting{Attack: &PGD{Eps: 0.1, Steps: 5, Seed: 1}}
	b := &counting{Attack: &APGD{Eps: 0.1, Steps: 10, Seed: 2}}
	res, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: 256, Cascade: true}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.sizes) != 1 || a.sizes[0] != res.Clean {
		t.Errorf("first attack ran on %v samples, want [%d] (the clean-correct ones)", a.sizes, res.Clean)
	}
	if len(b.sizes) != 1 || b.sizes[0] != res.Robust[0] {
		t.Errorf("second attack ran on %v samples, want [%d] (those the first left)", b.sizes, res.Robust[0])
	}
	if res.Robust[1] > res.Robust[0] || res.Worst != res.Robust[1] {
		t.Errorf("cascade: robust %v, worst %d", res.Robust, res.Worst)
	}
}

// noisyNet is a randomized defence: it adds Gaussian noise (σ = 0.05) to
// its input before the model.
type noisyNet struct {
	nn.Module
	rng *tensor.RNG
}

func (n *noisyNet) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	noise := n.rng.Normal(tp.Arena().GetUninit(x.Value.Shape()...), 0, 0.05)
	return n.Module.Forward(tp, tp.Add(x, autograd.Leaf(noise, false)))
}

// TestAutoAttackRandomized: a randomized model draws the warning in the
// standard and custom versions, not in "rand", whose EOT attacks run on
// it and stay in the ball.
func TestAutoAttackRandomized(t *testing.T) {
	f := trained(t)
	m := &noisyNet{Module: f.model, rng: tensor.NewRNG(1)}
	o := EvalOptions{Indices: []int{0, 1, 2, 3}}
	res, err := (&AutoAttack{Eps: 0.1, Version: "custom", Attacks: []string{"apgd-ce"}}).Evaluate(m, f.ds, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `use Version "rand"`) {
		t.Errorf("randomized model: warnings %q, want one suggesting the rand version", res.Warnings)
	}
	var adv []*tensor.Tensor
	o.OnBatch = func(b *EvalBatch) error {
		for _, a := range b.Adv {
			adv = append(adv, a.Clone())
		}
		return nil
	}
	res, err = (&AutoAttack{Norm: L2, Eps: 0.5, Version: "rand"}).Evaluate(m, f.ds, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rand version:\n%v", res)
	if len(res.Warnings) != 0 {
		t.Errorf("rand version: warnings %q, want none", res.Warnings)
	}
	x, _ := head(f, 4)
	for k, a := range adv {
		checkBall(t, res.Names[k], L2, 0.5, x, a)
	}
}
