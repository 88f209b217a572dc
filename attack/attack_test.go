package attack

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// suite returns one of each kind of attack at radius eps (the L2 ones at
// 3·eps, the L2 ball of an 8×8 image being wider).
func suite(eps float32, apgdSteps int) []Attack {
	return []Attack{
		&FGSM{Eps: eps},
		&PGD{Eps: eps, Steps: 10, Alpha: eps / 4, Seed: 1},
		&PGD{Eps: eps, Steps: 10, Alpha: eps / 4, Restarts: 2, EarlyStop: true, Loss: CW, Seed: 2},
		&PGD{Eps: eps, Steps: 10, Loss: DLR, Init: InitNormal, Sigma: 0.001, Seed: 3},
		&PGD{Norm: L2, Eps: 3 * eps, Steps: 10, Alpha: eps, Seed: 4},
		&PGD{Norm: L2, Eps: 3 * eps, Steps: 10, Alpha: eps, Restarts: 2, Seed: 5},
		&APGD{Eps: eps, Steps: apgdSteps, Loss: CE, Seed: 6},
		&APGD{Eps: eps, Steps: apgdSteps, Loss: DLR, Seed: 7},
		&APGD{Norm: L2, Eps: 3 * eps, Steps: apgdSteps, Loss: CE, Seed: 8},
		&APGD{Eps: eps, Steps: apgdSteps, Loss: DLR, Target: NextClass, Seed: 9},
		NewWorstCase("APGD-CE+DLR", &APGD{Eps: eps, Steps: apgdSteps, Seed: 10}, &APGD{Eps: eps, Steps: apgdSteps, Loss: DLR, Seed: 11}),
	}
}

// normOf returns the threat model of the attacks in suite, and their ε.
func normOf(a Attack, eps float32) (Norm, float32) {
	switch a := a.(type) {
	case *PGD:
		return a.Norm, a.Eps
	case *APGD:
		return a.Norm, a.Eps
	}
	return LInf, eps
}

// TestInsideBall: every adversarial input of every attack lies in [0,1]
// and within ε of its clean input.
func TestInsideBall(t *testing.T) {
	f := trained(t)
	for _, eps := range []float32{8.0 / 255, 0.1, 0.3} {
		for _, a := range suite(eps, 20) {
			adv, err := a.Perturb(f.model, f.x, f.y)
			if err != nil {
				t.Fatalf("%s: %v", a.Name(), err)
			}
			norm, e := normOf(a, eps)
			checkBall(t, a.Name(), norm, e, f.x, adv)
		}
	}
}

// TestEpsZero: with ε = 0 every attack returns the clean input, and the
// robust accuracy is the clean accuracy.
func TestEpsZero(t *testing.T) {
	f := trained(t)
	attacks := suite(0, 10)
	res, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: 100, AttackAll: true}, attacks...)
	if err != nil {
		t.Fatal(err)
	}
	for a := range attacks {
		if res.Robust[a] != res.Clean {
			t.Errorf("%s at ε = 0: %d correct, clean %d", res.Names[a], res.Robust[a], res.Clean)
		}
		adv, err := attacks[a].Perturb(f.model, f.x, f.y)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(adv.Data(), f.x.Data()) {
			t.Errorf("%s at ε = 0 changed the input", res.Names[a])
		}
	}
	if res.Worst != res.Clean {
		t.Errorf("worst case at ε = 0: %d correct, clean %d", res.Worst, res.Clean)
	}
}

// TestRobustAtMostClean: no attack's robust accuracy, nor the worst case,
// exceeds the clean accuracy, sample by sample, even when samples
// misclassified clean are attacked too; and the worst case is at most
// each attack.
func TestRobustAtMostClean(t *testing.T) {
	f := trained(t)
	attacks := suite(0.15, 20)
	for _, all := range []bool{false, true} {
		onBatch := func(b *EvalBatch) error {
			for a := range b.Robust {
				for i, r := range b.Robust[a] {
					if r && !b.Clean[i] {
						return fmt.Errorf("attack %d: sample %d robust but misclassified clean", a, b.Indices[i])
					}
					if b.Worst[i] && !r {
						return fmt.Errorf("sample %d robust in the worst case but not under attack %d", b.Indices[i], a)
					}
				}
			}
			return nil
		}
		res, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: 100, AttackAll: all, OnBatch: onBatch}, attacks...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("AttackAll %v:\n%v", all, res)
		for a := range attacks {
			if res.Robust[a] > res.Clean || res.Worst > res.Robust[a] {
				t.Errorf("%s: robust %d, clean %d, worst %d", res.Names[a], res.Robust[a], res.Clean, res.Worst)
			}
		}
	}
}

