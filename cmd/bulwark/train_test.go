package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil/datatest"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/safetensors"
	"github.com/bulwark-ml/bulwark/tensor"
)

// tinyTrain trains resnet8 at width 0.25 for one epoch on spec into out.
func tinyTrain(t *testing.T, spec, out string, extra ...string) string {
	t.Helper()
	return runOK(t, append([]string{"train", "--data", spec, "--arch", "resnet8", "--width", "0.25", "--epochs", "1",
		"--batch", "8", "--lr", "0.05", "--threads", "1", "--out", out}, extra...)...)
}

func TestTrainAndEval(t *testing.T) {
	dir := t.TempDir()
	spec := datatest.NpySet(t, dir, 24, 1, 8)
	out := filepath.Join(dir, "run")
	if log := tinyTrain(t, spec, out, "--ema", "0.9", "--augment"); !strings.Contains(log, "epoch 1/1") {
		t.Fatalf("train output lacks the epoch line:\n%s", log)
	}
	for _, f := range []string{"checkpoint.safetensors", "model.safetensors", "model_ema.safetensors", "metrics.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	// Resuming a finished run only reloads it; settings come from the
	// checkpoint.
	var buf bytes.Buffer
	if err := run([]string{"train", "--resume", "--out", out}, &buf, &buf); err != nil || !strings.Contains(buf.String(), "resuming after epoch 1") {
		t.Fatalf("resume: %v\n%s", err, buf.String())
	}

	logits := filepath.Join(dir, "logits.npy")
	buf.Reset()
	if err := run([]string{"eval", "--weights", filepath.Join(out, "model.safetensors"), "--data", spec, "--batch", "7", "--save-logits", logits}, &buf, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "accuracy") || !strings.Contains(buf.String(), "(24 samples)") {
		t.Fatalf("eval output:\n%s", buf.String())
	}
	z, shape, err := data.ReadNpy[float32](logits)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 24 || shape[1] != 3 || len(z) != 72 {
		t.Fatalf("logits have shape %v", shape)
	}
}

func TestTrainProgressBar(t *testing.T) {
	dir := t.TempDir()
	spec := datatest.NpySet(t, dir, 16, 1, 8)
	var bar bytes.Buffer
	oldTerm, oldOut := stderrIsTerminal, progressOut
	defer func() { stderrIsTerminal, progressOut = oldTerm, oldOut }()
	stderrIsTerminal, progressOut = func() bool { return true }, &bar
	tinyTrain(t, spec, filepath.Join(dir, "a"))
	if !strings.Contains(bar.String(), "epoch 1/1") {
		t.Fatalf("no progress bar on a terminal: %q", bar.String())
	}
	bar.Reset()
	tinyTrain(t, spec, filepath.Join(dir, "b"), "--quiet")
	if bar.Len() != 0 {
		t.Fatalf("progress bar despite --quiet: %q", bar.String())
	}
}

func TestTrainEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	spec1 := datatest.NpySet(t, dir, 16, 1, 8)
	rgb := t.TempDir()
	spec3 := datatest.NpySet(t, rgb, 16, 3, 8)
	out := filepath.Join(dir, "run")
	tinyTrain(t, spec1, out)
	weights := filepath.Join(out, "model.safetensors")
	garbage := filepath.Join(dir, "garbage.safetensors")
	if err := os.WriteFile(garbage, []byte("not a safetensors file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown arch", []string{"train", "--data", spec1, "--arch", "resnet9", "--out", dir}, `--arch: unknown architecture "resnet9"`},
		{"bad lr", []string{"train", "--data", spec1, "--lr", "fast", "--out", dir}, "--lr"},
		{"zero epochs", []string{"train", "--data", spec1, "--epochs", "0", "--out", dir}, "--epochs"},
		{"negative batch", []string{"train", "--data", spec1, "--batch", "-3", "--out", dir}, "--batch"},
		{"unknown schedule", []string{"train", "--data", spec1, "--schedule", "linear", "--out", dir}, "--schedule"},
		{"bad milestones", []string{"train", "--data", spec1, "--milestones", "3,x", "--out", dir}, "--milestones"},
		{"ema 1.5", []string{"train", "--data", spec1, "--ema", "1.5", "--out", dir}, "--ema"},
		{"no out", []string{"train", "--data", spec1}, "--out"},
		{"no data", []string{"train", "--out", dir}, "--data is missing"},
		{"missing npy", []string{"train", "--data", "npy:/nonexistent/X.npy,/nonexistent/Y.npy", "--out", dir}, "/nonexistent/X.npy"},
		{"unknown dataset", []string{"train", "--data", "imagenet", "--out", dir}, `--data: data: unknown dataset spec "imagenet"`},
		{"existing out", []string{"train", "--data", spec1, "--out", out}, "--resume"},
		{"resume missing run", []string{"train", "--resume", "--out", filepath.Join(dir, "none")}, "--resume"},
		{"resume changed lr", []string{"train", "--resume", "--out", out, "--lr", "0.3"}, `"lr" differs`},
		{"unknown flag", []string{"train", "--bogus"}, "--bogus"},
		{"extra argument", []string{"train", "extra"}, `unexpected argument "extra"`},
		{"eval no weights", []string{"eval", "--data", spec1}, "--weights is missing"},
		{"eval no data", []string{"eval", "--weights", weights}, "--data is missing"},
		{"eval missing weights", []string{"eval", "--weights", filepath.Join(dir, "nope.safetensors"), "--data", spec1}, "nope.safetensors"},
		{"eval garbage weights", []string{"eval", "--weights", garbage, "--data", spec1}, "garbage.safetensors"},
		{"eval unknown arch", []string{"eval", "--weights", weights, "--data", spec1, "--arch", "resnet9"}, `unknown architecture "resnet9"`},
		{"eval wrong arch", []string{"eval", "--weights", weights, "--data", spec1, "--arch", "resnet20"}, "model.safetensors"},
		{"eval wrong channels", []string{"eval", "--weights", weights, "--data", spec3}, "images have 3 channels but the model"},
		{"eval zero batch", []string{"eval", "--weights", weights, "--data", spec1, "--batch", "0"}, "--batch"},
		{"eval bad threads", []string{"eval", "--weights", weights, "--data", spec1, "--threads", "x"}, "--threads"},
		{"eval bad save-logits", []string{"eval", "--weights", weights, "--data", spec1, "--save-logits", "/nonexistent/l.npy"}, "--save-logits"},
	} {
		t.Run(tc.name, func(t *testing.T) { runFails(t, tc.want, tc.args...) })
	}
}

