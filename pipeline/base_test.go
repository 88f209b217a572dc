package pipeline

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/toyset"
)

// baseConfig is the seed paper's setting at unit-test size: a base set of
// 48 never pruned, a pool of 128.
func baseConfig(out string) Config {
	c := tinyConfig(out)
	c.Base, c.Data, c.Seeds, c.Scores, c.Prune = "base", "pool", 1, []string{"du"}, []float64{0.5}
	c.Select = []string{"top", "stratified", "drop-tail", "random-replace"}
	c.Embed, c.PCADim, c.CleanEpochs, c.PickEmbed = []string{"seed", "clean", "pixels"}, 8, 1, true
	c.Full, c.BaseOnly, c.TruncateBest, c.HoldOut = true, true, true, 0.5
	c.Train.SyntheticFrac = 0.5
	return c
}

func baseOptions() Options {
	return Options{Base: toyset.Quadrants(7, 48, 1, 8), Pool: toyset.Quadrants(1, 128, 1, 8), Test: toyset.Quadrants(2, 64, 1, 8)}
}

func TestRunBaseSetting(t *testing.T) {
	dir := t.TempDir()
	c := baseConfig(dir)
	rep, err := Run(context.Background(), c, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Seeds[0]
	sdir := seedDir(dir, s.Seed)
	// The scoring run scores the whole base set and the seed subset, and
	// every one of them is a kNN reference that keeps its own score.
	seed, err := ReadIndices(filepath.Join(sdir, SeedFile), 128)
	if err != nil || len(seed) != 32 {
		t.Fatalf("seed subset: %v (%d samples)", err, len(seed))
	}
	own, err := ReadVector(filepath.Join(sdir, "scores_seed_du.npy"))
	if err != nil || len(own) != 48+32 {
		t.Fatalf("seed scores: %v (%d, want 48 base + 32 pool)", err, len(own))
	}
	pool, err := ReadVector(filepath.Join(sdir, "scores_du.npy"))
	if err != nil || len(pool) != 128 {
		t.Fatalf("pool scores: %v (%d)", err, len(pool))
	}
	for j, i := range seed {
		if pool[i] != own[48+j] {
			t.Fatalf("pool sample %d (a seed) has extrapolated score %v, its own is %v", i, pool[i], own[48+j])
		}
	}
	for _, e := range c.Embed {
		x, rows, _, err := ReadMatrix(filepath.Join(sdir, embeddingFile(e)))
		if err != nil || rows != 48+128 || len(x) == 0 {
			t.Errorf("%s embedding: %v (%d rows, want base and pool)", e, err, rows)
		}
		if q, ok := s.EmbedQuality[e+"/du"]; !ok || q.HeldOut != 16 {
			t.Errorf("%s embedding: quality on %d held-out pool samples, want 16", e, q.HeldOut)
		}
	}
	if !slices.Contains(c.Embed, s.Embedding) || s.Quality["du"] != s.EmbedQuality[s.Embedding+"/du"] {
		t.Errorf("extrapolated in %q with quality %+v", s.Embedding, s.Quality["du"])
	}
	for _, e := range c.Embed {
		if float64(s.EmbedQuality[e+"/du"].Spearman) > float64(s.Quality["du"].Spearman) {
			t.Errorf("--pick-embed chose %s, but %s measured better", s.Embedding, e)
		}
	}
	if s.Pool == nil || s.Pool.N != 128 || s.Pool.Misclassified < 0 || s.Pool.Misclassified > 1 || s.Pool.CleanAcc <= 0 {
		t.Errorf("pool quality %+v", s.Pool)
	}
	if a := s.KeptSets["full"].Ambiguous; math.Abs(a-s.Pool.Misclassified) > 1e-12 {
		t.Errorf("the full pool's ambiguous share %v, but the pool's misclassified share is %v", a, s.Pool.Misclassified)
	}
	if runtime.GOOS == "linux" && !(rep.PeakMiB["train_full"].Mean > 0) {
		t.Errorf("no peak memory for train_full: %+v", rep.PeakMiB["train_full"])
	}
	// Every run trains for the same steps: 48 base samples in batches of
	// 8 (half of 16) make 6 steps an epoch, for 2 epochs; the base run's
	// batches of 16 take 3 an epoch, so it trains 4 epochs.
	names := []string{"du_p0.5", "stratified-du_p0.5", "drop-tail_p0.5", "random-replace_p0.5", "random_p0.5", "full", "base"}
	for _, name := range names {
		r, ok := s.Runs[name]
		if !ok {
			t.Fatalf("no run %s", name)
		}
		if r.Steps != 12 || len(r.Curve) == 0 || !strings.HasPrefix(r.Eval.Model, "best, epoch") {
			t.Errorf("%s: %d steps, curve %v, evaluated %q; want 12 steps and the best checkpoint", name, r.Steps, r.Curve, r.Eval.Model)
		}
	}
	if e := s.Runs["base"].Epochs; e != 4 {
		t.Errorf("base run of %d epochs, want 4", e)
	}
	// Kept sets are pool indices; random-replace repeats some.
	for _, name := range names[:5] {
		kept, err := ReadKept(filepath.Join(sdir, "kept_"+name+".npy"), 128)
		if err != nil || len(kept) != s.Runs["random_p0.5"].Kept {
			t.Errorf("%s: %v, %d kept, want %d", name, err, len(kept), s.Runs["random_p0.5"].Kept)
		}
		u := s.KeptSets[name].Unique
		if (name == "random-replace_p0.5") != (u < len(kept)) {
			t.Errorf("%s: %d unique of %d kept", name, u, len(kept))
		}
	}
	// Validation and evaluation use apart test samples.
	r := &run{c: c, test: baseOptions().Test}
	eval := r.evalSlice()
	for _, i := range r.valIdx {
		if slices.Contains(eval, i) {
			t.Fatalf("test sample %d both validates and evaluates", i)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"seed paper's setting", "| base | — |", "| stratified-du_p0.5 | random_p0.5 |", "(clean embedding)",
		"steps to full −1 pt", "misclassifies"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// Arms added later share the scoring stage: top at 25% runs, the
	// scoring run is not redone, and the report covers both calls.
	c2 := c
	c2.Select, c2.Prune = []string{"top"}, []float64{0.25}
	rep2, err := Run(context.Background(), c2, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Seeds[0].Stages["score_train"] != s.Stages["score_train"] {
		t.Error("adding an arm redid the scoring run")
	}
	for _, name := range []string{"du_p0.25", "random_p0.25", "stratified-du_p0.5"} {
		if _, ok := rep2.Runs[name]; !ok {
			t.Errorf("report after adding arms lacks %s", name)
		}
	}
}

// TestBaseSettingErrors checks that a base set unlike the pool and an
// unknown rule stop the run with one line, before anything is written.
func TestBaseSettingErrors(t *testing.T) {
	c := baseConfig(filepath.Join(t.TempDir(), "run"))
	o := baseOptions()
	o.Base = toyset.Quadrants(7, 48, 2, 8)
	if _, err := Run(context.Background(), c, o); err == nil || !strings.Contains(err.Error(), "those of Base") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a 2-channel base for a 1-channel pool: %v", err)
	}
	c.Select = []string{"top", "best"}
	if _, err := Run(context.Background(), c, baseOptions()); err == nil || !strings.HasPrefix(err.Error(), "Select:") {
		t.Errorf("Select best: %v", err)
	}
	if _, err := os.Stat(c.Out); !os.IsNotExist(err) {
		t.Errorf("the refused runs left %s: %v", c.Out, err)
	}
}

// TestResumeFromKeptFiles checks that a run directory stripped to the
// files experiments/ keeps across sessions (no checkpoints, no trained
// arm's weights, no embeddings) finishes without training anything again
// and reports the same figures.
func TestResumeFromKeptFiles(t *testing.T) {
	dir := t.TempDir()
	c := baseConfig(dir)
	c.Select, c.Embed = []string{"top"}, []string{"seed", "clean"}
	rep, err := Run(context.Background(), c, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, parent := d.Name(), filepath.Base(filepath.Dir(path))
		weights := strings.HasSuffix(name, ".safetensors")
		keepModel := name == "model.safetensors" && (parent == scoreDir || parent == cleanDir)
		if weights && !keepModel || strings.HasPrefix(name, "embeddings_") || name == ResultFile {
			return os.Remove(path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Run(context.Background(), c, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range rep.Seeds[0].Runs {
		if a := again.Seeds[0].Runs[name]; a.Eval != r.Eval || a.Steps != r.Steps {
			t.Errorf("%s: %+v after the resume, %+v before", name, a.Eval, r.Eval)
		}
		if again.Seeds[0].Stages["train_"+name] != rep.Seeds[0].Stages["train_"+name] {
			t.Errorf("%s was trained again", name)
		}
	}
	if again.Seeds[0].Stages["score_train"] != rep.Seeds[0].Stages["score_train"] {
		t.Error("the scoring run was trained again")
	}
	for _, e := range c.Embed {
		if !exists(filepath.Join(seedDir(dir, 0), embeddingFile(e))) {
			t.Errorf("the %s embedding was not computed again", e)
		}
	}
}

// TestEvalInMemoryEqualsFromDisk: the arms are evaluated with the weights
// their training left in memory; evaluated again from the files after the
// evaluations are deleted, they give the same results (ResNet-8 with
// BatchNorm, EMA on, so the best weights are the averaged ones).
func TestEvalInMemoryEqualsFromDisk(t *testing.T) {
	dir := t.TempDir()
	c := baseConfig(dir)
	c.Select, c.Embed, c.PickEmbed, c.Train.EMA = []string{"top"}, []string{"seed"}, false, 0.9
	rep, err := Run(context.Background(), c, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	evals, err := filepath.Glob(filepath.Join(seedDir(dir, 0), "eval_*.json"))
	if err != nil || len(evals) != len(rep.Seeds[0].Runs) {
		t.Fatalf("%d evaluation files for %d runs (%v)", len(evals), len(rep.Seeds[0].Runs), err)
	}
	for _, e := range append(evals, filepath.Join(seedDir(dir, 0), ResultFile)) {
		if err := os.Remove(e); err != nil {
			t.Fatal(err)
		}
	}
	again, err := Run(context.Background(), c, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range rep.Seeds[0].Runs {
		a := again.Seeds[0].Runs[name]
		a.Eval.Seconds, r.Eval.Seconds = 0, 0
		if a.Eval != r.Eval || !strings.HasSuffix(r.Eval.Model, ", EMA") {
			t.Errorf("%s: %+v from the files, %+v from memory", name, a.Eval, r.Eval)
		}
	}
}

// The clean model's default length is the arms' step budget: with a base
// set the base-only run's epochs, without one the first ratio's kept
// size's steps in epochs of the seed subset; an explicit count is kept.
func TestCleanEpochs(t *testing.T) {
	o := baseOptions()
	c := baseConfig(t.TempDir())
	c.CleanEpochs = 0
	c.Train.Epochs, c.Train.BatchSize = 10, 16 // 8 base + 8 pool per batch: 6 mixed steps an epoch
	r := &run{c: c, base: o.Base, pool: o.Pool, nb: o.Base.Len()}
	if got, want := r.cleanEpochs(32), r.baseEpochs(); got != want || want != 20 {
		t.Errorf("with a base set: %d epochs, want the base-only run's %d (60 steps of 3 batches: 20)", got, want)
	}
	r.base, r.nb = nil, 0
	// 64 kept of 128 at ratio 0.5: 4 batches an epoch, 40 steps; 32 seed samples: 2 batches.
	if got := r.cleanEpochs(32); got != 20 {
		t.Errorf("without a base set: %d epochs, want 20", got)
	}
	r.c.CleanEpochs = 3
	if got := r.cleanEpochs(32); got != 3 {
		t.Errorf("--clean-epochs 3: %d epochs", got)
	}
	c.CleanEpochs = -1
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "CleanEpochs") {
		t.Errorf("CleanEpochs -1: %v", err)
	}
}
