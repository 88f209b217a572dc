package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil/datatest"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"

	"github.com/bulwark-ml/bulwark/internal/testutil/pipelinetest"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/tensor"
)

// The tests run every pipeline on prism, in this process, on tiny data,
// and compare its files byte for byte with what the single-process
// bulwark command writes from the same flags: TestMain builds bulwark
// from the root module once.

var bulwarkBin string // the single-process command

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "bulwark-cluster-test-")
	if err != nil {
		panic(err)
	}
	bulwarkBin = filepath.Join(tmp, "bulwark")
	build := exec.Command("go", "build", "-o", bulwarkBin, "./cmd/bulwark")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building bulwark: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// bulwark runs the single-process command and returns its output.
func bulwark(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(bulwarkBin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bulwark %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// runCluster runs a pipeline of bulwark-cluster on prism.
func runCluster(t testing.TB, args ...string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := run(context.Background(), args, &buf, &buf); err != nil {
		t.Fatalf("bulwark-cluster %v: %v\n%s", args, err, buf.String())
	}
	return buf.String()
}

// clusterFails runs a pipeline that must fail and returns its error.
func clusterFails(t *testing.T, args ...string) error {
	t.Helper()
	var buf bytes.Buffer
	err := run(context.Background(), args, &buf, &buf)
	if err == nil {
		t.Fatalf("bulwark-cluster %v succeeded, want an error\n%s", args, buf.String())
	}
	return err
}

// sameFile fails the test unless the files a and b hold the same bytes.
var sameFile = pipelinetest.SameFile

// fixture is a dataset of 600 8×8 images and a model trained on it.
type fixture struct{ dir, spec, weights string }

var fix *fixture

func getFixture(t testing.TB) *fixture {
	t.Helper()
	if fix != nil {
		return fix
	}
	dir, err := os.MkdirTemp("", "bulwark-cluster-fixture-")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, spec: datatest.NpySet(t, dir, 600, 1, 8)}
	bulwark(t, "train", "--data", f.spec, "--arch", "resnet8", "--width", "0.25", "--epochs", "1",
		"--batch", "32", "--lr", "0.05", "--threads", "1", "--quiet", "--out", filepath.Join(dir, "model"))
	f.weights = filepath.Join(dir, "model", "model.safetensors")
	fix = f
	return f
}

// flagDefaults parses the -h output of a command: flag name → default.
func flagDefaults(out string) map[string]string {
	flags := map[string]string{}
	name := ""
	def := regexp.MustCompile(`\(default (.*)\)$`)
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "  -") {
			name = strings.Fields(line[3:])[0]
			flags[name] = ""
			continue
		}
		if m := def.FindStringSubmatch(line); m != nil && name != "" {
			flags[name] = m[1]
		}
	}
	return flags
}

// TestFlagsAsBulwark checks that each pipeline takes every flag of its
// bulwark command, with the same default.
func TestFlagsAsBulwark(t *testing.T) {
	for name, c := range commands {
		want := flagDefaults(bulwark(t, c.like, "-h"))
		got := flagDefaults(runCluster(t, name, "-h"))
		if len(want) < 5 {
			t.Fatalf("bulwark %s -h: too few flags parsed: %v", c.like, want)
		}
		for f, d := range want {
			g, ok := got[f]
			if !ok {
				t.Errorf("%s: no --%s (bulwark %s has it)", name, f, c.like)
			} else if g != d {
				t.Errorf("%s: --%s defaults to %q, bulwark %s's to %q", name, f, g, c.like, d)
			}
		}
		if _, ok := got["runner"]; !ok {
			t.Errorf("%s: no --runner", name)
		}
	}
}

func TestEmbedBitIdentical(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	ref, got := filepath.Join(dir, "ref.npy"), filepath.Join(dir, "got.npy")
	args := []string{"--weights", f.weights, "--data", f.spec, "--batch", "32", "--threads", "1", "--normalize", "--out"}
	bulwark(t, append(append([]string{"embed"}, args...), ref)...)
	out := runCluster(t, append(append([]string{"embed", "--runner", "prism", "--shard-size", "100"}, args...), got)...)
	if !strings.Contains(out, "5 shards") { // 100 rounds up to 128 = 4 batches
		t.Errorf("output: %s", out)
	}
	sameFile(t, ref, got)
	if _, err := os.Stat(got + ".parts"); !os.IsNotExist(err) {
		t.Errorf("the shards' directory is left: %v", err)
	}
}