// TestPGDStrongerThanFGSM on the trained model, at several radii.
func TestPGDStrongerThanFGSM(t *testing.T) {
	f := trained(t)
	if f.acc < 0.95 {
		t.Fatalf("the test model reached only %.1f%% clean accuracy", 100*f.acc)
	}
	for _, eps := range []float32{0.05, 0.1, 0.2} {
		fgsm := &FGSM{Eps: eps}
		pgd := &PGD{Eps: eps, Steps: 20, Alpha: eps / 4}
		res, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: 128}, fgsm, pgd)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ε = %v: clean %.1f%%, FGSM %.1f%%, PGD-20 %.1f%%", eps, 100*res.CleanAcc(), 100*res.RobustAcc(0), 100*res.RobustAcc(1))
		if res.Robust[1] > res.Robust[0] {
			t.Errorf("ε = %v: PGD-20 leaves %d correct, FGSM %d", eps, res.Robust[1], res.Robust[0])
		}
	}
}

// TestHugeEps is the gradient-masking check: with ε = 1 in L∞ any image
// is reachable, so accuracy must fall to about chance (here, to ~0).
func TestHugeEps(t *testing.T) {
	f := trained(t)
	attacks := []Attack{
		&PGD{Eps: 1, Steps: 20, Alpha: 0.1},
		&APGD{Eps: 1, Steps: 20, Loss: CE},
		&APGD{Eps: 1, Steps: 20, Loss: DLR},
	}
	res, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: 128}, attacks...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%v", res)
	for a := range attacks {
		if acc := res.RobustAcc(a); acc > 1.0/classes {
			t.Errorf("%s: accuracy %.1f%% at ε = 1, above chance (%.0f%%)", res.Names[a], 100*acc, 100.0/classes)
		}
	}
}

// TestTargeted: targeted attacks with a large radius send most samples to
// their target class, NextClass.
func TestTargeted(t *testing.T) {
	f := trained(t)
	for _, a := range []Attack{
		&PGD{Eps: 0.6, Steps: 20, Alpha: 0.1, Target: NextClass},
		&PGD{Eps: 0.6, Steps: 20, Alpha: 0.1, Target: NextClass, Loss: CW},
		&APGD{Eps: 0.6, Steps: 20, Loss: DLR, Target: NextClass},
		&FGSM{Eps: 0.6, Target: NextClass},
	} {
		adv, err := a.Perturb(f.model, f.x, f.y)
		if err != nil {
			t.Fatal(err)
		}
		tgt := make([]int, len(f.y))
		NextClass(tgt, f.y, classes)
		hits := countClass(t, f.model, adv, tgt)
		t.Logf("%s: %d of %d on target", a.Name(), hits, len(tgt))
		if _, ok := a.(*FGSM); !ok && hits < len(tgt)*9/10 {
			t.Errorf("%s: only %d of %d samples classified as their target", a.Name(), hits, len(tgt))
		}
	}
	// RandomTarget never picks the label.
	tgt := make([]int, len(f.y))
	RandomTarget(1)(tgt, f.y, classes)
	for i := range tgt {
		if tgt[i] == f.y[i] || tgt[i] < 0 || tgt[i] >= classes {
			t.Fatalf("RandomTarget picked %d for label %d", tgt[i], f.y[i])
		}
	}
}

// countClass returns how many samples of x m classifies as want.
func countClass(t *testing.T, m nn.Module, x *tensor.Tensor, want []int) int {
	t.Helper()
	var p predictor
	ok := make([]bool, len(want))
	if err := p.correct(m, x, want, ok, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range ok {
		if b {
			n++
		}
	}
	return n
}

// TestModelRestored: an attack leaves the model's mode, BatchNorm
// statistics (in BNEval), parameter values and accumulated gradients as it
// found them, and BNTrain runs it in training mode.
func TestModelRestored(t *testing.T) {
	m := tinyNet(7)
	x, y := quadrants(tensor.NewRNG(8), 16)
	params := m.Params()
	for i, p := range params {
		p.Var.Grad = tensor.New(p.Var.Value.Shape()...).Fill(float32(i))
	}
	snapshot := func() (s [][]float32) {
		for _, p := range params {
			s = append(s, slices.Clone(p.Var.Value.Data()), slices.Clone(p.Var.Grad.Data()))
		}
		for _, b := range m.Buffers() {
			s = append(s, slices.Clone(b.T.Data()))
		}
		return s
	}
	before := snapshot()
	for _, train := range []bool{true, false} {
		m.SetTrain(train)
		for _, a := range []Attack{&PGD{Eps: 0.1, Steps: 3}, &APGD{Eps: 0.1, Steps: 5}, NewAPGDWorstCase(L2, 0.5),
			&APGDT{Eps: 0.1, Steps: 3}, &FAB{Norm: L2, Eps: 0.5, Steps: 3}, &Square{Eps: 0.1, Queries: 5}} {
			if _, err := a.Perturb(m, x, y); err != nil {
				t.Fatal(err)
			}
			if m.Training() != train {
				t.Errorf("%s: the model's mode went from train=%v to %v", a.Name(), train, m.Training())
			}
			for _, p := range params {
				if !p.Var.RequiresGrad() {
					t.Fatalf("%s: parameter %s left frozen", a.Name(), p.Name)
				}
			}
			for i, s := range snapshot() {
				if !slices.Equal(s, before[i]) {
					t.Fatalf("%s: parameter, gradient or buffer %d changed", a.Name(), i)
				}
			}
		}
	}
	// BNTrain updates the running statistics (it runs in training mode).
	m.SetTrain(false)
	if _, err := (&PGD{Eps: 0.1, Steps: 2, BN: BNTrain}).Perturb(m, x, y); err != nil {
		t.Fatal(err)
	}
	if m.Training() {
		t.Error("BNTrain left the model in training mode")
	}
	changed := false
	for i, s := range snapshot()[2*len(params):] {
		changed = changed || !slices.Equal(s, before[2*len(params)+i])
	}
	if !changed {
		t.Error("BNTrain did not run BatchNorm in training mode")
	}
}

// TestDeterministic: the same seed gives the same adversarial inputs.
func TestDeterministic(t *testing.T) {
	f := trained(t)
	x, y := f.x, f.y
	for _, mk := range []func() Attack{
		func() Attack { return &PGD{Eps: 0.1, Steps: 5, Restarts: 2, Seed: 11} },
		func() Attack { return &APGD{Norm: L2, Eps: 0.5, Steps: 10, Seed: 11} },
	} {
		a, b := mk(), mk()
		ra, err := a.Perturb(f.model, x, y)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Perturb(f.model, x, y)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ra.Data(), rb.Data()) {
			t.Errorf("%s: two runs with one seed differ", a.Name())
		}
	}
}

