package train

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/internal/toyset"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/safetensors"
	"github.com/bulwark-ml/bulwark/tensor"
)

// synthetic is toyset.Quadrants for tests.
func synthetic(t testing.TB, seed uint64, n, c, s int) data.Dataset {
	t.Helper()
	return toyset.Quadrants(seed, n, c, s)
}

// tinyConfig is a run that exercises every stateful part: momentum,
// cosine warm-up, EMA, augmentation, label smoothing and two threads.
func tinyConfig(out string) Config {
	return Config{
		Arch: "resnet8", Width: 0.25, Data: "synthetic", Epochs: 3, BatchSize: 16,
		LR: 0.05, Schedule: "cosine", Warmup: 1, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4,
		LabelSmoothing: 0.1, EMA: 0.9, Augment: true, Seed: 7, Threads: 2, Out: out,
	}
}

// runMetrics is Run returning the metrics of the run.
func runMetrics(ctx context.Context, cfg Config, opts Options) ([]Metrics, error) {
	res, err := Run(ctx, cfg, opts)
	if res == nil {
		return nil, err
	}
	return res.Metrics, err
}

// checkFieldError fails unless err is one line, a *FieldError naming
// field.
func checkFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	switch {
	case err == nil:
		t.Errorf("no error, want one naming %s", field)
	case !errors.As(err, &fe) || fe.Field != field:
		t.Errorf("error %v, want a FieldError naming %s", err, field)
	case !strings.HasPrefix(err.Error(), field+":") || strings.Contains(err.Error(), "\n"):
		t.Errorf("error %q, want one line starting with %s:", err, field)
	}
}

func tinyOptions(t testing.TB) Options {
	return Options{Train: synthetic(t, 1, 64, 1, 8), Test: synthetic(t, 2, 32, 1, 8)}
}

// readTensors returns the tensors of a safetensors file.
func readTensors(t *testing.T, path string) map[string]*tensor.Tensor {
	t.Helper()
	f, err := safetensors.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.Tensors
}

// sameTensors fails unless a and b hold the same names with bitwise-equal
// values.
func sameTensors(t *testing.T, what string, a, b map[string]*tensor.Tensor) {
	t.Helper()
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%s: %d tensors vs %d", what, len(a), len(b))
	}
	for name, ta := range a {
		tb := b[name]
		if tb == nil || !slices.Equal(ta.Shape(), tb.Shape()) {
			t.Fatalf("%s: tensor %q missing or reshaped", what, name)
		}
		for i, v := range ta.Data() {
			if w := tb.Data()[i]; v != w && !(v != v && w != w) {
				t.Fatalf("%s: %q[%d] = %v vs %v", what, name, i, v, w)
			}
		}
	}
}