// TestEmbedFaultRetried injects a worker error on one shard, once: the
// worker retries it and the output is identical. A shard that keeps
// failing ends the pipeline with an error naming the shard and the file,
// and leaves no output.
func TestEmbedFaultRetried(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	ref, got := filepath.Join(dir, "ref.npy"), filepath.Join(dir, "got.npy")
	args := []string{"--weights", f.weights, "--data", f.spec, "--batch", "32", "--threads", "1", "--out"}
	bulwark(t, append(append([]string{"embed"}, args...), ref)...)
	runCluster(t, append(append([]string{"embed", "--shard-size", "128", "--inject-fault", "2"}, args...), got)...)
	sameFile(t, ref, got)

	bad := filepath.Join(dir, "bad.npy")
	err := clusterFails(t, append(append([]string{"embed", "--shard-size", "128", "--inject-fault", "3:5", "--attempts", "2"}, args...), bad)...)
	for _, w := range []string{"shard 3 (items 384 to 511)", f.spec, "failed 2 time(s)", "injected fault 2 of 5"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed run: %v", bad, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
	// A rerun without the fault reuses the finished shards and completes.
	runCluster(t, append(append([]string{"embed", "--shard-size", "128"}, args...), bad)...)
	sameFile(t, ref, bad)
}

// extrapolateInputs writes scores of every 5th sample of the fixture's
// embeddings.
func extrapolateInputs(t testing.TB, dir string) (emb, idx, scores string) {
	f := getFixture(t)
	emb = filepath.Join(dir, "emb.npy")
	bulwark(t, "embed", "--weights", f.weights, "--data", f.spec, "--batch", "64", "--threads", "1", "--out", emb)
	var seeds []int
	var s []float32
	rng := tensor.NewRNG(5)
	for i := 0; i < 600; i += 5 {
		seeds = append(seeds, i)
		s = append(s, rng.Float32())
	}
	idx, scores = filepath.Join(dir, "idx.npy"), filepath.Join(dir, "scores.npy")
	if err := pipeline.WriteIndices(idx, seeds); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.WriteVector(scores, s); err != nil {
		t.Fatal(err)
	}
	return emb, idx, scores
}

func TestExtrapolateBitIdentical(t *testing.T) {
	dir := t.TempDir()
	emb, idx, scores := extrapolateInputs(t, dir)
	for i, knn := range [][]string{{"--k", "5"}, {"--k", "7", "--metric", "cosine", "--weighted"}} {
		ref, got := filepath.Join(dir, fmt.Sprintf("ref%d.npy", i)), filepath.Join(dir, fmt.Sprintf("got%d.npy", i))
		args := append([]string{"--embeddings", emb, "--indices", idx, "--scores", scores}, knn...)
		bulwark(t, append(append([]string{"extrapolate"}, args...), "--out", ref)...)
		// 480 queries in shards of 256 (one search tile): 2 shards, the
		// second with a fault, retried.
		out := runCluster(t, append(append([]string{"extrapolate", "--shard-size", "1", "--inject-fault", "1"}, args...), "--out", got)...)
		if !strings.Contains(out, "480 extrapolated from 120 by") || !strings.Contains(out, "2 shards") {
			t.Errorf("output: %s", out)
		}
		sameFile(t, ref, got)
	}
	// Bad input: errors name the file.
	missing := filepath.Join(dir, "missing.npy")
	err := clusterFails(t, "extrapolate", "--embeddings", missing, "--indices", idx, "--scores", scores, "--out", filepath.Join(dir, "x.npy"))
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name %s", err, missing)
	}
	err = clusterFails(t, "extrapolate", "--embeddings", emb, "--indices", idx, "--scores", emb, "--out", filepath.Join(dir, "x.npy"))
	if !strings.Contains(err.Error(), "--scores") || !strings.Contains(err.Error(), "emb.npy") {
		t.Errorf("error %q does not name --scores and its file", err)
	}
}