// TestTrainRefusesNaNData: an image file with one NaN pixel stops
// training with one line naming the file and the sample, where it used
// to train on silently.
func TestTrainRefusesNaNData(t *testing.T) {
	dir := t.TempDir()
	x := tensor.Rand(tensor.NewRNG(3), 16, 1, 8, 8)
	x.Data()[5*64+9] = float32(math.NaN())
	y := make([]int64, 16)
	xp, yp := filepath.Join(dir, "X.npy"), filepath.Join(dir, "Y.npy")
	if err := data.WriteNpy(xp, []int{16, 1, 8, 8}, x.Data()); err != nil {
		t.Fatal(err)
	}
	if err := data.WriteNpy(yp, []int{16}, y); err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "--data", "npy:" + xp + "," + yp, "--arch", "resnet8", "--width", "0.25", "--epochs", "1",
		"--batch", "8", "--threads", "1", "--out", filepath.Join(dir, "run")}
	var buf bytes.Buffer
	err := run(args, &buf, &buf)
	if err == nil || !strings.Contains(err.Error(), "X.npy") || !strings.Contains(err.Error(), "sample 5") ||
		!strings.Contains(err.Error(), "NaN") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("training on a NaN pixel: error %v, want one line naming X.npy, sample 5 and NaN", err)
	}
}

// TestTrainRecordMetadata: the weight files of a recorded run list the
// --record flags in their config metadata, exactly where and as they
// always did (the golden string is what bulwark train wrote before the
// recorder moved to prune), and a resumed run takes them from there.
func TestTrainRecordMetadata(t *testing.T) {
	dir := t.TempDir()
	spec := datatest.NpySet(t, dir, 24, 1, 8)
	idx := filepath.Join(dir, "idx.npy")
	if err := data.WriteNpy(idx, []int{3}, []int64{0, 5, 9}); err != nil {
		t.Fatal(err)
	}
	quote := func(s string) string {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The config is head, data, middle, eps (if set), settings, the
	// recording's fields (if any), then seed, threads and out.
	const (
		head   = `{"arch":"resnet8","width":0.25,"data":`
		middle = `,"epochs":1,"batch_size":8,"lr":0.05,"schedule":"cosine","warmup":0,"gamma":0,"momentum":0.9,"nesterov":false,` +
			`"weight_decay":0.0005,"decay_all":false,"label_smoothing":0,"ema":0.9,"augment":false,"adv":"none",`
		settings = `"norm":"linf","steps":10,"beta":6,"adv_bn":"eval","synthetic_frac":0.8,"val_size":1000,"val_steps":10,`
	)
	for _, tc := range []struct {
		name   string
		flags  []string
		eps    string // the "eps" field, if set
		record string // the recording's fields
	}{
		{"indices from the training pass", []string{"--record", idx, "--record-train"}, "", `"record":` + quote(idx) + `,"record_train":true,`},
		{"all with the attack", []string{"--record-all", "--record-adv", "--eps", "0.1"}, `"eps":0.1,`, `"record_all":true,"record_adv":true,`},
		{"none", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			tinyTrain(t, spec, out, append([]string{"--ema", "0.9"}, tc.flags...)...)
			want := head + quote(spec) + middle + tc.eps + settings + tc.record + `"seed":0,"threads":1,"out":` + quote(out) + "}"
			for _, f := range []string{"checkpoint.safetensors", "model.safetensors", "model_ema.safetensors"} {
				st, err := safetensors.Read(filepath.Join(out, f))
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Metadata["config"]; got != want {
					t.Errorf("%s: config metadata\n%s\nwant\n%s", f, got, want)
				}
			}
			// The stored recording is the resumed run's: the finished run
			// reloads with it and its record path.
			runOK(t, "train", "--resume", "--out", out, "--quiet")
		})
	}
}
