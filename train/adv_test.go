package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/nn"
)

// advConfig is tinyConfig with adversarial training in mode and cheap
// attacks.
func advConfig(out string, mode AdvMode) Config {
	c := tinyConfig(out)
	c.Epochs, c.Adv, c.Eps, c.Steps, c.ValSize, c.ValSteps = 1, mode, 0.1, 2, 16, 2
	return c
}

func TestAdvModesTrain(t *testing.T) {
	for _, mode := range []AdvMode{AdvPGD, AdvTRADES, AdvFGSMRS} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			cfg := advConfig(dir, mode)
			cfg.Epochs = 2
			ms, err := runMetrics(context.Background(), cfg, tinyOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if math.IsNaN(m.TrainLoss) || math.IsInf(m.TrainLoss, 0) || m.TrainLoss <= 0 {
					t.Fatalf("epoch %d: loss %v", m.Epoch, m.TrainLoss)
				}
				a := m.AdvMetrics
				if a == nil || a.ValRobustAcc > a.ValCleanAcc || a.EMAValRobustAcc == nil || a.BestRobustAcc < *a.EMAValRobustAcc {
					t.Fatalf("epoch %d: robust metrics %+v", m.Epoch, a)
				}
				if (a.ValFGSMAcc != nil) != (mode == "fgsm-rs") {
					t.Fatalf("%s: FGSM accuracy %v", mode, a.ValFGSMAcc)
				}
			}
			w, err := nn.ReadWeights(filepath.Join(dir, BestModelFile))
			if err != nil || w.Arch != "resnet8" || w.Epoch < 1 {
				t.Fatalf("best model: %+v, %v", w, err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, MetricsFile))
			if err != nil || !strings.Contains(string(raw), `"val_robust_acc":`) {
				t.Fatalf("metrics.jsonl lacks robust accuracy: %s %v", raw, err)
			}
		})
	}
}

// TestEvalEvery checks that --eval-every 2 over 3 epochs evaluates after
// epochs 2 and 3 only, that the best checkpoint comes from those, and
// that the trained weights are those of a run evaluating every epoch.
func TestEvalEvery(t *testing.T) {
	every := advConfig(t.TempDir(), "pgd")
	every.Epochs = 3
	if _, err := runMetrics(context.Background(), every, tinyOptions(t)); err != nil {
		t.Fatal(err)
	}
	cfg := every
	cfg.Out, cfg.EvalEvery = t.TempDir(), 2
	ms, err := runMetrics(context.Background(), cfg, tinyOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, ModelFile, readTensors(t, filepath.Join(every.Out, ModelFile)), readTensors(t, filepath.Join(cfg.Out, ModelFile)))
	for _, m := range ms {
		evaluated := m.Epoch != 1
		if (m.TestAcc != nil) != evaluated || (m.AdvMetrics != nil) != evaluated {
			t.Errorf("epoch %d: test acc %v, robust metrics %v; want evaluated %v", m.Epoch, m.TestAcc, m.AdvMetrics, evaluated)
		}
	}
	w, err := nn.ReadWeights(filepath.Join(cfg.Out, BestModelFile))
	if err != nil || w.Epoch < 2 {
		t.Fatalf("best model: epoch %d, %v; want one of the evaluated epochs 2, 3", w.Epoch, err)
	}
}

