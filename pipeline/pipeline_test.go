package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/internal/toyset"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/tensor"
	"github.com/bulwark-ml/bulwark/train"
)

// tinyConfig is a complete experiment small enough for a unit test.
func tinyConfig(out string) Config {
	c := DefaultConfig()
	c.Data, c.Out, c.Select = "quadrants", out, []string{"top"}
	c.SeedFrac, c.Scores, c.Window, c.ScoreEpochs = 0.25, []string{"du", "fp", "el2n", "forgetting"}, 2, 3
	c.K, c.HoldOut, c.Prune, c.ClassBalanced, c.Seeds, c.Full = 3, 0.25, []float64{0.5, 0.25}, true, 2, true
	c.EvalN, c.EvalSteps, c.APGDSteps = 16, 2, 4
	c.Train = train.Config{Arch: "resnet8", Width: 0.25, Epochs: 2, BatchSize: 16, LR: 0.05, Schedule: "cosine",
		Momentum: 0.9, Adv: "pgd", Eps: 0.1, Norm: attack.LInf, Steps: 2, ValSize: 16, ValSteps: 2, Threads: 2}
	return c
}

func tinyOptions(t testing.TB) Options {
	return Options{Pool: toyset.Quadrants(1, 128, 1, 8), Test: toyset.Quadrants(2, 48, 1, 8)}
}

