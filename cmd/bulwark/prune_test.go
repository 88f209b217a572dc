package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/testutil/datatest"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/safetensors"
)

// runOK runs the CLI and fails the test on an error.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := run(args, &buf, &buf); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, buf.String())
	}
	return buf.String()
}

// runFails runs the CLI and fails the test unless it returns an error of
// one line containing want: the CLI's errors name what is wrong in one
// line. The flag-error tables of the commands share it.
func runFails(t *testing.T, want string, args ...string) {
	t.Helper()
	var buf bytes.Buffer
	err := run(args, &buf, &buf)
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("%v: error %v, want one line containing %q", args, err, want)
	}
}

// TestPruningStages chains score → embed → extrapolate → select through
// the files each stage writes.
func TestPruningStages(t *testing.T) {
	dir := t.TempDir()
	spec := datatest.NpySet(t, dir, 40, 1, 8)
	run1 := filepath.Join(dir, "score")
	runOK(t, "score", "--data", spec, "--arch", "resnet8", "--width", "0.25", "--epochs", "3", "--batch", "8",
		"--eps", "0.1", "--steps", "2", "--seed-frac", "0.5", "--score", "fp,el2n,forgetting", "--trajectory", "clean",
		"--threads", "1", "--out", run1)
	seed, err := pipeline.ReadIndices(filepath.Join(run1, pipeline.SeedFile), 40)
	if err != nil || len(seed) != 20 {
		t.Fatalf("seed_indices.npy: %v, %d samples", err, len(seed))
	}
	// The scoring run's weight files note its recording where bulwark
	// train notes --record-all (TestTrainRecordMetadata).
	st, err := safetensors.Read(filepath.Join(run1, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.Metadata["config"]; !strings.Contains(cfg, `"val_steps":10,"record_all":true,"seed":0,`) {
		t.Fatalf("score's model.safetensors: config metadata without the recording: %s", cfg)
	}
	for _, m := range []string{"fp", "el2n", "forgetting"} {
		if s, err := pipeline.ReadVector(filepath.Join(run1, "scores_"+m+".npy")); err != nil || len(s) != 20 {
			t.Fatalf("scores_%s.npy: %v (%d)", m, err, len(s))
		}
	}
	emb := filepath.Join(dir, "emb.npy")
	runOK(t, "embed", "--weights", filepath.Join(run1, "model.safetensors"), "--data", spec, "--normalize", "--out", emb)
	e, n, d, err := pipeline.ReadMatrix(emb)
	if err != nil || n != 40 || d < 1 {
		t.Fatalf("embeddings: %v, %d×%d", err, n, d)
	}
	for i := range n {
		var ss float64
		for _, v := range e[i*d : (i+1)*d] {
			ss += float64(v) * float64(v)
		}
		if math.Abs(ss-1) > 1e-4 && ss != 0 {
			t.Fatalf("row %d of the normalized embeddings has squared norm %v", i, ss)
		}
	}
	all := filepath.Join(dir, "all.npy")
	truth := filepath.Join(run1, "scores_fp.npy")
	out := runOK(t, "extrapolate", "--embeddings", emb, "--indices", filepath.Join(run1, pipeline.SeedFile),
		"--scores", truth, "--k", "3", "--out", all)
	if !strings.Contains(out, "20 extrapolated from 20 by 3-NN") {
		t.Fatalf("extrapolate output:\n%s", out)
	}
	// Quality against "true" scores that are the extrapolation itself: kNN
	// agrees perfectly, and the report lands in --quality.
	qpath := filepath.Join(dir, "quality.json")
	out = runOK(t, "extrapolate", "--embeddings", emb, "--indices", filepath.Join(run1, pipeline.SeedFile),
		"--scores", truth, "--k", "3", "--true", all, "--data", spec, "--quality", qpath, "--out", filepath.Join(dir, "all2.npy"))
	var q pipeline.QualityReport
	if b, err := os.ReadFile(qpath); err != nil || json.Unmarshal(b, &q) != nil {
		t.Fatalf("--quality file: %v\n%s", err, b)
	}
	if !strings.Contains(out, "quality on the 20 unscored samples") || q.HeldOut != 20 || q.Spearman != 1 || q.Pearson < 0.9999 || q.SeedSpearman != 1 {
		t.Fatalf("quality against the extrapolation itself: %+v\n%s", q, out)
	}
	out = runOK(t, "trajectories", "--probs", filepath.Join(run1, "probs_clean.npy"), "--scores", truth, "--groups", "4")
	if !strings.Contains(out, "20 samples in 4 groups") || strings.Count(out, "\n| ") != 5 {
		t.Fatalf("trajectories output:\n%s", out)
	}
	kept := filepath.Join(dir, "kept.npy")
	out = runOK(t, "select", "--scores", all, "--prune", "0.25", "--class-balanced", "--data", spec, "--out", kept)
	idx, err := pipeline.ReadIndices(kept, 40)
	if err != nil || !strings.Contains(out, "kept per class") {
		t.Fatalf("select: %v\n%s", err, out)
	}
	// Labels are i mod 3: classes of 14, 13, 13 lose 3, 3, 3.
	if len(idx) != 31 {
		t.Fatalf("kept %d of 40, want 31", len(idx))
	}
	if _, err := os.Stat(filepath.Join(dir, "kept.json")); err != nil {
		t.Fatal(err)
	}
	// The seed paper's code's baseline draws with replacement.
	replaced := filepath.Join(dir, "replaced.npy")
	out = runOK(t, "select", "--scores", all, "--prune", "0.5", "--rule", "random-replace", "--out", replaced)
	if idx, err := pipeline.ReadKept(replaced, 40); err != nil || len(idx) != 20 || !strings.Contains(out, "distinct") {
		t.Fatalf("select --rule random-replace: %v, %d kept\n%s", err, len(idx), out)
	}

	// Mismatched and corrupt stage files: one-line errors naming them.
	short := filepath.Join(dir, "short.npy")
	if err := data.WriteNpy(short, []int{19}, make([]float32, 19)); err != nil {
		t.Fatal(err)
	}
	nan := filepath.Join(dir, "nan.npy")
	if err := data.WriteNpy(nan, []int{20}, append(make([]float32, 19), float32(math.NaN()))); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.npy")
	if err := os.WriteFile(garbage, []byte("not an array"), 0o644); err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(run1, pipeline.SeedFile)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"short scores", []string{"extrapolate", "--embeddings", emb, "--indices", seedFile, "--scores", short, "--out", all}, "short.npy holds 19 scores but --indices"},
		{"NaN scores", []string{"extrapolate", "--embeddings", emb, "--indices", seedFile, "--scores", nan, "--out", all}, "nan.npy: entry 19 is NaN"},
		{"garbage embeddings", []string{"extrapolate", "--embeddings", garbage, "--indices", seedFile, "--scores", truth, "--out", all}, "garbage.npy"},
		{"k too large", []string{"extrapolate", "--embeddings", emb, "--indices", seedFile, "--scores", truth, "--k", "21", "--out", all}, "--k: 21"},
		{"quality without true", []string{"extrapolate", "--embeddings", emb, "--indices", seedFile, "--scores", truth, "--quality", qpath, "--out", all}, "--quality needs --true"},
		{"trajectories short scores", []string{"trajectories", "--probs", filepath.Join(run1, "probs_clean.npy"), "--scores", short}, "short.npy holds 19 scores but --probs"},
		{"select short scores", []string{"select", "--scores", short, "--prune", "0.5", "--data", spec, "--out", kept}, "has 40 samples, the other files 19"},
		{"prune 1.5", []string{"select", "--scores", all, "--prune", "1.5", "--out", kept}, "--prune: 1.5"},
		{"class-balanced without data", []string{"select", "--scores", all, "--prune", "0.5", "--class-balanced", "--out", kept}, "--class-balanced needs --data"},
		{"unknown rule", []string{"select", "--scores", all, "--prune", "0.5", "--rule", "best", "--out", kept}, "--rule"},
		{"drop-tail without confidence", []string{"select", "--scores", all, "--prune", "0.5", "--rule", "drop-tail", "--out", kept}, "Confidence"},
		{"drop-tail short confidence", []string{"select", "--scores", all, "--prune", "0.5", "--rule", "drop-tail", "--confidence", short, "--out", kept}, "--confidence"},
		{"pipeline unknown select", []string{"prune-pipeline", "--data", spec, "--select", "top,best", "--out", filepath.Join(dir, "z")}, "--select"},
		{"unknown score", []string{"score", "--data", spec, "--score", "magic", "--out", filepath.Join(dir, "x")}, "--score: unknown score"},
		{"seed-frac 1", []string{"prune-pipeline", "--data", spec, "--seed-frac", "1", "--out", filepath.Join(dir, "y")}, "--seed-frac: 1 scores the whole pool"},
	} {
		t.Run(c.name, func(t *testing.T) { runFails(t, c.want, c.args...) })
	}
}
