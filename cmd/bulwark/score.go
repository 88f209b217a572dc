package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/pipeline"
)

// runScore implements `bulwark score`: adversarial training on a seed
// subset with recording, then the scores of the seed samples.
func runScore(args []string, stdout io.Writer) (err error) {
	tc := cliflags.DefaultTrainConfig()
	tc.Adv, tc.Epochs = "pgd", 20
	pc := pipeline.DefaultConfig()
	var indices string
	var quiet bool
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	cliflags.Train(fs, &tc)
	cliflags.Score(fs, &pc)
	fs.StringVar(&indices, "indices", "", "int64 .npy of the pool samples to score (instead of drawing --seed-frac of them)")
	fs.StringVar(&pc.Base, "base", "", "the seed paper's setting: a real set (dataset spec) mixed into every batch and scored "+
		"before the pool samples; --data is then the pool (as in prune-pipeline)")
	fs.BoolVar(&quiet, "quiet", false, "no progress bar")
	if err := cliflags.Parse(fs, "bulwark", "score", args, stdout); err != nil {
		return err
	}
	names := cliflags.MergeNames(cliflags.FlagNames(fs, &tc), cliflags.FlagNames(fs, &pc))
	defer func() { err = cliflags.RenderFieldErrors(err, names) }()
	pc.Data, pc.Out, pc.ScoreEpochs, pc.Train, pc.Prune = tc.Data, tc.Out, tc.Epochs, tc, []float64{0.5}
	if err := pc.CheckScoring(); err != nil {
		return fmt.Errorf("score: %w", err)
	}
	pool, test, closeData, err := openData("data", tc.Data)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	defer closeData()
	seed := pipeline.DrawSeed(pool.Len(), pc.SeedFrac, tc.Seed)
	if indices != "" {
		if seed, err = pipeline.ReadIndices(indices, pool.Len()); err != nil {
			return fmt.Errorf("score: --indices: %w", err)
		}
	}
	if err := os.MkdirAll(tc.Out, 0o755); err != nil {
		return fmt.Errorf("score: --out: %w", err)
	}
	seedPath := filepath.Join(tc.Out, pipeline.SeedFile)
	if err := pipeline.WriteIndices(seedPath, seed); err != nil {
		return fmt.Errorf("score: %w", err)
	}
	defer useThreads(tc.Threads)()
	fmt.Fprintf(stdout, "bulwark score: %d of %d samples of %s, %s %s ε=%.4g for %d epochs, %d threads, run directory %s\n",
		len(seed), pool.Len(), tc.Data, tc.Arch, tc.Adv, tc.Eps, tc.Epochs, kernels.Threads(), tc.Out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sub, err := data.Subset(pool, seed)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	sets, scored := pipeline.TrainSets{Train: sub, Test: test, Record: pc.Recording()}, len(seed)
	if pc.Base != "" {
		base, btest, closeBase, err := openData("base", pc.Base)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		defer closeBase()
		if btest != nil {
			sets.Test = btest
		}
		sets.Train, sets.Synthetic, scored = base, sub, base.Len()+len(seed)
	}
	if _, err := pipeline.TrainRun(ctx, tc, sets, stdout, progress(quiet)); err != nil {
		return fmt.Errorf("score: %w", err)
	}
	for _, m := range pc.Scores {
		s, err := pipeline.ScoreRun(&pc, tc.Out, m, scored)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		path := filepath.Join(tc.Out, "scores_"+m+".npy")
		if err := pipeline.WriteVector(path, s); err != nil {
			return fmt.Errorf("score: %w", err)
		}
		order := seedPath
		if pc.Base != "" {
			order = "--base's samples, then those of " + seedPath
		}
		fmt.Fprintf(stdout, "wrote %s (%d %s scores, in the order of %s)\n", path, len(s), m, order)
	}
	return nil
}
