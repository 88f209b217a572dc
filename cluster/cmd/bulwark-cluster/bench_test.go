package main

import (
	"path/filepath"
	"testing"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// The benchmarks time a pipeline on prism against the same work done by
// the library in this process, on the tests' 600-sample fixture: the
// difference is what Beam adds per run. Run them on a quiet machine:
//
//	cd cluster && go test -run '^$' -bench . -benchtime 5x ./cmd/bulwark-cluster
//
// cluster/bench.sh measures the 10^6 pool and the 6-seed grid.

func BenchmarkEmbedLibrary(b *testing.B) {
	f := getFixture(b)
	ds, _, err := data.Open(f.spec)
	if err != nil {
		b.Fatal(err)
	}
	m, _, err := nn.Load(f.weights, pipeline.ImageOptions(ds))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := prune.Embed(m, ds, nil, prune.EmbedOptions{BatchSize: 32}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmbedPrism(b *testing.B) {
	f := getFixture(b)
	out := filepath.Join(b.TempDir(), "emb.npy")
	for b.Loop() {
		runCluster(b, "embed", "--weights", f.weights, "--data", f.spec, "--batch", "32", "--shard-size", "128", "--out", out)
	}
}

func BenchmarkExtrapolateLibrary(b *testing.B) {
	emb, idx, scores := extrapolateInputs(b, b.TempDir())
	e, n, dim, err := pipeline.ReadMatrix(emb)
	if err != nil {
		b.Fatal(err)
	}
	seeds, _ := pipeline.ReadIndices(idx, n)
	s, _ := pipeline.ReadVector(scores)
	for b.Loop() {
		if _, err := prune.Extrapolate(e, dim, seeds, s, prune.KNNOptions{K: 12}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtrapolatePrism(b *testing.B) {
	dir := b.TempDir()
	emb, idx, scores := extrapolateInputs(b, dir)
	for b.Loop() {
		runCluster(b, "extrapolate", "--embeddings", emb, "--indices", idx, "--scores", scores, "--k", "12",
			"--shard-size", "256", "--out", filepath.Join(dir, "all.npy"))
	}
}
