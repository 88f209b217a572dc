package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// datasetLabels returns the training labels of spec, which must have n
// samples.
func datasetLabels(spec string, n int) ([]int, error) {
	if spec == "" {
		return nil, errors.New("--data is missing (its labels are needed)")
	}
	ds, test, err := data.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	defer data.Close(ds)
	if test != nil {
		data.Close(test)
	}
	if ds.Len() != n {
		return nil, fmt.Errorf("--data %s has %d samples, the other files %d", spec, ds.Len(), n)
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = ds.Label(i)
	}
	return labels, nil
}

// runSelect implements `bulwark select`.
func runSelect(args []string, stdout io.Writer) error {
	pc := pipeline.DefaultConfig()
	pc.Prune, pc.Beta = nil, 0
	fs := flag.NewFlagSet("select", flag.ContinueOnError)
	cliflags.Select(fs, &pc)
	scorePath := fs.String("scores", "", "float32 scores of all N samples (required)")
	spec := fs.String("data", "", "the dataset, for its labels (needed by --class-balanced and the per-class counts)")
	from := fs.Int("prunable-from", 0, "only samples from this index on may be pruned (the synthetic pool after the real set)")
	out := fs.String("out", "", "the kept indices, int64 .npy, ascending (required); per-class counts go to the same name with .json")
	rule := fs.String("rule", "top", "selection rule: top, keep-low, stratified, drop-tail, random, random-replace (see prune-pipeline --select)")
	confPath := fs.String("confidence", "", "float32 confidence (mean true-class probability) of all N samples: stratified and drop-tail cut its lowest first")
	seed := fs.Uint64("seed", 0, "seed of the random draws (random, random-replace, stratified, drop-tail)")
	if err := cliflags.Parse(fs, "bulwark", "select", args, stdout); err != nil {
		return err
	}
	r, err := prune.ParseRule(*rule)
	if err != nil {
		return fmt.Errorf("select: --rule: %w", err)
	}
	if pc.KeepLow {
		r = prune.RuleKeepLow
	}
	switch {
	case *scorePath == "":
		return errors.New("select: --scores is missing")
	case *out == "":
		return errors.New("select: --out is missing")
	case len(pc.Prune) != 1:
		return fmt.Errorf("select: --prune: want one fraction, e.g. 0.5, have %v", pc.Prune)
	case !(pc.Prune[0] >= 0 && pc.Prune[0] < 1):
		return fmt.Errorf("select: --prune: %g is not a fraction in [0, 1)", pc.Prune[0])
	}
	scores, err := pipeline.ReadVector(*scorePath)
	if err != nil {
		return fmt.Errorf("select: --scores: %w", err)
	}
	var conf []float32
	if *confPath != "" {
		if conf, err = pipeline.ReadVector(*confPath); err != nil {
			return fmt.Errorf("select: --confidence: %w", err)
		}
		if len(conf) != len(scores) {
			return fmt.Errorf("select: --confidence %s: %d values for the %d --scores of %s", *confPath, len(conf), len(scores), *scorePath)
		}
	}
	if *from < 0 || *from > len(scores) {
		return fmt.Errorf("select: --prunable-from: %d, outside the %d samples of %s", *from, len(scores), *scorePath)
	}
	var labels []int
	if *spec != "" {
		if labels, err = datasetLabels(*spec, len(scores)); err != nil {
			return fmt.Errorf("select: %w (--scores %s)", err, *scorePath)
		}
	} else if pc.ClassBalanced {
		return errors.New("select: --class-balanced needs --data for the labels")
	}
	o := prune.RuleOptions{Rule: r, Ratio: pc.Prune[0], Scores: scores, Confidence: conf, Beta: pc.Beta, Tail: pc.Tail,
		Strata: pc.Strata, Labels: labels, ClassBalanced: pc.ClassBalanced, Seed: *seed}
	if *from > 0 {
		o.Prunable = func(i int) bool { return i >= *from }
	}
	sel, err := prune.SelectBy(len(scores), o)
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	if err := pipeline.WriteIndices(*out, sel.Kept); err != nil {
		return fmt.Errorf("select: --out: %w", err)
	}
	counts := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".json"
	if err := pipeline.WriteSelection(counts, sel); err != nil {
		return fmt.Errorf("select: %w", err)
	}
	fmt.Fprintf(stdout, "kept %d of %d samples (%d distinct); wrote %s and %s\n", len(sel.Kept), len(scores), sel.Unique, *out, counts)
	if sel.KeptPerClass != nil {
		fmt.Fprintf(stdout, "kept per class: %v\n", sel.KeptPerClass)
	}
	return nil
}
