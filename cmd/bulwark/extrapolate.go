package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// runExtrapolate implements `bulwark extrapolate`.
func runExtrapolate(args []string, stdout io.Writer) error {
	pc := pipeline.DefaultConfig()
	fs := flag.NewFlagSet("extrapolate", flag.ContinueOnError)
	cliflags.KNN(fs, &pc)
	embPath := fs.String("embeddings", "", "float32 N×d embeddings of every sample (required)")
	idxPath := fs.String("indices", "", "int64 indices of the scored samples, ascending (required)")
	scorePath := fs.String("scores", "", "float32 scores of the samples in --indices, in that order (required)")
	truePath := fs.String("true", "", "optional float32 scores of all N samples from another run (e.g. the full set): report the extrapolation's quality on the unscored ones")
	spec := fs.String("data", "", "the dataset, for the class-mean baseline of --true")
	qualityPath := fs.String("quality", "", "with --true, also write the quality report as JSON to this file")
	out := fs.String("out", "", "the scores of all N samples, float32 .npy (required)")
	if err := cliflags.Parse(fs, "bulwark", "extrapolate", args, stdout); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"embeddings", *embPath}, {"indices", *idxPath}, {"scores", *scorePath}, {"out", *out}} {
		if f.v == "" {
			return fmt.Errorf("extrapolate: --%s is missing", f.name)
		}
	}
	if *qualityPath != "" && *truePath == "" {
		return errors.New("extrapolate: --quality needs --true")
	}
	metric, err := prune.ParseMetric(pc.Metric)
	if err != nil {
		return fmt.Errorf("extrapolate: --metric: %w", err)
	}
	emb, n, dim, err := pipeline.ReadMatrix(*embPath)
	if err != nil {
		return fmt.Errorf("extrapolate: --embeddings: %w", err)
	}
	idx, err := pipeline.ReadIndices(*idxPath, n)
	if err != nil {
		return fmt.Errorf("extrapolate: --indices (against the %d rows of %s): %w", n, *embPath, err)
	}
	scores, err := pipeline.ReadVector(*scorePath)
	if err != nil {
		return fmt.Errorf("extrapolate: --scores: %w", err)
	}
	if len(scores) != len(idx) {
		return fmt.Errorf("extrapolate: --scores %s holds %d scores but --indices %s lists %d samples", *scorePath, len(scores), *idxPath, len(idx))
	}
	if pc.K < 1 || pc.K > len(idx) {
		return fmt.Errorf("extrapolate: --k: %d, want 1 to %d (the scored samples)", pc.K, len(idx))
	}
	start := time.Now()
	ex, err := prune.Extrapolate(emb, dim, idx, scores, prune.KNNOptions{K: pc.K, Metric: metric, Weighted: pc.Weighted})
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	if err := pipeline.WriteVector(*out, ex.Scores); err != nil {
		return fmt.Errorf("extrapolate: --out: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d scores (%d extrapolated from %d by %d-NN) in %.1fs\n",
		*out, n, len(ex.Queries), len(idx), pc.K, time.Since(start).Seconds())
	if *truePath == "" {
		return nil
	}
	truth, err := pipeline.ReadVector(*truePath)
	if err != nil {
		return fmt.Errorf("extrapolate: --true: %w", err)
	}
	if len(truth) != n {
		return fmt.Errorf("extrapolate: --true %s holds %d scores but --embeddings %s has %d rows", *truePath, len(truth), *embPath, n)
	}
	labels, err := datasetLabels(*spec, n)
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	q, err := pipeline.QualityAgainst(emb, dim, labels, idx, scores, truth, prune.KNNOptions{K: pc.K, Metric: metric, Weighted: pc.Weighted}, 0)
	if err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	fmt.Fprintf(stdout, "quality on the %d unscored samples against %s: Spearman %.4f (class-mean %.4f, shuffled kNN %.4f), Pearson %.4f, Var(Ŝ)/Var(S) %.3f; "+
		"on the %d seeds themselves (no extrapolation) Spearman %.4f\n",
		q.HeldOut, *truePath, q.Spearman, q.ClassMean, q.Shuffled, q.Pearson, q.VarianceRatio, len(idx), q.SeedSpearman)
	if *qualityPath != "" {
		if err := pipeline.WriteJSON(*qualityPath, q); err != nil {
			return fmt.Errorf("extrapolate: --quality: %w", err)
		}
	}
	return nil
}