func TestResumeIsBitwiseIdentical(t *testing.T) {
	straight, split := t.TempDir(), t.TempDir()
	if _, err := runMetrics(context.Background(), tinyConfig(straight), tinyOptions(t)); err != nil {
		t.Fatal(err)
	}

	opts := tinyOptions(t)
	ctx := testutil.StopAfter(&opts.OnEpochEnd, 0)
	if _, err := runMetrics(ctx, tinyConfig(split), opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	// A leftover temporary file from a write that was killed is ignored.
	if err := os.WriteFile(filepath.Join(split, ".checkpoint.safetensors.tmp123"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := ReadConfig(split); err != nil || c.Epochs != 3 {
		t.Fatalf("ReadConfig: %+v, %v", c, err)
	}
	opts = tinyOptions(t)
	opts.Resume = true
	ms, err := runMetrics(context.Background(), tinyConfig(split), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Epoch != 2 {
		t.Fatalf("resumed run reported epochs %+v, want 2 and 3", ms)
	}
	for _, f := range []string{ModelFile, EMAModelFile} {
		sameTensors(t, f, readTensors(t, filepath.Join(straight, f)), readTensors(t, filepath.Join(split, f)))
	}
	// The whole checkpoint (optimizer and EMA state too) agrees.
	sameTensors(t, CheckpointFile, readTensors(t, filepath.Join(straight, CheckpointFile)), readTensors(t, filepath.Join(split, CheckpointFile)))
	if n := countLines(t, filepath.Join(split, MetricsFile)); n != 3 {
		t.Fatalf("metrics.jsonl has %d lines after resume, want 3", n)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

// childEnv names the run directory of the child process of
// TestKillMidRun.
const childEnv = "BULWARK_TRAIN_KILL_CHILD"

// killConfig is a longer tiny run, so a kill lands mid-run, often while a
// checkpoint is being written.
func killConfig(out string) Config {
	c := tinyConfig(out)
	c.Epochs = 12
	return c
}

// TestKillChild is the child of TestKillMidRun: it trains (resuming if a
// checkpoint exists) until killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("run by TestKillMidRun")
	}
	opts := tinyOptions(t)
	_, err := os.Stat(filepath.Join(dir, CheckpointFile))
	opts.Resume = err == nil
	if _, err := runMetrics(context.Background(), killConfig(dir), opts); err != nil {
		t.Fatal(err)
	}
}

// TestKillMidRun SIGKILLs a training process at random moments, checks
// that the checkpoint it leaves always loads, resumes, and finally
// compares the result with an uninterrupted run.
func TestKillMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir, straight := t.TempDir(), t.TempDir()
	ckpt := filepath.Join(dir, CheckpointFile)
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for attempt := 0; attempt < 20 && kills < 4; attempt++ {
		cmd := exec.Command(exe, "-test.run=^TestKillChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		var childOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &childOut, &childOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Wait for a checkpoint newer than the one we started from, then
		// kill at a random moment.
		start := modTime(ckpt)
		deadline := time.Now().Add(60 * time.Second)
		var exited bool
		var exitErr error
		for modTime(ckpt).Equal(start) && time.Now().Before(deadline) && !exited {
			select {
			case exitErr = <-done:
				exited = true
			default:
				time.Sleep(2 * time.Millisecond)
			}
		}
		if !exited {
			time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
			cmd.Process.Kill()
			exitErr = <-done
		}
		if exitErr == nil {
			break // the run finished before the kill
		}
		if exited {
			t.Fatalf("child %d failed on its own: %v\n%s", attempt, exitErr, childOut.String())
		}
		kills++
		if _, err := ReadConfig(dir); err != nil {
			t.Fatalf("after kill %d the checkpoint does not load: %v", kills, err)
		}
	}
	if kills == 0 {
		t.Skip("the child always finished before being killed")
	}
	t.Logf("killed the run %d times", kills)
	opts := tinyOptions(t)
	opts.Resume = true
	if _, err := runMetrics(context.Background(), killConfig(dir), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := runMetrics(context.Background(), killConfig(straight), tinyOptions(t)); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, ModelFile, readTensors(t, filepath.Join(straight, ModelFile)), readTensors(t, filepath.Join(dir, ModelFile)))
	if n := countLines(t, filepath.Join(dir, MetricsFile)); n != 12 {
		t.Fatalf("metrics.jsonl has %d lines, want 12", n)
	}
}

func modTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func TestNaNLossStops(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	cfg.LR, cfg.Schedule, cfg.Warmup, cfg.EMA = 1e30, "constant", 0, 0
	_, err := runMetrics(context.Background(), cfg, tinyOptions(t))
	if err == nil || !strings.Contains(err.Error(), "epoch 1, batch ") || !(strings.Contains(err.Error(), "NaN") || strings.Contains(err.Error(), "Inf")) {
		t.Fatalf("error %v, want one naming NaN/Inf, the epoch and the batch", err)
	}
}

func TestRunDirectoryGuards(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(dir)
	cfg.Epochs = 1
	if _, err := runMetrics(context.Background(), cfg, tinyOptions(t)); err != nil {
		t.Fatal(err)
	}
	_, err := runMetrics(context.Background(), cfg, tinyOptions(t))
	checkFieldError(t, err, "Out")
	if !strings.Contains(err.Error(), "{Resume}") && !strings.Contains(err.Error(), "(Resume)") {
		t.Fatalf("second run into the same Out: %v, want a refusal mentioning Resume", err)
	}
	opts := tinyOptions(t)
	opts.Resume = true
	cfg.LR = 0.5
	if _, err := runMetrics(context.Background(), cfg, opts); err == nil || !strings.Contains(err.Error(), `"lr"`) {
		t.Fatalf("resume with another LR: %v, want an error naming lr", err)
	}
	opts.Resume = true
	_, err = runMetrics(context.Background(), tinyConfig(t.TempDir()), opts)
	checkFieldError(t, err, "Resume")
	cfg.Out = ""
	_, err = runMetrics(context.Background(), cfg, opts)
	checkFieldError(t, err, "Resume")
}

// configCase is an edit that makes a valid Config invalid, and the
// field the error must name.
type configCase struct {
	name  string
	edit  func(*Config)
	field string
}

// checkConfigErrors applies each case to a fresh valid config from base
// and checks that New fails with a FieldError naming the case's field.
func checkConfigErrors(t *testing.T, base func(dir string) Config, cases []configCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base(t.TempDir())
			tc.edit(&cfg)
			_, err := New(cfg, tinyOptions(t))
			checkFieldError(t, err, tc.field)
		})
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	checkConfigErrors(t, tinyConfig, []configCase{
		{"unknown arch", func(c *Config) { c.Arch = "resnet9" }, "Arch"},
		{"zero epochs", func(c *Config) { c.Epochs = 0 }, "Epochs"},
		{"negative batch size", func(c *Config) { c.BatchSize = -1 }, "BatchSize"},
		{"negative lr", func(c *Config) { c.LR = -1 }, "LR"},
		{"unknown schedule", func(c *Config) { c.Schedule = "linear" }, "Schedule"},
		{"ema 1", func(c *Config) { c.EMA = 1 }, "EMA"},
		{"label smoothing 2", func(c *Config) { c.LabelSmoothing = 2 }, "LabelSmoothing"},
		{"empty arch", func(c *Config) { c.Arch = "" }, "Arch"},
		{"unsorted milestones", func(c *Config) { c.Milestones = []int{3, 2} }, "Milestones"},
	})
}

func TestModelFileReloads(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(dir)
	cfg.Epochs, cfg.EMA = 2, 0
	opts := tinyOptions(t)
	ms, err := runMetrics(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ModelFile, CheckpointFile} {
		w, err := nn.ReadWeights(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if w.Arch != "resnet8" || w.Epoch != 2 || w.Model.InChannels != 1 || w.Model.Width != 0.25 {
			t.Fatalf("%s: metadata %+v", f, w)
		}
		m, err := w.Build(nn.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := attack.Evaluate(m, opts.Test, attack.EvalOptions{BatchSize: 5})
		if err != nil {
			t.Fatal(err)
		}
		if r.CleanAcc() != *ms[1].TestAcc || fmt.Sprintf("%.5f", r.CleanLoss()) != fmt.Sprintf("%.5f", *ms[1].TestLoss) {
			t.Fatalf("%s: reloaded model scores %+v, training reported %v / %v", f, r, *ms[1].TestAcc, *ms[1].TestLoss)
		}
	}
	// Model files hold only torchvision-named model tensors.
	for name := range readTensors(t, filepath.Join(dir, ModelFile)) {
		if strings.HasPrefix(name, "model.") || strings.HasPrefix(name, "optim.") {
			t.Fatalf("model file holds %q", name)
		}
	}
}

func TestHooks(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	cfg.Epochs, cfg.EMA = 2, 0
	opts := tinyOptions(t)
	var batches, samples, epochs int
	custom := 0
	opts.Loss = func(s *Step) (loss, logits *autograd.Var, err error) {
		custom++
		return crossEntropy(0)(s)
	}
	opts.OnBatch = func(s *Step) error {
		batches++
		samples += len(s.Indices)
		if s.Logits.Value.Dim(0) != len(s.Labels) || s.Loss.Value.Len() != 1 || s.RNG == nil {
			return fmt.Errorf("step %+v", s)
		}
		return nil
	}
	opts.OnEpochEnd = func(epoch int, m nn.Module) error {
		if epoch != epochs || !m.Training() {
			return fmt.Errorf("hook got epoch %d (want %d), training mode %v", epoch, epochs, m.Training())
		}
		epochs++
		m.SetTrain(false) // the trainer restores training mode
		return nil
	}
	if _, err := runMetrics(context.Background(), cfg, opts); err != nil {
		t.Fatal(err)
	}
	if batches != 8 || samples != 128 || epochs != 2 || custom != 8 {
		t.Fatalf("hooks saw %d batches, %d samples, %d epochs, %d loss calls", batches, samples, epochs, custom)
	}
	opts.OnEpochEnd = func(int, nn.Module) error { return errors.New("boom") }
	cfg.Out = t.TempDir()
	if _, err := runMetrics(context.Background(), cfg, opts); err == nil || !strings.Contains(err.Error(), "epoch 1: hook: boom") {
		t.Fatalf("failing hook: %v", err)
	}
}

// TestSubset checks that --subset trains on exactly the listed samples, in
// the listed order: the weights equal those of a run handed that subset.
func TestSubset(t *testing.T) {
	idx := []int{5, 60, 2, 33, 17, 40, 8, 9, 50, 1, 12, 27, 63, 30, 44, 21, 3}
	path := filepath.Join(t.TempDir(), "kept.npy")
	v := make([]int64, len(idx))
	for i, x := range idx {
		v[i] = int64(x)
	}
	if err := data.WriteNpy(path, []int{len(v)}, v); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t.TempDir())
	cfg.Epochs, cfg.Subset = 1, path
	if _, err := runMetrics(context.Background(), cfg, tinyOptions(t)); err != nil {
		t.Fatal(err)
	}
	ref := tinyConfig(t.TempDir())
	ref.Epochs = 1
	opts := tinyOptions(t)
	sub, err := data.Subset(opts.Train, idx)
	if err != nil {
		t.Fatal(err)
	}
	opts.Train = sub
	if _, err := runMetrics(context.Background(), ref, opts); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, ModelFile, readTensors(t, filepath.Join(ref.Out, ModelFile)), readTensors(t, filepath.Join(cfg.Out, ModelFile)))

	// An index outside the training set is an error naming the field and the file.
	if err := data.WriteNpy(path, []int{2}, []int64{1, 64}); err != nil {
		t.Fatal(err)
	}
	cfg.Out = t.TempDir()
	_, err = runMetrics(context.Background(), cfg, tinyOptions(t))
	checkFieldError(t, err, "Subset")
	if err == nil || !strings.Contains(err.Error(), "kept.npy") {
		t.Fatalf("out-of-range Subset: %v", err)
	}
}

// TestRunInMemory trains a model the caller built, without a run
// directory, and checks that it is the same training, bit for bit, as one
// built from Config.Arch and written to disk: the returned model, its EMA
// and best weights, and the metrics.
func TestRunInMemory(t *testing.T) {
	disk := tinyConfig(t.TempDir())
	disk.Epochs, disk.Adv, disk.Eps, disk.Steps, disk.ValSize, disk.ValSteps = 2, AdvPGD, 0.1, 2, 16, 2
	want, err := Run(context.Background(), disk, tinyOptions(t))
	if err != nil {
		t.Fatal(err)
	}

	mem := disk
	mem.Arch, mem.Out = "", ""
	opts := tinyOptions(t)
	c, h, _ := opts.Train.Shape()
	model, err := nn.New(disk.Arch, nn.Config{InChannels: c, NumClasses: opts.Train.Classes(), Width: disk.Width, ImageSize: h, Seed: disk.Seed})
	if err != nil {
		t.Fatal(err)
	}
	opts.Model = model
	cwd := t.TempDir()
	t.Chdir(cwd)
	got, err := Run(context.Background(), mem, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != model {
		t.Errorf("Result.Model is not the model passed in Options.Model")
	}
	if left, _ := os.ReadDir(cwd); len(left) != 0 {
		t.Errorf("an in-memory run wrote %d files into the working directory", len(left))
	}
	sameTensors(t, "model", nn.StateMap(nn.StateDict(got.Model)), readTensors(t, filepath.Join(disk.Out, ModelFile)))
	sameTensors(t, "ema", got.EMA, readTensors(t, filepath.Join(disk.Out, EMAModelFile)))
	if got.Best == nil || got.BestEpoch < 1 || got.BestEpoch != want.BestEpoch {
		t.Fatalf("best weights from epoch %d (nil: %v), want those of epoch %d", got.BestEpoch, got.Best == nil, want.BestEpoch)
	}
	sameTensors(t, "best", got.Best, readTensors(t, filepath.Join(disk.Out, BestModelFile)))
	if len(got.Metrics) != 2 || got.Metrics[1].BestRobustAcc != want.Metrics[1].BestRobustAcc || got.Metrics[1].TrainLoss != want.Metrics[1].TrainLoss {
		t.Errorf("metrics %+v, want %+v", got.Metrics, want.Metrics)
	}
	if err := got.Use(got.Best); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, "model after Use(Best)", nn.StateMap(nn.StateDict(got.Model)), got.Best)
	if err := (&Result{Model: model}).Use(nil); err == nil {
		t.Errorf("Use(nil) succeeded")
	}
}

func TestFieldErrorRender(t *testing.T) {
	err := FieldErrorf("Nesterov", "needs {Momentum} > 0")
	if got, want := err.Error(), "Nesterov: needs Momentum > 0"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	flags := map[string]string{"Nesterov": "--nesterov", "Momentum": "--momentum"}
	if got, want := err.(*FieldError).Render(func(f string) string { return flags[f] }), "--nesterov: needs --momentum > 0"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("train: %w", WrapField("Data", errors.New("no such file"), "%s", "npz:x.npz"))
	var fe *FieldError
	if !errors.As(wrapped, &fe) || fe.Error() != "Data: npz:x.npz: no such file" {
		t.Errorf("wrapped FieldError: %v", wrapped)
	}
	var noData Config = tinyConfig(t.TempDir())
	noData.Data = ""
	_, err = New(noData, Options{})
	checkFieldError(t, err, "Data")
}
