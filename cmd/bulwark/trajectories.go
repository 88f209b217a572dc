package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// runTrajectories implements `bulwark trajectories`.
func runTrajectories(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("trajectories", flag.ContinueOnError)
	probsPath := fs.String("probs", "", "K×n true-class probabilities recorded by a scoring run, e.g. DIR/probs_train.npy (required)")
	scorePath := fs.String("scores", "", "float32 scores of the same n samples, e.g. DIR/scores_du.npy (required)")
	groups := fs.Int("groups", 5, "number of score groups of equal size")
	if err := cliflags.Parse(fs, "bulwark", "trajectories", args, stdout); err != nil {
		return err
	}
	if *probsPath == "" || *scorePath == "" {
		return errors.New("trajectories: --probs and --scores are required")
	}
	tr, err := pipeline.ReadTrajectories(*probsPath)
	if err != nil {
		return fmt.Errorf("trajectories: --probs: %w", err)
	}
	scores, err := pipeline.ReadVector(*scorePath)
	if err != nil {
		return fmt.Errorf("trajectories: --scores: %w", err)
	}
	if len(scores) != tr.N {
		return fmt.Errorf("trajectories: --scores %s holds %d scores but --probs %s records %d samples", *scorePath, len(scores), *probsPath, tr.N)
	}
	g, err := prune.GroupByScore(tr, scores, *groups)
	if err != nil {
		return fmt.Errorf("trajectories: --groups: %w", err)
	}
	fmt.Fprintf(stdout, "mean true-class probability after each epoch, %d samples in %d groups by score (lowest first)\n\n| group | score |", tr.N, len(g))
	for t := range tr.K {
		fmt.Fprintf(stdout, " %d |", t+1)
	}
	fmt.Fprintf(stdout, "\n|---|---|%s\n", strings.Repeat("---|", tr.K))
	for i, x := range g {
		fmt.Fprintf(stdout, "| %d | %.3g–%.3g |", i+1, x.Lo, x.Hi)
		for _, m := range x.Mean {
			fmt.Fprintf(stdout, " %.2f |", m)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
