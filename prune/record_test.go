package prune_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/internal/toyset"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/safetensors"
	"github.com/bulwark-ml/bulwark/train"
)

// tinyConfig is a small training run (as in package train's tests).
func tinyConfig(out string) train.Config {
	return train.Config{
		Arch: "resnet8", Width: 0.25, Data: "synthetic", Epochs: 3, BatchSize: 16,
		LR: 0.05, Schedule: train.Cosine, Warmup: 1, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4,
		LabelSmoothing: 0.1, EMA: 0.9, Augment: true, Seed: 7, Threads: 2, Out: out,
	}
}

// advConfig is tinyConfig with PGD-AT and cheap attacks.
func advConfig(out string) train.Config {
	c := tinyConfig(out)
	c.Epochs, c.Adv, c.Eps, c.Steps, c.ValSize, c.ValSteps = 1, train.AdvPGD, 0.1, 2, 16, 2
	return c
}

func tinyOptions() train.Options {
	return train.Options{Train: toyset.Quadrants(1, 64, 1, 8), Test: toyset.Quadrants(2, 32, 1, 8)}
}

// recordRun trains cfg with a recorder of kind over indices (nil: all)
// writing into cfg.Out, and returns the metrics of the run.
func recordRun(t *testing.T, ctx context.Context, cfg train.Config, opts train.Options, kind prune.RecordKind, indices []int) ([]train.Metrics, error) {
	t.Helper()
	ds, err := prune.RecordData(opts.Train, opts.Synthetic)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := prune.NewRecorder(prune.RecorderOptions{Data: ds, Indices: indices, Kind: kind, Dir: cfg.Out,
		BatchSize: cfg.BatchSize, Attack: func(e int) attack.Attack { return cfg.RecordAttack(e) }})
	if err != nil {
		t.Fatal(err)
	}
	rec.Attach(&opts)
	res, err := train.Run(ctx, cfg, opts)
	if res == nil {
		return nil, err
	}
	return res.Metrics, err
}

// sameFiles fails unless two safetensors files hold bitwise-equal
// tensors.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	fa, err := safetensors.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := safetensors.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa.Tensors) != len(fb.Tensors) {
		t.Fatalf("%s and %s hold %d and %d tensors", a, b, len(fa.Tensors), len(fb.Tensors))
	}
	for k, x := range fa.Tensors {
		y := fb.Tensors[k]
		if y == nil || !slices.Equal(x.Shape(), y.Shape()) || !slices.Equal(x.Data(), y.Data()) {
			t.Fatalf("%s: tensor %s differs", b, k)
		}
	}
}

// readProbs reads a K×n probs file.
func readProbs(t *testing.T, path string) ([]float32, []int) {
	t.Helper()
	v, shape, err := data.ReadNpy[float32](path)
	if err != nil {
		t.Fatal(err)
	}
	return v, shape
}