// trainerFor builds a Trainer for cfg and returns it with a first batch.
func trainerFor(t *testing.T, cfg Config) (*Trainer, *Step) {
	t.Helper()
	tr, err := New(cfg, tinyOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	tr.batcher.Reset(0)
	if !tr.batcher.Next() {
		t.Fatal(tr.batcher.Err())
	}
	b := tr.batcher.Batch()
	s := &tr.step
	s.X.Value, s.Labels, s.Indices = b.X, b.Labels, b.Indices
	tr.model.SetTrain(true)
	return tr, s
}

func TestTRADESInnerStaysInBall(t *testing.T) {
	for _, norm := range []attack.Norm{attack.LInf, attack.L2} {
		cfg := advConfig(t.TempDir(), "trades")
		cfg.Norm, cfg.Eps, cfg.Steps, cfg.StepSize = norm, 0.05, 5, 0.03
		tr, s := trainerFor(t, cfg)
		a := tr.adv
		a.cacheClean(s.Model, s.X)
		xv, err := a.perturb(s)
		if err != nil {
			t.Fatal(err)
		}
		x, xa := s.X.Value.Data(), xv.Value.Data()
		chw := len(x) / len(s.Labels)
		eps := float64(float32(cfg.Eps)) // the attack's ε
		moved := false
		for i := range s.Labels {
			var sq float64
			for k := i * chw; k < (i+1)*chw; k++ {
				d := float64(xa[k]) - float64(x[k])
				if xa[k] < 0 || xa[k] > 1 || norm == attack.LInf && math.Abs(d) > eps {
					t.Fatalf("%s: x'[%d] = %v, x = %v: outside the ball or [0,1]", norm, k, xa[k], x[k])
				}
				sq += d * d
				moved = moved || math.Abs(d) > 0.01
			}
			if norm == attack.L2 && math.Sqrt(sq) > eps*(1+1e-6) {
				t.Fatalf("l2: sample %d moved %v > ε", i, math.Sqrt(sq))
			}
		}
		if !moved {
			t.Fatalf("%s: the inner maximization did not move beyond the 0.001·N(0,I) start", norm)
		}
		if !s.Model.Training() {
			t.Fatal("the inner attack left the model in eval mode")
		}
	}
}

func TestTRADESCachesCleanSoftmax(t *testing.T) {
	cfg := advConfig(t.TempDir(), "trades")
	cfg.Steps = 3
	tr, err := New(cfg, tinyOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	objCalls := 0
	p := tr.adv.innerAttack(0)
	obj := p.Objective
	p.Objective = func(i int, z []float32, y int, g []float32) float64 {
		objCalls++
		return obj(i, z, y, g)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	batches := tr.batcher.Len()
	if tr.adv.cleanCalls != batches {
		t.Fatalf("clean softmax computed %d times over %d batches, want once per batch", tr.adv.cleanCalls, batches)
	}
	if want := batches * cfg.Steps * 16; objCalls != want {
		t.Fatalf("inner objective evaluated %d times, want %d (batches × steps × samples)", objCalls, want)
	}
}

func TestKLObjectiveGradient(t *testing.T) {
	a := &adv{clean: []float32{0.1, 0.6, 0.3}}
	z := []float32{0.3, -1.2, 0.8}
	g := make([]float32, 3)
	kl := a.klObjective(0, z, 0, g)
	if kl <= 0 {
		t.Fatalf("KL = %v, want > 0", kl)
	}
	for j := range z {
		num := testutil.CentralDiff(z, j, 1e-3, func() float64 { return a.klObjective(0, z, 0, make([]float32, 3)) })
		if math.Abs(num-float64(g[j])) > 1e-3 {
			t.Fatalf("∂KL/∂z[%d] = %v, numerically %v", j, g[j], num)
		}
	}
}

func TestFGSMRSStepSize(t *testing.T) {
	cfg := advConfig(t.TempDir(), "fgsm-rs")
	cfg.Steps = 0
	tr, s := trainerFor(t, cfg)
	p := tr.adv.innerAttack(0)
	if p.Steps != 1 || p.Init != attack.InitUniform || math.Abs(float64(p.Alpha)-1.25*cfg.Eps) > 1e-7 {
		t.Fatalf("FGSM-RS attack: steps %d, init %v, α %v; want 1 uniform-start step of 1.25ε = %v", p.Steps, p.Init, p.Alpha, 1.25*cfg.Eps)
	}
	// From x = 0.5 (far from the [0,1] bounds), a step of 1.25ε from
	// δ ~ U(−ε, ε) leaves every pixel with a non-zero gradient at
	// |δ| ≥ 0.25ε; a step of ε would leave about 1/8 of them closer to x.
	x := s.X.Value.Data()
	for k := range x {
		x[k] = 0.5
	}
	xv, err := tr.adv.perturb(s)
	if err != nil {
		t.Fatal(err)
	}
	xa := xv.Value.Data()
	eps := float32(cfg.Eps)
	near := 0
	for k, v := range xa {
		d := v - x[k]
		if d < -eps*1.0001 || d > eps*1.0001 {
			t.Fatalf("pixel %d moved %v, beyond ε", k, d)
		}
		if math.Abs(float64(d)) < 0.249*float64(eps) {
			near++
		}
	}
	if frac := float64(near) / float64(len(xa)); frac > 0.02 {
		t.Fatalf("%.1f%% of the pixels end within 0.25ε of x; a 1.25ε step leaves none", 100*frac)
	}
}

func TestOverfittingCheck(t *testing.T) {
	for _, tc := range []struct {
		prev, pgd, fgsm float64
		want            bool
	}{
		{-1, 0.3, 0.5, false}, // first epoch
		{0.4, 0.35, 0.5, false},
		{0.4, 0.05, 0.5, true}, // collapse to < 20% of the last epoch
		{0.01, 0.0, 0.9, true}, // ~0 while FGSM stays high
		{0.01, 0.0, 0.1, false},
	} {
		t.Run(fmt.Sprintf("prev%v_pgd%v_fgsm%v", tc.prev, tc.pgd, tc.fgsm), func(t *testing.T) {
			if got := overfitting(tc.prev, tc.pgd, tc.fgsm); got != tc.want {
				t.Errorf("overfitting(%v, %v, %v) = %v", tc.prev, tc.pgd, tc.fgsm, got)
			}
		})
	}
}

// TestMixedBatchesOddReal mixes 41 real samples at 2 a batch: the last
// real part holds the 3 left over (never one alone), and every real
// sample comes once an epoch.
func TestMixedBatchesOddReal(t *testing.T) {
	real, pool := synthetic(t, 1, 41, 1, 8), synthetic(t, 3, 100, 1, 8)
	m, err := newMixBatcher(real, pool, 2, 8, data.Config{BatchSize: 10, Shuffle: true, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Reset(0)
	seen := map[int]int{}
	last := 0
	for m.Next() {
		b := m.Batch()
		last = 0
		for _, k := range b.Indices {
			if k < 41 {
				seen[k]++
				last++
			}
		}
		if b.X.Dim(0) != last+8 {
			t.Fatalf("batch of %d images for %d real and 8 pool samples", b.X.Dim(0), last)
		}
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 41 || last != 3 {
		t.Fatalf("%d real samples seen, last real part %d; want 41 and 3", len(seen), last)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("real sample %d seen %d times", k, c)
		}
	}
}

func TestMixedBatches(t *testing.T) {
	real, pool := synthetic(t, 1, 40, 1, 8), synthetic(t, 3, 100, 1, 8)
	bc := data.Config{BatchSize: 10, Shuffle: true, Seed: 5, Workers: 2}
	nr, ns := (&Config{}).SplitBatch(bc.BatchSize)
	if nr != 2 || ns != 8 {
		t.Fatalf("split of 10 at the default 0.8: %d real + %d synthetic", nr, ns)
	}
	epoch := func(e int) [][]int {
		m, err := newMixBatcher(real, pool, nr, ns, bc)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.Reset(e)
		var out [][]int
		for m.Next() {
			b := m.Batch()
			if b.X.Dim(0) != 10 || len(b.Labels) != 10 {
				t.Fatalf("batch of %d", b.X.Dim(0))
			}
			for i, k := range b.Indices {
				if (k < 40) != (i < nr) {
					t.Fatalf("batch %v: position %d holds index %d", b.Indices, i, k)
				}
				want := make([]float32, 64)
				if k < 40 {
					real.Image(k, want)
				} else {
					pool.Image(k-40, want)
				}
				if !slices.Equal(b.X.Data()[i*64:(i+1)*64], want) {
					t.Fatalf("batch image %d is not sample %d", i, k)
				}
			}
			out = append(out, slices.Clone(b.Indices))
		}
		if err := m.Err(); err != nil {
			t.Fatal(err)
		}
		if len(out) != m.Len() {
			t.Fatalf("%d batches, Len %d", len(out), m.Len())
		}
		return out
	}
	e1 := epoch(1)
	if len(e1) != 20 {
		t.Fatalf("%d batches, want 20: an epoch is one pass over the 40 real samples", len(e1))
	}
	var reals []int
	for _, b := range e1 {
		reals = append(reals, b[:nr]...)
	}
	slices.Sort(reals)
	for i, k := range reals {
		if k != i {
			t.Fatalf("epoch visits real samples %v, want each once", reals)
		}
	}
	// 20 batches × 8 take 160 pool samples: the pool of 100 is reshuffled
	// within the epoch.
	if !slices.EqualFunc(e1, epoch(1), slices.Equal) {
		t.Fatal("the same epoch differs between two batchers with one seed")
	}
	if slices.EqualFunc(e1, epoch(2), slices.Equal) {
		t.Fatal("epochs 1 and 2 are the same")
	}
}

// writeSet writes ds as npy files in dir and returns its npy: spec.
func writeSet(t *testing.T, dir, name string, ds data.Dataset) string {
	t.Helper()
	c, h, w := ds.Shape()
	x := make([]float32, ds.Len()*c*h*w)
	y := make([]int64, ds.Len())
	for i := range y {
		if err := ds.Image(i, x[i*c*h*w:(i+1)*c*h*w]); err != nil {
			t.Fatal(err)
		}
		y[i] = int64(ds.Label(i))
	}
	xp, yp := filepath.Join(dir, name+"_x.npy"), filepath.Join(dir, name+"_y.npy")
	if err := data.WriteNpy(xp, []int{ds.Len(), c, h, w}, x); err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNpy(yp, []int{ds.Len()}, y); err != nil {
		t.Fatal(err)
	}
	return "npy:" + xp + "," + yp
}

func TestMixedTraining(t *testing.T) {
	dir := t.TempDir()
	cfg := advConfig(filepath.Join(dir, "run"), "pgd")
	cfg.Synthetic = writeSet(t, dir, "pool", synthetic(t, 9, 200, 1, 8))
	opts := tinyOptions(t)
	seen := map[bool]int{}
	opts.OnBatch = func(s *Step) error {
		for _, k := range s.Indices {
			seen[k >= 64]++
		}
		return nil
	}
	ms, err := runMetrics(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	// 64 real samples at 16 − round(0.8·16) = 3 a batch: 22 batches
	// (the last two of 2 real samples each, never one alone), 13
	// synthetic each: every real sample once.
	if seen[false] != 64 || seen[true] != 22*13 || math.IsNaN(ms[0].TrainLoss) {
		t.Fatalf("saw %d real and %d synthetic samples", seen[false], seen[true])
	}
}

func TestAdvConfigErrorsNameTheField(t *testing.T) {
	pgd := func(dir string) Config { return advConfig(dir, "pgd") }
	checkConfigErrors(t, pgd, []configCase{
		{"unknown adv", func(c *Config) { c.Adv = "mart" }, "Adv"},
		{"zero eps", func(c *Config) { c.Eps = 0 }, "Eps"},
		{"eps 2", func(c *Config) { c.Eps = 2 }, "Eps"},
		{"unknown norm", func(c *Config) { c.Norm = 7 }, "Norm"},
		{"negative steps", func(c *Config) { c.Steps = -1 }, "Steps"},
		{"NaN step size", func(c *Config) { c.StepSize = math.NaN() }, "StepSize"},
		{"negative beta", func(c *Config) { c.Beta = -1 }, "Beta"},
		{"pgd with bn keep", func(c *Config) { c.AdvBN = attack.BNKeep }, "AdvBN"},
		{"trades with bn train", func(c *Config) { c.Adv, c.AdvBN = "trades", attack.BNTrain }, "AdvBN"},
		{"synthetic frac 1", func(c *Config) { c.SyntheticFrac = 1 }, "SyntheticFrac"},
		{"negative val size", func(c *Config) { c.ValSize = -3 }, "ValSize"},
		{"negative eval every", func(c *Config) { c.EvalEvery = -1 }, "EvalEvery"},
		{"missing synthetic", func(c *Config) { c.Synthetic = "npz:/nonexistent.npz" }, "Synthetic"},
	})
	// A custom loss and --adv do not mix.
	opts := tinyOptions(t)
	opts.Loss = func(s *Step) (*autograd.Var, *autograd.Var, error) { return nil, nil, nil }
	_, err := New(pgd(t.TempDir()), opts)
	checkFieldError(t, err, "Adv")
}

// TestAttackErrorIsAnError checks that a failing inner attack comes back
// from the loss as an error naming Adv, not as a panic.
func TestAttackErrorIsAnError(t *testing.T) {
	tr, s := trainerFor(t, advConfig(t.TempDir(), "pgd"))
	x := s.X.Value.Data()
	x[0] = 2 // outside [0,1]: the attack refuses it
	_, _, err := tr.adv.loss(s)
	checkFieldError(t, err, "Adv")
	if !strings.Contains(err.Error(), "Adv: pgd") {
		t.Fatalf("error %v, want one naming Adv pgd", err)
	}
}

func TestEpsWarmup(t *testing.T) {
	cfg := advConfig(t.TempDir(), "pgd")
	cfg.Epochs, cfg.EpsWarmup, cfg.StepSize = 2, 1, 0
	tr, s := trainerFor(t, cfg)
	nb := tr.batcher.Len()
	for _, tc := range []struct{ epoch, batch int }{{0, 0}, {0, nb / 2}, {0, nb - 1}, {1, 0}, {1, nb - 1}} {
		t.Run(fmt.Sprintf("epoch%d_batch%d", tc.epoch, tc.batch), func(t *testing.T) {
			s.Epoch, s.Batch = tc.epoch, tc.batch
			xv, err := tr.adv.perturb(s)
			if err != nil {
				t.Fatal(err)
			}
			f := min(1, float64(tc.epoch*nb+tc.batch+1)/float64(nb))
			want := float32(f * cfg.Eps)
			p := tr.adv.innerAttack(tc.epoch)
			if p.Eps != want || p.Alpha != want/4 {
				t.Fatalf("epoch %d batch %d: ε %v α %v, want ε %v α %v", tc.epoch, tc.batch, p.Eps, p.Alpha, want, want/4)
			}
			x, xa := s.X.Value.Data(), xv.Value.Data()
			for k := range xa {
				if d := xa[k] - x[k]; d > want || d < -want {
					t.Fatalf("epoch %d batch %d: pixel %d moved %v, beyond the ramped ε %v", tc.epoch, tc.batch, k, d, want)
				}
			}
		})
	}
	bad := advConfig(t.TempDir(), "pgd")
	bad.EpsWarmup = 3
	checkFieldError(t, bad.Check(), "EpsWarmup")
}