func TestErrors(t *testing.T) {
	f := trained(t)
	x, y := f.x, f.y
	bad := f.x.Clone()
	bad.Data()[5] = 1.5
	yBad := slices.Clone(y)
	yBad[3] = classes
	for _, c := range []struct {
		a    Attack
		x    *tensor.Tensor
		y    []int
		want string
	}{
		{&PGD{Eps: -1}, x, y, "eps"},
		{&PGD{Eps: 0.1, Steps: -1}, x, y, "steps"},
		{&APGD{Eps: 0.1, Rho: 2}, x, y, "rho"},
		{&PGD{Eps: 0.1}, bad, y, "outside [0,1]"},
		{&PGD{Eps: 0.1}, x, yBad, "outside the model's 4 classes"},
		{&APGD{Eps: 0.1}, x, y[:5], "labels"},
		{&FGSM{Eps: 0.1}, x.Reshape(256, 64), y, "[N, C, H, W]"},
		{NewAPGDWorstCase(LInf, 0.1), x, yBad, "outside the model's 4 classes"},
	} {
		t.Run(kind(c.a)+" "+c.want, func(t *testing.T) {
			_, err := c.a.Perturb(f.model, c.x, c.y)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %v, want one mentioning %q", c.a.Name(), err, c.want)
			}
		})
	}
}

// kind names an attack's type, e.g. "PGD" or "WorstCase", for subtests.
func kind(a Attack) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", a), "*attack.")
}

// TestNames: names say what the attacks are.
func TestNames(t *testing.T) {
	for _, c := range []struct {
		a    Attack
		want string
	}{
		{&FGSM{Eps: 0.25}, "FGSM Linf ε=0.25"},
		{&PGD{Eps: 0.25}, "PGD-10 Linf ε=0.25 α=0.0625"},
		{&PGD{Norm: L2, Eps: 0.5, Steps: 20, Alpha: 0.1, Loss: CW, Restarts: 3}, "PGD-20 L2 ε=0.5 α=0.1 CW ×3 restarts"},
		{NewAPGDDLR(LInf, 0.25), "APGD-DLR Linf ε=0.25"},
		{&APGD{Eps: 0.25, Target: NextClass, Loss: DLR}, "APGD-DLR-T Linf ε=0.25"},
		{NewAPGDWorstCase(LInf, 0.25), "APGD-CE+DLR"},
		{&APGD{Eps: 0.25, EOT: 20}, "APGD-CE Linf ε=0.25 EOT 20"},
		{&APGDT{Eps: 0.25}, "APGD-T Linf ε=0.25"},
		{&APGDT{Norm: L2, Eps: 0.5, Steps: 50, Targets: 3, Restarts: 2}, "APGD-T L2 ε=0.5 50 steps 3 targets ×2 restarts"},
		{&FAB{Eps: 0.25}, "FAB-T Linf ε=0.25"},
		{&FAB{Eps: 0.25, Steps: 20, Targets: 1}, "FAB-T Linf ε=0.25 20 steps 1 targets"},
		{&Square{Norm: L2, Eps: 0.5, Queries: 1000}, "Square L2 ε=0.5 1000 queries"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := c.a.Name(); got != c.want {
				t.Errorf("Name() = %q, want %q", got, c.want)
			}
		})
	}
}