func TestRecordingMatchesDirectComputation(t *testing.T) {
	dir := t.TempDir()
	idx := []int64{5, 0, 63, 17, 30, 2, 41}
	cfg := tinyConfig(filepath.Join(dir, "run"))
	cfg.Epochs, cfg.EMA, cfg.Eps = 2, 0, 0.1
	rows := make([]int, len(idx))
	for j, i := range idx {
		rows[j] = int(i)
	}
	opts := tinyOptions()
	if _, err := recordRun(t, context.Background(), cfg, opts, prune.RecordAdv, rows); err != nil {
		t.Fatal(err)
	}
	clean, shape := readProbs(t, filepath.Join(cfg.Out, prune.ProbsCleanFile))
	adv, ashape := readProbs(t, filepath.Join(cfg.Out, prune.ProbsAdvFile))
	n := len(idx)
	if !slices.Equal(shape, []int{2, n}) || !slices.Equal(ashape, shape) {
		t.Fatalf("shapes %v and %v, want [2 %d]", shape, ashape, n)
	}
	for k := range clean {
		if !(clean[k] >= 0 && clean[k] <= 1 && adv[k] >= 0 && adv[k] <= 1) {
			t.Fatalf("probability %v / %v outside [0,1]", clean[k], adv[k])
		}
	}
	got, gshape, err := data.ReadNpy[int64](filepath.Join(cfg.Out, prune.RecordIndicesFile))
	if err != nil || !slices.Equal(got, idx) || len(gshape) != 1 {
		t.Fatalf("record_indices.npy: %v %v %v", got, gshape, err)
	}
	// The last row is the final model's, recomputed here directly.
	w, err := nn.ReadWeights(filepath.Join(cfg.Out, train.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.Build(nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.SetTrain(false)
	b, err := data.NewBatcher(opts.Train, rows, data.Config{BatchSize: cfg.BatchSize})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pgd := cfg.RecordAttack(1)
	if pgd.Eps != 0.1 || pgd.Alpha != 0.025 || pgd.Steps != 10 {
		t.Fatalf("recording attack %+v: want PGD-10 at ε = 0.1, step ε/4 (no adversarial training)", pgd)
	}
	tp := autograd.NewTape()
	probs := func(x *autograd.Var, y []int) (ps, errs []float32) {
		tp.Reset()
		z := m.Forward(tp, x).Value
		for i, c := range y {
			p, e := refProbEL2N(z.Data()[i*z.Dim(1):(i+1)*z.Dim(1)], c)
			ps, errs = append(ps, p), append(errs, e)
		}
		return ps, errs
	}
	var wantClean, wantEL2N, wantAdv []float32
	for b.Next() {
		bt := b.Batch()
		p, e := probs(autograd.Leaf(bt.X, false), bt.Labels)
		wantClean, wantEL2N = append(wantClean, p...), append(wantEL2N, e...)
		xa, err := pgd.Perturb(m, bt.X, bt.Labels)
		if err != nil {
			t.Fatal(err)
		}
		p, _ = probs(autograd.Leaf(xa, false), bt.Labels)
		wantAdv = append(wantAdv, p...)
	}
	el2n, eshape := readProbs(t, filepath.Join(cfg.Out, prune.EL2NCleanFile))
	if !slices.Equal(eshape, shape) {
		t.Fatalf("%s: shape %v, want %v", prune.EL2NCleanFile, eshape, shape)
	}
	for j := range n {
		if d := math.Abs(float64(el2n[n+j] - wantEL2N[j])); d > 1e-6 {
			t.Fatalf("EL2N of sample %d: recorded %v, direct %v", idx[j], el2n[n+j], wantEL2N[j])
		}
		if d := math.Abs(float64(clean[n+j] - wantClean[j])); d > 1e-6 {
			t.Fatalf("clean probability of sample %d: recorded %v, direct %v", idx[j], clean[n+j], wantClean[j])
		}
		if d := math.Abs(float64(adv[n+j] - wantAdv[j])); d > 1e-6 {
			t.Fatalf("adversarial probability of sample %d: recorded %v, direct %v", idx[j], adv[n+j], wantAdv[j])
		}
	}
}

func TestRecordTrainPass(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	cfg.Epochs = 2
	var want []float32
	opts := tinyOptions()
	opts.OnBatch = func(s *train.Step) error {
		if s.Epoch == 1 {
			for i := range s.Labels {
				c := s.Logits.Value.Dim(1)
				if s.Indices[i] == 7 {
					p, _ := refProbEL2N(s.Logits.Value.Data()[i*c:(i+1)*c], s.Labels[i])
					want = append(want, p)
				}
			}
		}
		return nil
	}
	if _, err := recordRun(t, context.Background(), cfg, opts, prune.RecordTrain, nil); err != nil {
		t.Fatal(err)
	}
	v, shape := readProbs(t, filepath.Join(cfg.Out, prune.ProbsTrainFile))
	if !slices.Equal(shape, []int{2, 64}) || len(want) != 1 || v[64+7] != want[0] {
		t.Fatalf("probs_train.npy %v: sample 7 of epoch 2 = %v, want %v", shape, v[64+7], want)
	}
	for _, p := range v {
		if !(p >= 0 && p <= 1) {
			t.Fatalf("probability %v", p)
		}
	}
}

// TestRecordTrainNoSingletonSkip trains on 129 samples at batch 128,
// whose last batch would hold one sample: the epoch must still visit it
// (in batches of 127 and 2), so probs_train.npy has no NaN.
func TestRecordTrainNoSingletonSkip(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	cfg.Epochs, cfg.BatchSize = 2, 128
	opts := tinyOptions()
	opts.Train = toyset.Quadrants(1, 129, 1, 8)
	var sizes []int
	opts.OnBatch = func(s *train.Step) error {
		sizes = append(sizes, len(s.Labels))
		return nil
	}
	if _, err := recordRun(t, context.Background(), cfg, opts, prune.RecordTrain, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{127, 2, 127, 2}) {
		t.Errorf("batch sizes %v, want [127 2 127 2]", sizes)
	}
	v, shape := readProbs(t, filepath.Join(cfg.Out, prune.ProbsTrainFile))
	if !slices.Equal(shape, []int{2, 129}) {
		t.Fatalf("probs_train.npy has shape %v, want [2 129]", shape)
	}
	for k, p := range v {
		if !(p >= 0 && p <= 1) {
			t.Fatalf("probs_train.npy: epoch %d sample %d = %v", k/129+1, k%129, p)
		}
	}
}

// TestAdvResumeIsBitwiseIdentical is TestResumeIsBitwiseIdentical with
// PGD-AT, EMA, robust validation and adversarial recording on.
func TestAdvResumeIsBitwiseIdentical(t *testing.T) {
	straight, split := t.TempDir(), t.TempDir()
	config := func(out string) train.Config {
		c := advConfig(out)
		c.Epochs = 3
		return c
	}
	if _, err := recordRun(t, context.Background(), config(straight), tinyOptions(), prune.RecordAdv, nil); err != nil {
		t.Fatal(err)
	}
	opts := tinyOptions()
	ctx := testutil.StopAfter(&opts.OnEpochEnd, 0)
	if _, err := recordRun(t, ctx, config(split), opts, prune.RecordAdv, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	if _, shape := readProbs(t, filepath.Join(split, prune.ProbsAdvFile)); shape[0] != 1 {
		t.Fatalf("after one epoch probs_adv.npy has shape %v", shape)
	}
	opts = tinyOptions()
	opts.Resume = true
	ms, err := recordRun(t, context.Background(), config(split), opts, prune.RecordAdv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].AdvMetrics == nil {
		t.Fatalf("resumed run reported %+v", ms)
	}
	for _, f := range []string{train.ModelFile, train.EMAModelFile, train.CheckpointFile, train.BestModelFile} {
		sameFiles(t, filepath.Join(straight, f), filepath.Join(split, f))
	}
	for _, f := range []string{prune.ProbsCleanFile, prune.ProbsAdvFile} {
		a, sa := readProbs(t, filepath.Join(straight, f))
		b, sb := readProbs(t, filepath.Join(split, f))
		if !slices.Equal(sa, []int{3, 64}) || !slices.Equal(sa, sb) || !slices.Equal(a, b) {
			t.Fatalf("%s: straight %v and resumed %v runs differ", f, sa, sb)
		}
	}
	if ms, err := train.ReadMetrics(filepath.Join(split, train.MetricsFile)); err != nil || len(ms) != 3 {
		t.Fatalf("metrics.jsonl has %d epochs after resume (%v), want 3", len(ms), err)
	}
}

// refProbEL2N is the float64 reference of the recorded values: softmax(z)[y]
// and ‖softmax(z) − onehot(y)‖₂.
func refProbEL2N(z []float32, y int) (p, el2n float32) {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, float64(v))
	}
	q := make([]float64, len(z))
	var sum float64
	for c, v := range z {
		q[c] = math.Exp(float64(v) - mx)
		sum += q[c]
	}
	var ss float64
	for c := range q {
		q[c] /= sum
		d := q[c]
		if c == y {
			d--
		}
		ss += d * d
	}
	return float32(q[y]), float32(math.Sqrt(ss))
}