// TestRemoteStorage runs embed and extrapolate with every input and
// output on an object store (Beam's in-memory file system, memfs://):
// the inputs are staged on the workers, the outputs committed there.
func TestRemoteStorage(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	put := func(local, key string) string {
		b, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		memfs.Write(key, b)
		return key
	}
	get := func(key, local string) string {
		b, err := filesystem.Read(context.Background(), memfs.New(context.Background()), key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if err := os.WriteFile(local, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return local
	}
	xy := strings.Split(strings.TrimPrefix(f.spec, "npy:"), ",")
	spec := "npy:" + put(xy[0], "memfs://fx/X.npy") + "," + put(xy[1], "memfs://fx/Y.npy")
	w := put(f.weights, "memfs://fx/model.safetensors")
	ref := filepath.Join(dir, "ref.npy")
	bulwark(t, "embed", "--weights", f.weights, "--data", f.spec, "--batch", "32", "--threads", "1", "--out", ref)
	runCluster(t, "embed", "--weights", w, "--data", spec, "--batch", "32", "--threads", "1", "--shard-size", "128", "--out", "memfs://fx/emb.npy")
	sameFile(t, ref, get("memfs://fx/emb.npy", filepath.Join(dir, "got.npy")))

	emb, idx, scores := extrapolateInputs(t, dir)
	all := filepath.Join(dir, "all.npy")
	bulwark(t, "extrapolate", "--embeddings", emb, "--indices", idx, "--scores", scores, "--k", "5", "--out", all)
	runCluster(t, "extrapolate", "--embeddings", put(emb, "memfs://fx/e.npy"), "--indices", put(idx, "memfs://fx/i.npy"),
		"--scores", put(scores, "memfs://fx/s.npy"), "--k", "5", "--shard-size", "256", "--out", "memfs://fx/all.npy")
	sameFile(t, all, get("memfs://fx/all.npy", filepath.Join(dir, "all-got.npy")))
	left, _ := memfs.New(context.Background()).List(context.Background(), "memfs://fx/*.parts/*")
	if len(left) > 0 {
		t.Errorf("shard files left: %v", left)
	}
}

// TestBadInput checks that missing inputs end the pipelines with one
// line naming the flag and the file, before any worker starts.
func TestBadInput(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.npz")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"grid", "--eps", "0.1", "--data", "npz:" + missing, "--out", filepath.Join(dir, "g")}, []string{"--data", missing}},
		{[]string{"embed", "--weights", missing, "--data", f.spec, "--out", filepath.Join(dir, "e.npy")}, []string{"--weights", missing}},
		{[]string{"evaluate", "--weights", f.weights, "--data", "npz:" + missing, "--eps", "0.1"}, []string{"--data", missing}},
		{[]string{"embed", "--weights", f.weights, "--data", f.spec}, []string{"--out is missing"}},
	} {
		err := clusterFails(t, c.args...)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: error %q, want one line containing %q", c.args, err, w)
			}
		}
	}
}

// stripTimes removes the attack times and the wall-time line from
// bulwark attack's table.
func stripTimes(s string) string {
	s = regexp.MustCompile(`  \([0-9.]+s\)`).ReplaceAllString(s, "")
	var keep []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, "%") || strings.HasSuffix(line, " samples") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func TestEvaluateEqualsAttack(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	ref, got := filepath.Join(dir, "ref.npy"), filepath.Join(dir, "got.npy")
	// Every attack, random starts and restarts included: the starts are
	// keyed by sample, so the sharded evaluation is exactly the
	// single-process one, counts and worst-case inputs.
	args := []string{"--weights", f.weights, "--data", f.spec, "--attack", "all", "--steps", "5", "--restarts", "2",
		"--eps", "0.1", "--n", "300", "--batch", "32", "--threads", "1"}
	want := bulwark(t, append(append([]string{"attack"}, args...), "--save-adv", ref)...)
	out := runCluster(t, append(append([]string{"evaluate", "--shard-size", "64", "--inject-fault", "1"}, args...), "--save-adv", got)...)
	if stripTimes(out) != stripTimes(want) || !strings.Contains(out, "5 shards") {
		t.Errorf("bulwark-cluster evaluate:\n%s\nbulwark attack:\n%s", out, want)
	}
	sameFile(t, ref, got)
}