func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	c := tinyConfig(dir)
	// One repetition on its own (as a separate process would run it):
	// its stages and no report; then the whole run finishes the other.
	only := tinyOptions(t)
	only.OnlySeeds = []int{1}
	part, err := Run(context.Background(), c, only)
	if err != nil {
		t.Fatal(err)
	}
	if len(part.Seeds) != 1 || part.Seeds[0].Seed != 1 {
		t.Fatalf("--only-seeds 1 ran %d seeds", len(part.Seeds))
	}
	for f, want := range map[string]bool{"seed1": true, "seed0": false, "report.md": false} {
		if _, err := os.Stat(filepath.Join(dir, f)); (err == nil) != want {
			t.Errorf("after --only-seeds 1: %s exists %v, want %v", f, err == nil, want)
		}
	}
	// The report of the finished repetitions alone, running nothing.
	fin, err := Run(context.Background(), c, Options{Pool: only.Pool, Test: only.Test, Finished: true})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if len(fin.Seeds) != 1 || fin.Seeds[0].Runs["du_p0.5"].Eval != part.Seeds[0].Runs["du_p0.5"].Eval ||
		!strings.Contains(string(md), "1 seed(s) (1); the other 1 of the 2 repetitions had not finished") {
		t.Errorf("report of the finished repetitions: %d seeds, report.md:\n%s", len(fin.Seeds), md)
	}
	if _, err := os.Stat(filepath.Join(dir, "seed0")); err == nil {
		t.Error("the report of the finished repetitions started repetition 0")
	}
	// A repetition's result.json alone (as copied from another machine)
	// is reported by --finished.
	moved := t.TempDir()
	for _, f := range []string{ConfigFile, filepath.Join("seed1", ResultFile)} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(moved, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(moved, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cm := c
	cm.Out = moved
	if imported, err := Run(context.Background(), cm, Options{Pool: only.Pool, Test: only.Test, Finished: true}); err != nil ||
		len(imported.Seeds) != 1 || imported.Seeds[0].Runs["du_p0.5"].Eval != part.Seeds[0].Runs["du_p0.5"].Eval {
		t.Errorf("report from seed1/result.json alone: %v", err)
	}
	if _, err := Run(context.Background(), c, Options{Pool: only.Pool, Test: only.Test, OnlySeeds: []int{0}, Finished: true}); err == nil {
		t.Error("--only-seeds with --finished: no error")
	}
	only.OnlySeeds = []int{2}
	if _, err := Run(context.Background(), c, only); err == nil || !strings.HasPrefix(err.Error(), "OnlySeeds:") {
		t.Errorf("--only-seeds 2 of 2 seeds: %v", err)
	}
	rep, err := Run(context.Background(), c, tinyOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := part.Seeds[0].Runs["du_p0.5"], rep.Seeds[1].Runs["du_p0.5"]; a.Eval != b.Eval {
		t.Errorf("repetition 1 alone and in the whole run differ: %+v vs %+v", a.Eval, b.Eval)
	}
	for _, f := range []string{"report.md", "report.json", "accuracy.png", "scores_du.png", "scatter_fp.png", ConfigFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	if len(rep.Seeds) != 2 {
		t.Fatalf("%d seeds reported, want 2", len(rep.Seeds))
	}
	for _, s := range rep.Seeds {
		if s.SeedSize != 32 {
			t.Errorf("seed %d: seed subset of %d, want 32", s.Seed, s.SeedSize)
		}
		for _, name := range []string{"du_p0.5", "fp_p0.5", "el2n_p0.5", "forgetting_p0.25", "random_p0.5", "random_p0.25", "full"} {
			r, ok := s.Runs[name]
			if !ok {
				t.Fatalf("seed %d: no run %s", s.Seed, name)
			}
			if r.Eval.N != 16 || r.Eval.Worst > r.Eval.PGD || r.Eval.PGD > r.Eval.Clean || r.Eval.Worst > r.Eval.APGDCE {
				t.Errorf("seed %d %s: inconsistent evaluation %+v", s.Seed, name, r.Eval)
			}
		}
		// Class-balanced selection: the same kept counts for every method
		// at a ratio, and 64 of 128 kept at p = 0.5 (32 per class here
		// would need balanced classes; the count is the sum of the
		// per-class floors).
		if s.Runs["du_p0.5"].Kept != s.Runs["random_p0.5"].Kept || s.Runs["fp_p0.25"].Kept != s.Runs["random_p0.25"].Kept {
			t.Errorf("seed %d: pruned and random runs differ in size", s.Seed)
		}
		if k := s.Runs["du_p0.5"].Kept; k < 64 || k > 68 {
			t.Errorf("seed %d: kept %d of 128 at p=0.5", s.Seed, k)
		}
		// The full pool gets the same number of steps: 2 epochs of ~64
		// samples = 1 epoch of 128.
		if e := s.Runs["full"].Epochs; e != 1 {
			t.Errorf("seed %d: full-pool run of %d epochs, want 1", s.Seed, e)
		}
		for _, m := range c.Scores {
			if q := s.Quality[m]; q.HeldOut != 8 {
				t.Errorf("seed %d %s: quality on %d held-out samples, want 8", s.Seed, m, q.HeldOut)
			}
		}
		sdir := seedDir(dir, s.Seed)
		kept, err := ReadIndices(filepath.Join(sdir, "kept_du_p0.5.npy"), 128)
		if err != nil || len(kept) != s.Runs["du_p0.5"].Kept {
			t.Errorf("seed %d: kept_du_p0.5.npy: %v (%d entries)", s.Seed, err, len(kept))
		}
		scores, err := ReadVector(filepath.Join(sdir, "scores_du.npy"))
		if err != nil || len(scores) != 128 {
			t.Fatalf("seed %d: scores_du.npy: %v (%d entries)", s.Seed, err, len(scores))
		}
		// Seeds keep their own scores.
		seed, _ := ReadIndices(filepath.Join(sdir, SeedFile), 128)
		own, _ := ReadVector(filepath.Join(sdir, "scores_seed_du.npy"))
		for j, i := range seed {
			if scores[i] != own[j] {
				t.Fatalf("seed %d: sample %d has extrapolated score %v, its own is %v", s.Seed, i, scores[i], own[j])
			}
		}
	}
	checkTrueClassProbs(t, dir, rep)
	md, _ = os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"| du | 50% |", "| random | 25% |", "| full | — |", "Extrapolation quality", "score_train",
		"![accuracy](accuracy.png)", "What the training sets hold", "| du_p0.5 | random_p0.5 |", "| random_p0.25 | full |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	checkPaired(t, rep)

	// A second call finds every stage done and reproduces the report.
	again, err := Run(context.Background(), c, tinyOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := again.Runs["du_p0.5"], rep.Runs["du_p0.5"]; a.Clean != b.Clean || a.Worst != b.Worst {
		t.Fatalf("rerun changed the results: %+v vs %+v", a, b)
	}
	for k, v := range again.Seeds[0].Stages {
		if rep.Seeds[0].Stages[k] != v {
			t.Fatalf("rerun redid stage %s (%v s, before %v s)", k, v, rep.Seeds[0].Stages[k])
		}
	}

	checkTrueScores(t, c)

	// Other settings in the same directory are refused, naming the field.
	c2 := c
	c2.K = 4
	if _, err := Run(context.Background(), c2, tinyOptions(t)); err == nil || !strings.Contains(err.Error(), `"k"`) && !strings.Contains(err.Error(), "k differs") {
		t.Fatalf("changed --k in the same directory: %v", err)
	}

	// A corrupt stage file is an error naming it, not a panic.
	emb := filepath.Join(dir, "seed0", embeddingFile("seed"))
	if err := os.WriteFile(emb, []byte("\x93NUMPY garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), c, tinyOptions(t)); err == nil || !strings.Contains(err.Error(), emb) {
		t.Fatalf("corrupt %s: %v", emb, err)
	}
}

// checkTrueScores adds runs pruned by "true" DU scores to the finished
// run c, for repetition 1 only, and checks their kept sets, the report
// and the errors of a mismatched or changed scores file.
func checkTrueScores(t *testing.T, c Config) {
	t.Helper()
	truth := make([]float32, 128)
	for i := range truth {
		truth[i] = float32((i * 37) % 101)
	}
	path := filepath.Join(t.TempDir(), "true_du.npy")
	if err := WriteVector(path, truth); err != nil {
		t.Fatal(err)
	}
	c.TrueScores = map[string]string{"du": path}
	o := tinyOptions(t)
	o.OnlySeeds = []int{1}
	if _, err := Run(context.Background(), c, o); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), c, Options{Pool: o.Pool, Test: o.Test, Finished: true})
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]int, o.Pool.Len())
	for i := range labels {
		labels[i] = o.Pool.Label(i)
	}
	want, _ := prune.Select(truth, prune.SelectOptions{Ratio: 0.5, Labels: labels, ClassBalanced: true})
	kept, err := ReadIndices(filepath.Join(seedDir(c.Out, 1), "kept_du-true_p0.5.npy"), 128)
	if err != nil || !slices.Equal(kept, want.Kept) {
		t.Errorf("kept_du-true_p0.5.npy: %v, %v; want the selection by the true scores", kept, err)
	}
	if r := rep.Seeds[1].Runs["du-true_p0.5"]; r.Kept != len(want.Kept) || r.Eval.N != 16 {
		t.Errorf("du-true_p0.5 of seed 1: %+v", r)
	}
	if _, ok := rep.Seeds[0].Runs["du-true_p0.5"]; ok {
		t.Error("seed 0 was not asked for the du-true runs but has them")
	}
	// The quality against the true scores is QualityAgainst's on the
	// repetition's own files.
	sdir := seedDir(c.Out, 1)
	emb, n, dim, _ := ReadMatrix(filepath.Join(sdir, embeddingFile("seed")))
	seeds, _ := ReadIndices(filepath.Join(sdir, SeedFile), n)
	own, _ := ReadVector(filepath.Join(sdir, "scores_seed_du.npy"))
	wantQ, err := QualityAgainst(emb, dim, labels, seeds, own, truth, prune.KNNOptions{K: c.K}, 1)
	if err != nil || rep.Seeds[1].TrueQuality["seed/du"] != wantQ || rep.TrueQuality["seed/du"].Spearman.N != 1 || wantQ.HeldOut != 128-32 {
		t.Errorf("quality against the true DU: %+v, want %+v (%v)", rep.Seeds[1].TrueQuality["seed/du"], wantQ, err)
	}
	md, _ := os.ReadFile(filepath.Join(c.Out, "report.md"))
	for _, w := range []string{"| du-true (1 of 2 seeds) | 50% |", "| du_p0.5 | du-true_p0.5 |", "| du-true_p0.5 | random_p0.5 |", "SCORE-true",
		"Against --true-scores", fmt.Sprintf("| seed/du | 1 | %.3f |", float64(wantQ.Spearman))} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	// Another file for the same score is refused; a file of the wrong
	// length is an error naming it.
	c.TrueScores = map[string]string{"du": path + ".other"}
	if _, err := Run(context.Background(), c, o); err == nil || !strings.Contains(err.Error(), "TrueScores du="+path) {
		t.Errorf("changed --true-scores: %v", err)
	}
	short := filepath.Join(t.TempDir(), "short.npy")
	if err := WriteVector(short, truth[:100]); err != nil {
		t.Fatal(err)
	}
	c.Out, c.TrueScores = t.TempDir(), map[string]string{"fp": short}
	if _, err := Run(context.Background(), c, o); err == nil || !strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "100 scores") {
		t.Errorf("100 true scores for a pool of 128: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Out, "config.json")); !os.IsNotExist(err) {
		t.Errorf("the refused true scores were recorded in %s: %v", c.Out, err)
	}
}

// checkPaired recomputes the paired comparison du_p0.5 − random_p0.5
// from the seeds.
func checkPaired(t *testing.T, rep *Report) {
	t.Helper()
	var diffs []float64
	wins := 0
	for _, s := range rep.Seeds {
		d := s.Runs["du_p0.5"].Eval.Worst - s.Runs["random_p0.5"].Eval.Worst
		diffs = append(diffs, d)
		if d > 0 {
			wins++
		}
	}
	want := stat(diffs)
	for _, p := range rep.Paired {
		if p.A == "du_p0.5" && p.B == "random_p0.5" {
			if p.Worst != want || p.Wins != wins {
				t.Errorf("paired du_p0.5 − random_p0.5: %+v (wins %d), want %+v (wins %d)", p.Worst, p.Wins, want, wins)
			}
			return
		}
	}
	t.Errorf("no paired comparison du_p0.5 − random_p0.5 in %+v", rep.Paired)
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		flag string
	}{
		{func(c *Config) { c.SeedFrac = 0 }, "SeedFrac"},
		{func(c *Config) { c.Train.Subset = "kept.npy" }, "Subset"},
		{func(c *Config) { c.Scores = []string{"du", "magic"} }, "Scores"},
		{func(c *Config) { c.Trajectory = "both" }, "Trajectory"},
		{func(c *Config) { c.ScoreEpochs = 2 }, "ScoreEpochs"},
		{func(c *Config) { c.K = 0 }, "K"},
		{func(c *Config) { c.Metric = "manhattan" }, "Metric"},
		{func(c *Config) { c.Prune = []float64{0.5, 1} }, "Prune"},
		{func(c *Config) { c.Train.Adv = "none" }, "Adv"},
		{func(c *Config) { c.Out = "" }, "Out"},
		// The trainings' own settings are checked before anything runs.
		{func(c *Config) { c.Train.Eps = 0 }, "Eps"},
		{func(c *Config) { c.Train.LR = -1 }, "LR"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			c := tinyConfig("x")
			tc.edit(&c)
			var fe *train.FieldError
			if err := c.Check(); !errors.As(err, &fe) || fe.Field != tc.flag || !strings.HasPrefix(err.Error(), tc.flag+":") {
				t.Errorf("want a FieldError naming %s, got %v", tc.flag, err)
			}
		})
	}
	c := tinyConfig("x")
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	// A refused setting leaves no run directory behind to refuse the
	// corrected command.
	c = tinyConfig(filepath.Join(t.TempDir(), "run"))
	c.Train.Eps = 0
	if _, err := Run(context.Background(), c, tinyOptions(t)); err == nil || !strings.HasPrefix(err.Error(), "Eps:") {
		t.Fatalf("Eps missing: %v", err)
	}
	if _, err := os.Stat(c.Out); !os.IsNotExist(err) {
		t.Errorf("the refused run left %s: %v", c.Out, err)
	}
}

func TestStageFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := WriteVector(path("nan.npy"), []float32{1, float32(nan()), 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVector(path("nan.npy")); err == nil || !strings.Contains(err.Error(), "nan.npy: entry 1") {
		t.Errorf("NaN score: %v", err)
	}
	if err := WriteIndices(path("idx.npy"), []int{0, 5, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIndices(path("idx.npy"), 10); err == nil || !strings.Contains(err.Error(), "not ascending") {
		t.Errorf("unsorted indices: %v", err)
	}
	if err := WriteIndices(path("big.npy"), []int{0, 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIndices(path("big.npy"), 10); err == nil || !strings.Contains(err.Error(), "outside the 10 samples") {
		t.Errorf("index out of range: %v", err)
	}
	if _, _, _, err := ReadMatrix(path("nan.npy")); err == nil || !strings.Contains(err.Error(), "want a matrix") {
		t.Errorf("vector as a matrix: %v", err)
	}
}

func nan() float64 {
	var z float64
	return z / z
}

// checkTrueClassProbs checks seed 0's seed_ptrue.npy against a softmax of
// the seed model's logits computed here, sample by sample, and the
// report's kept-set compositions against the kept files.
func checkTrueClassProbs(t *testing.T, dir string, rep *Report) {
	t.Helper()
	sdir := filepath.Join(dir, "seed0")
	// The seed scores were computed from the recorder's arrays in memory;
	// from the files the recorder wrote they are the same.
	c := tinyConfig(dir)
	for _, m := range append(slices.Clone(c.Scores), Confidence) {
		mem, err := ReadVector(filepath.Join(sdir, "scores_seed_"+m+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		files, err := ScoreRun(&c, filepath.Join(sdir, scoreDir), m, len(mem))
		if err != nil || !slices.Equal(mem, files) {
			t.Fatalf("%s: scores from memory and from the recorded files differ (%v)", m, err)
		}
	}
	p, err := ReadVector(filepath.Join(sdir, PTrueFile))
	if err != nil || len(p) != 128 {
		t.Fatalf("%s: %v (%d entries)", PTrueFile, err, len(p))
	}
	pool := tinyOptions(t).Pool
	model, err := LoadModel(filepath.Join(sdir, scoreDir, train.ModelFile), pool)
	if err != nil {
		t.Fatal(err)
	}
	model.SetTrain(false)
	tp := autograd.NewTape()
	defer tp.NoGrad()()
	for _, i := range []int{0, 17, 127} {
		c, h, w := pool.Shape()
		x := tensor.New(1, c, h, w)
		if err := pool.Image(i, x.Data()); err != nil {
			t.Fatal(err)
		}
		y := pool.Label(i)
		z := model.Forward(tp, autograd.Leaf(x, false)).Value.Data()
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v))
		}
		if want := math.Exp(float64(z[y])) / sum; math.Abs(float64(p[i])-want) > 1e-5 {
			t.Errorf("sample %d: p_true %v, want %v", i, p[i], want)
		}
	}
	kept, err := ReadIndices(filepath.Join(sdir, "kept_du_p0.5.npy"), 128)
	if err != nil {
		t.Fatal(err)
	}
	var mean float64
	hard := 0
	for _, i := range kept {
		mean += float64(p[i])
		if p[i] < 0.5 {
			hard++
		}
	}
	got := rep.Seeds[0].KeptSets["du_p0.5"]
	if math.Abs(got.MeanPTrue-mean/float64(len(kept))) > 1e-9 || got.Hard != float64(hard)/float64(len(kept)) {
		t.Errorf("du_p0.5 composition %+v, want mean %v and hard %v", got, mean/float64(len(kept)), float64(hard)/float64(len(kept)))
	}
	if rep.Runs["full"].PTrue.N != 2 {
		t.Errorf("full-pool composition over %d seeds, want 2", rep.Runs["full"].PTrue.N)
	}
}

// TestQualityAgainstSeedAgreement checks the agreement on the seeds
// themselves: truth that reverses the seed scores' order there gives −1,
// whatever the kNN does elsewhere.
func TestQualityAgainstSeedAgreement(t *testing.T) {
	const n, dim = 40, 2
	emb := make([]float32, n*dim)
	labels := make([]int, n)
	truth := make([]float32, n)
	for i := range n {
		emb[i*dim], emb[i*dim+1] = float32(i), float32(i%3)
		labels[i] = i % 2
		truth[i] = float32(i)
	}
	seeds := []int{0, 5, 10, 15, 20, 25, 30, 35}
	seedScores := make([]float32, len(seeds))
	for j, i := range seeds {
		seedScores[j] = -truth[i]
	}
	q, err := QualityAgainst(emb, dim, labels, seeds, seedScores, truth, prune.KNNOptions{K: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if q.SeedSpearman != -1 || q.HeldOut != n-len(seeds) {
		t.Fatalf("%+v: want seed Spearman −1 on %d held-out samples", q, n-len(seeds))
	}
}

// TestReadTrueScoresOfSubPool checks that with --pool, a true-scores file
// of the whole training split is taken at the pool's indices, one of the
// pool's length is used as it is, and any other length is an error
// naming the file and both sizes.
func TestReadTrueScoresOfSubPool(t *testing.T) {
	poolIdx := []int{1, 4, 7}
	dir := t.TempDir()
	write := func(name string, n int) string {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(10 * i)
		}
		path := filepath.Join(dir, name)
		if err := WriteVector(path, v); err != nil {
			t.Fatal(err)
		}
		return path
	}
	whole, own, other := write("whole.npy", 10), write("own.npy", 3), write("other.npy", 5)
	got, err := readTrueScores(map[string]string{"du": whole, "fp": own}, 3, poolIdx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["du"], []float32{10, 40, 70}) || !slices.Equal(got["fp"], []float32{0, 10, 20}) {
		t.Errorf("true scores of the pool: %v", got)
	}
	if _, err := readTrueScores(map[string]string{"du": other}, 3, poolIdx, 10, 0); err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "training split 10") {
		t.Errorf("5 true scores for a pool of 3 out of 10: %v", err)
	}
	if _, err := readTrueScores(map[string]string{"du": whole}, 3, nil, 3, 0); err == nil || !strings.Contains(err.Error(), "10 scores, but the pool has 3") {
		t.Errorf("10 true scores for a whole split of 3: %v", err)
	}
	// With a base set of 7, a file of base and pool scores gives the pool's.
	got, err = readTrueScores(map[string]string{"du": whole}, 3, nil, 3, 7)
	if err != nil || !slices.Equal(got["du"], []float32{70, 80, 90}) {
		t.Errorf("base and pool scores: %v, %v; want the last 3", got, err)
	}
}

// cancelAfter cancels a run when a line it writes contains after.
type cancelAfter struct {
	after  string
	cancel context.CancelFunc
}

func (w cancelAfter) Write(b []byte) (int, error) {
	if strings.Contains(string(b), w.after) {
		w.cancel()
	}
	return len(b), nil
}

// A repetition cut short after its first evaluated run joins the report
// of --finished with that run alone, read back from its files.
func TestFinishedReportsEvaluatedRunsOfUnfinished(t *testing.T) {
	dir := t.TempDir()
	c := tinyConfig(dir)
	o := tinyOptions(t)
	o.OnlySeeds = []int{0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.Stdout = cancelAfter{after: " kept, ", cancel: cancel}
	if _, err := Run(ctx, c, o); err == nil {
		t.Fatal("the cancelled repetition finished")
	}
	rep, err := Run(context.Background(), c, Options{Pool: o.Pool, Test: o.Test, Finished: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Seeds) != 1 || !rep.Seeds[0].Partial {
		t.Fatalf("report of a cut-short repetition: %+v", rep.Seeds)
	}
	runs := rep.Seeds[0].Runs
	if len(runs) != 1 {
		t.Fatalf("%d runs reported, want the 1 evaluated before the cut", len(runs))
	}
	for name, r := range runs {
		var e EvalResult
		if ok, err := readJSON(filepath.Join(seedDir(dir, 0), evalFile(name)), &e); !ok || err != nil || e != r.Eval {
			t.Errorf("%s: reported %+v, its file %+v (%v)", name, r.Eval, e, err)
		}
		if r.Steps == 0 || r.Epochs == 0 || len(r.Curve) == 0 || (name != fullRun && r.Kept == 0) {
			t.Errorf("%s: %+v, want its steps, epochs, curve and kept size", name, r)
		}
		if s := rep.Runs[name]; s.Worst.N != 1 {
			t.Errorf("%s: summarised over %d seeds, want 1", name, s.Worst.N)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if want := fmt.Sprintf("not finished, with the runs evaluated so far: 0 (1 of %d runs)", len(c.runNames())); !strings.Contains(string(md), want) {
		t.Errorf("report.md does not say %q:\n%s", want, md)
	}
}

// A call that adds nothing to the run recorded in its directory runs its
// own arms and leaves its caller's Config as it was. (Build be7ce6c read
// the recorded config into a copy of c that shared c's slices, so such a
// call ran the recorded run's first rules and ratios instead.)
func TestRunSubsetOfRecordedRunsItsOwnArms(t *testing.T) {
	dir := t.TempDir()
	c := tinyConfig(dir)
	c.Seeds, c.Full, c.Scores = 1, false, []string{"du"}
	c.Select, c.Prune = []string{"top", "drop-tail"}, []float64{0.5, 0.25}
	o := tinyOptions(t)
	if _, err := Run(context.Background(), c, o); err != nil {
		t.Fatal(err)
	}
	sub := c
	sub.Select, sub.Prune = []string{"drop-tail"}, []float64{0.25}
	rep, err := Run(context.Background(), sub, o)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Select[0] != "drop-tail" || sub.Prune[0] != 0.25 {
		t.Errorf("the call's Config changed to select %v, prune %v", sub.Select, sub.Prune)
	}
	if _, ok := rep.Seeds[0].Runs["drop-tail_p0.25"]; !ok {
		t.Errorf("the call reported %v, not its own arm drop-tail_p0.25", slices.Sorted(maps.Keys(rep.Seeds[0].Runs)))
	}
}

// A saved result.json holds the arms of the calls that wrote it; the
// report of --finished adds the runs evaluated since by other calls.
func TestFinishedAddsRunsMissingFromResult(t *testing.T) {
	dir := t.TempDir()
	c := tinyConfig(dir)
	c.Seeds = 1
	o := tinyOptions(t)
	if _, err := Run(context.Background(), c, o); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(seedDir(dir, 0), ResultFile)
	var sr SeedReport
	if ok, err := readJSON(path, &sr); !ok || err != nil {
		t.Fatalf("result.json: %v", err)
	}
	want := sr.Runs["du_p0.5"].Eval
	delete(sr.Runs, "du_p0.5") // as if written by a call that ran other arms
	if err := WriteJSON(path, sr); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), c, Options{Pool: o.Pool, Test: o.Test, Finished: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := rep.Seeds[0].Runs["du_p0.5"]; !ok || got.Eval != want {
		t.Errorf("du_p0.5 in the report: %v, %+v; want its evaluation %+v", ok, got.Eval, want)
	}
}
