package train

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
	"github.com/bulwark-ml/bulwark/nn"
)

// readProbs reads a K×n probs file.
func readProbs(t *testing.T, path string) ([]float32, []int) {
	t.Helper()
	v, shape, err := data.ReadNpy[float32](path)
	if err != nil {
		t.Fatal(err)
	}
	return v, shape
}

// writeIndices writes idx as an int64 .npy in dir.
func writeIndices(t *testing.T, dir string, idx []int64) string {
	t.Helper()
	p := filepath.Join(dir, "idx.npy")
	if err := data.WriteNpy(p, []int{len(idx)}, idx); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecordingMatchesDirectComputation(t *testing.T) {
	dir := t.TempDir()
	idx := []int64{5, 0, 63, 17, 30, 2, 41}
	cfg := tinyConfig(filepath.Join(dir, "run"))
	cfg.Epochs, cfg.EMA = 2, 0
	cfg.Record, cfg.RecordAdv, cfg.Eps = writeIndices(t, dir, idx), true, 0.1
	opts := tinyOptions(t)
	if _, err := Run(context.Background(), cfg, opts); err != nil {
		t.Fatal(err)
	}
	clean, shape := readProbs(t, filepath.Join(cfg.Out, ProbsCleanFile))
	adv, ashape := readProbs(t, filepath.Join(cfg.Out, ProbsAdvFile))
	n := len(idx)
	if !slices.Equal(shape, []int{2, n}) || !slices.Equal(ashape, shape) {
		t.Fatalf("shapes %v and %v, want [2 %d]", shape, ashape, n)
	}
	for k := range clean {
		if !(clean[k] >= 0 && clean[k] <= 1 && adv[k] >= 0 && adv[k] <= 1) {
			t.Fatalf("probability %v / %v outside [0,1]", clean[k], adv[k])
		}
	}
	got, gshape, err := data.ReadNpy[int64](filepath.Join(cfg.Out, RecordIndicesFile))
	if err != nil || !slices.Equal(got, idx) || len(gshape) != 1 {
		t.Fatalf("record_indices.npy: %v %v %v", got, gshape, err)
	}
	// The last row is the final model's, recomputed here directly.
	w, err := nn.ReadWeights(filepath.Join(cfg.Out, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.Build(nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.SetTrain(false)
	rows := make([]int, n)
	for j, i := range idx {
		rows[j] = int(i)
	}
	b, err := data.NewBatcher(opts.Train, rows, data.Config{BatchSize: cfg.BatchSize})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pgd := &attack.PGD{Eps: 0.1, Alpha: 0.025, Steps: 10, Seed: epochSeed(cfg.Seed, 3, 1)}
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
	el2n, eshape := readProbs(t, filepath.Join(cfg.Out, EL2NCleanFile))
	if !slices.Equal(eshape, shape) {
		t.Fatalf("%s: shape %v, want %v", EL2NCleanFile, eshape, shape)
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
	cfg.Epochs, cfg.RecordAll, cfg.RecordTrain = 2, true, true
	var want []float32
	opts := tinyOptions(t)
	opts.OnBatch = func(s *Step) error {
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
	if _, err := Run(context.Background(), cfg, opts); err != nil {
		t.Fatal(err)
	}
	v, shape := readProbs(t, filepath.Join(cfg.Out, ProbsTrainFile))
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
	cfg.Epochs, cfg.BatchSize, cfg.RecordAll, cfg.RecordTrain = 2, 128, true, true
	opts := tinyOptions(t)
	opts.Train = synthetic(t, 1, 129, 1, 8)
	var sizes []int
	opts.OnBatch = func(s *Step) error {
		sizes = append(sizes, len(s.Labels))
		return nil
	}
	if _, err := Run(context.Background(), cfg, opts); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{127, 2, 127, 2}) {
		t.Errorf("batch sizes %v, want [127 2 127 2]", sizes)
	}
	v, shape := readProbs(t, filepath.Join(cfg.Out, ProbsTrainFile))
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
	config := func(out string) Config {
		c := advConfig(out, "pgd")
		c.Epochs, c.RecordAll, c.RecordAdv = 3, true, true
		return c
	}
	if _, err := Run(context.Background(), config(straight), tinyOptions(t)); err != nil {
		t.Fatal(err)
	}
	opts := tinyOptions(t)
	ctx := stopAfter(&opts, 0)
	if _, err := Run(ctx, config(split), opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	if _, shape := readProbs(t, filepath.Join(split, ProbsAdvFile)); shape[0] != 1 {
		t.Fatalf("after one epoch probs_adv.npy has shape %v", shape)
	}
	opts = tinyOptions(t)
	opts.Resume = true
	ms, err := runMetrics(context.Background(), config(split), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].AdvMetrics == nil {
		t.Fatalf("resumed run reported %+v", ms)
	}
	for _, f := range []string{ModelFile, EMAModelFile, CheckpointFile, BestModelFile} {
		sameTensors(t, f, readTensors(t, filepath.Join(straight, f)), readTensors(t, filepath.Join(split, f)))
	}
	for _, f := range []string{ProbsCleanFile, ProbsAdvFile} {
		a, sa := readProbs(t, filepath.Join(straight, f))
		b, sb := readProbs(t, filepath.Join(split, f))
		if !slices.Equal(sa, []int{3, 64}) || !slices.Equal(sa, sb) || !slices.Equal(a, b) {
			t.Fatalf("%s: straight %v and resumed %v runs differ", f, sa, sb)
		}
	}
	if n := countLines(t, filepath.Join(split, MetricsFile)); n != 3 {
		t.Fatalf("metrics.jsonl has %d lines after resume, want 3", n)
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