// writeIDX writes a tiny MNIST-format set (n train and m test 8×8
// images) under dir/mnist, for specs with a test split.
func writeIDX(t *testing.T, dir string, n, m int) {
	t.Helper()
	d := filepath.Join(dir, "mnist")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(11)
	write := func(name string, count int, images bool) {
		var b bytes.Buffer
		if images {
			binary.Write(&b, binary.BigEndian, []uint32{0x803, uint32(count), 8, 8})
			for i := range count * 64 {
				// Class i%3 lights one third of the rows more.
				y := (i / 64) % 3
				v := byte(rng.Intn(128))
				if (i%64)/8*3/8 == y {
					v += 100
				}
				b.WriteByte(v)
			}
		} else {
			binary.Write(&b, binary.BigEndian, []uint32{0x801, uint32(count)})
			for i := range count {
				b.WriteByte(byte(i % 3))
			}
		}
		if err := os.WriteFile(filepath.Join(d, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train-images-idx3-ubyte", n, true)
	write("train-labels-idx1-ubyte", n, false)
	write("t10k-images-idx3-ubyte", m, true)
	write("t10k-labels-idx1-ubyte", m, false)
}

// TestGridBitIdentical runs the prune-pipeline experiment (2 seeds, the
// top and random arms at one ratio) with bulwark and as a grid of
// preparation and arm jobs, with one arm job failing once after its work
// was done, and compares the run directories: every array and model byte
// for byte, every JSON file but its times.
func TestGridBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 18 tiny models")
	}
	dir := t.TempDir()
	writeIDX(t, dir, 96, 48)
	t.Setenv("BULWARK_DATA", dir)
	args := []string{"--data", "mnist", "--arch", "resnet8", "--width", "0.25", "--epochs", "2", "--score-epochs", "3",
		"--window", "2", "--batch", "16", "--lr", "0.05", "--eps", "0.1", "--steps", "2", "--seed-frac", "0.25",
		"--k", "3", "--prune", "0.5", "--select", "top", "--seeds", "2", "--val-size", "8", "--val-steps", "2",
		"--eval-n", "16", "--eval-steps", "2", "--apgd-steps", "0", "--threads", "1", "--quiet"}
	ref, got := filepath.Join(dir, "ref"), filepath.Join(dir, "got")
	want := bulwark(t, append(append([]string{"prune-pipeline"}, args...), "--out", ref)...)
	// Jobs 0 and 1 prepare the seeds, 2 to 5 are the arm jobs (du_p0.5,
	// random_p0.5 of each seed): job 4 is seed 1's du_p0.5. Its faults
	// come after its work, so each retry finds the arm trained and
	// evaluated. Three faults in three attempts fail the grid, naming the
	// arm; the rerun meets a fourth and retries once more.
	fault := append([]string{"grid", "--inject-fault", "4:4"}, args...)
	err := clusterFails(t, append(fault, "--attempts", "3", "--out", got)...)
	if !strings.Contains(err.Error(), "job 4 (seed 1: arm du_p0.5) of --out "+got+" failed 3 time(s)") ||
		!strings.Contains(err.Error(), "injected fault 3 of 4") {
		t.Errorf("error %q does not name the arm job and its faults", err)
	}
	// The failed job did its work, apart from stages.json; no report ran.
	for _, f := range []string{"seed1/eval_du_p0.5.json", "seed1/stages_du_p0.5.json", "seed1/train_du_p0.5/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(got, f)); err != nil {
			t.Errorf("after the failed grid: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(got, "report.json")); err == nil {
		t.Error("the failed grid wrote a report")
	}
	out := runCluster(t, append(fault, "--out", got)...)
	if !strings.Contains(out, "2 seed(s) as 2 preparation and 4 arm jobs") || !strings.Contains(out, "wrote "+got) {
		t.Errorf("output:\n%s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(got, "seed*", "stages_*.json")); len(left) > 0 {
		t.Errorf("the report left the arm jobs' stage files %v", left)
	}
	table := func(s string) string { // the report's table, without the times
		i := strings.Index(s, "\n\n")
		j := strings.LastIndex(s, "\nwrote")
		if i < 0 || j < i {
			return ""
		}
		return regexp.MustCompile(`[0-9.]+ ?(s|min|h)\b`).ReplaceAllString(s[i:j], "T")
	}
	if table(out) != table(want) || table(want) == "" {
		t.Errorf("grid table:\n%s\nprune-pipeline table:\n%s", table(out), table(want))
	}
	sameRunDir(t, ref, got)

	// The same grid with its run directory on an object store (Beam's
	// in-memory file system): each job pulls its part of the directory,
	// runs locally and pushes back what it wrote.
	remote := "memfs://grid/got"
	runCluster(t, append(append([]string{"grid"}, args...), "--out", remote)...)
	pulled := filepath.Join(dir, "pulled")
	pullMemfs(t, remote, pulled)
	sameRunDir(t, ref, pulled)
	if left, _ := filepath.Glob(filepath.Join(pulled, "seed*", "stages_*.json")); len(left) > 0 {
		t.Errorf("the report left the arm jobs' stage files %v on the object store", left)
	}
}

// pullMemfs copies the files under the memfs:// directory remote to the
// local directory dir.
func pullMemfs(t *testing.T, remote, dir string) {
	t.Helper()
	ctx := context.Background()
	fsys, err := filesystem.New(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fsys.List(ctx, remote+"/*")
	if err != nil {
		t.Fatal(err)
	}
	for depth := 1; depth < 5; depth++ {
		more, _ := fsys.List(ctx, remote+"/"+strings.Repeat("*/", depth)+"*")
		files = append(files, more...)
	}
	for _, f := range files {
		b, err := filesystem.Read(ctx, fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		local := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(f, remote+"/")))
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(local, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sameRunDir compares the run directory got with prune-pipeline's, ref
// (pipelinetest.SameRunDir), and checks that the comparison covered
// arrays and models.
func sameRunDir(t *testing.T, ref, got string) {
	t.Helper()
	files := pipelinetest.SameRunDir(t, ref, got)
	arrays := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".npy") || strings.HasSuffix(f, ".safetensors") {
			arrays++
		}
	}
	if len(files) < 20 || arrays < 10 || !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, ".safetensors") }) {
		t.Errorf("prune-pipeline wrote too little to compare: %v", files)
	}
}
