package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// The pruning stages (package pipeline), each reading and writing plain
// files, and the pipeline that chains them.

// scoreFlags are the flags of the scoring stage shared by `bulwark score`
// and `bulwark prune-pipeline`.
func scoreFlags(fs *flag.FlagSet, c *pipeline.Config) {
	fs.Float64Var(&c.SeedFrac, "seed-frac", c.SeedFrac, "share of the pool in the seed subset that is scored (bulwark score: 1 scores every sample)")
	fs.Var((*stringList)(&c.Scores), "score", "importance scores, comma-separated: "+strings.Join(pipeline.Methods, ", "))
	fs.StringVar(&c.Trajectory, "trajectory", c.Trajectory, "probability trajectories: adv (PGD-10 inputs, eval mode), clean, or train (the training pass itself, no extra cost)")
	fs.IntVar(&c.Window, "window", c.Window, "Dynamic Uncertainty window J")
	fs.BoolVar(&c.TruncateBest, "truncate-best", c.TruncateBest, "score from the epochs up to the scoring run's best validation-robust epoch")
}

// knnFlags are the extrapolation's flags.
func knnFlags(fs *flag.FlagSet, c *pipeline.Config) {
	fs.IntVar(&c.K, "k", c.K, "neighbours of the kNN extrapolation")
	fs.StringVar(&c.Metric, "metric", c.Metric, "distance: euclidean or cosine")
	fs.BoolVar(&c.Weighted, "weighted", c.Weighted, "weight the neighbours' scores by exp(−distance) instead of a plain mean")
}

// selectFlags are the selection's flags.
func selectFlags(fs *flag.FlagSet, c *pipeline.Config) {
	fs.Var((*floatList)(&c.Prune), "prune", "fraction of the pool removed (the lowest scores); the pipeline takes a comma-separated list")
	fs.BoolVar(&c.ClassBalanced, "class-balanced", c.ClassBalanced, "remove the fraction from every class")
	fs.BoolVar(&c.KeepLow, "keep-low", c.KeepLow, "ablation: keep the lowest scores instead")
	fs.Float64Var(&c.Beta, "ccs-beta", c.Beta, "stratified: share of the pool dropped first as hardest by confidence"+
		map[bool]string{true: " (negative: CCS's schedule, 0 up to 70% pruning, 0.1 to 85%, then 0.3)", false: ""}[c.Beta < 0])
	fs.Float64Var(&c.Tail, "tail", c.Tail, "drop-tail: share of the pool dropped first as lowest-confidence")
	fs.IntVar(&c.Strata, "strata", c.Strata, "stratified: equal-width score strata")
}

// runScore implements `bulwark score`: adversarial training on a seed
// subset with recording, then the scores of the seed samples.
func runScore(args []string, stdout io.Writer) (err error) {
	tc := defaultTrainConfig()
	tc.Adv, tc.Epochs = "pgd", 20
	pc := pipeline.DefaultConfig()
	var indices string
	var quiet bool
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	trainFlags(fs, &tc)
	scoreFlags(fs, &pc)
	fs.StringVar(&indices, "indices", "", "int64 .npy of the pool samples to score (instead of drawing --seed-frac of them)")
	fs.StringVar(&pc.Base, "base", "", "the seed paper's setting: a real set (dataset spec) mixed into every batch and scored "+
		"before the pool samples; --data is then the pool (as in prune-pipeline)")
	fs.BoolVar(&quiet, "quiet", false, "no progress bar")
	if err := parseFlags(fs, "score", args, stdout); err != nil {
		return err
	}
	names := mergeNames(flagNames(fs, &tc), flagNames(fs, &pc))
	defer func() { err = renderFieldErrors(err, names) }()
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
	tc = pc.Recording(tc)
	if tc.Threads > 0 {
		defer kernels.SetThreads(kernels.SetThreads(tc.Threads))
	}
	fmt.Fprintf(stdout, "bulwark score: %d of %d samples of %s, %s %s ε=%.4g for %d epochs, %d threads, run directory %s\n",
		len(seed), pool.Len(), tc.Data, tc.Arch, tc.Adv, tc.Eps, tc.Epochs, kernels.Threads(), tc.Out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sub, err := data.Subset(pool, seed)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	sets, scored := pipeline.TrainSets{Train: sub, Test: test}, len(seed)
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

// runEmbed implements `bulwark embed`.
func runEmbed(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var ml modelFlags
	ml.bind(fs, "train")
	normalize := fs.Bool("normalize", false, "scale every embedding to unit L2 norm")
	batch := fs.Int("batch", 256, "batch size")
	threads := fs.Int("threads", 0, "kernel threads (0 = GOMAXPROCS)")
	out := fs.String("out", "", "the embeddings, a float32 N×d .npy (required)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, "embed", args, stdout); err != nil {
		return err
	}
	switch {
	case *out == "":
		return errors.New("embed: --out is missing, e.g. --out embeddings.npy")
	case *batch < 1:
		return fmt.Errorf("embed: --batch: %d, want at least 1", *batch)
	case *threads < 0:
		return fmt.Errorf("embed: --threads: %d, want at least 0", *threads)
	}
	model, ds, closeData, err := ml.load("embed")
	if err != nil {
		return err
	}
	defer closeData()
	if *threads > 0 {
		defer kernels.SetThreads(kernels.SetThreads(*threads))
	}
	start := time.Now()
	emb, dim, err := pipeline.Embed(model, ds, prune.EmbedOptions{BatchSize: *batch, Normalize: *normalize}, progress(*quiet))
	if err != nil {
		return fmt.Errorf("embed: --data %s: %w", ml.spec, err)
	}
	if err := data.WriteNpy(*out, []int{ds.Len(), dim}, emb); err != nil {
		return fmt.Errorf("embed: --out: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d × %d embeddings of %s) in %.1fs\n", *out, ds.Len(), dim, ml.spec, time.Since(start).Seconds())
	return nil
}

// runExtrapolate implements `bulwark extrapolate`.
func runExtrapolate(args []string, stdout io.Writer) error {
	pc := pipeline.DefaultConfig()
	fs := flag.NewFlagSet("extrapolate", flag.ContinueOnError)
	knnFlags(fs, &pc)
	embPath := fs.String("embeddings", "", "float32 N×d embeddings of every sample (required)")
	idxPath := fs.String("indices", "", "int64 indices of the scored samples, ascending (required)")
	scorePath := fs.String("scores", "", "float32 scores of the samples in --indices, in that order (required)")
	truePath := fs.String("true", "", "optional float32 scores of all N samples from another run (e.g. the full set): report the extrapolation's quality on the unscored ones")
	spec := fs.String("data", "", "the dataset, for the class-mean baseline of --true")
	qualityPath := fs.String("quality", "", "with --true, also write the quality report as JSON to this file")
	out := fs.String("out", "", "the scores of all N samples, float32 .npy (required)")
	if err := parseFlags(fs, "extrapolate", args, stdout); err != nil {
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

// runTrajectories implements `bulwark trajectories`.
func runTrajectories(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("trajectories", flag.ContinueOnError)
	probsPath := fs.String("probs", "", "K×n true-class probabilities recorded by a scoring run, e.g. DIR/probs_train.npy (required)")
	scorePath := fs.String("scores", "", "float32 scores of the same n samples, e.g. DIR/scores_du.npy (required)")
	groups := fs.Int("groups", 5, "number of score groups of equal size")
	if err := parseFlags(fs, "trajectories", args, stdout); err != nil {
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
	selectFlags(fs, &pc)
	scorePath := fs.String("scores", "", "float32 scores of all N samples (required)")
	spec := fs.String("data", "", "the dataset, for its labels (needed by --class-balanced and the per-class counts)")
	from := fs.Int("prunable-from", 0, "only samples from this index on may be pruned (the synthetic pool after the real set)")
	out := fs.String("out", "", "the kept indices, int64 .npy, ascending (required); per-class counts go to the same name with .json")
	rule := fs.String("rule", "top", "selection rule: top, keep-low, stratified, drop-tail, random, random-replace (see prune-pipeline --select)")
	confPath := fs.String("confidence", "", "float32 confidence (mean true-class probability) of all N samples: stratified and drop-tail cut its lowest first")
	seed := fs.Uint64("seed", 0, "seed of the random draws (random, random-replace, stratified, drop-tail)")
	if err := parseFlags(fs, "select", args, stdout); err != nil {
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

// runPrunePipeline implements `bulwark prune-pipeline`.
func runPrunePipeline(args []string, stdout io.Writer) (err error) {
	tc := defaultTrainConfig()
	tc.Adv = "pgd"
	pc := pipeline.DefaultConfig()
	var quiet bool
	var only intList
	var finished bool
	fs := flag.NewFlagSet("prune-pipeline", flag.ContinueOnError)
	trainFlags(fs, &tc)
	scoreFlags(fs, &pc)
	knnFlags(fs, &pc)
	selectFlags(fs, &pc)
	fs.IntVar(&pc.PoolSize, "pool", pc.PoolSize, "use a random subset of this many training samples as the pool (0 = all)")
	fs.StringVar(&pc.Base, "base", pc.Base, "the seed paper's setting: a real set (dataset spec) never pruned, mixed into every batch "+
		"(--synthetic-frac from the pool) and scored whole; --data is then the pool, e.g. synth:fashion-mnist[balanced:2000]:20000")
	fs.BoolVar(&pc.BaseOnly, "base-only", pc.BaseOnly, "also train on the --base set alone, at the same step budget")
	fs.IntVar(&pc.ScoreEpochs, "score-epochs", pc.ScoreEpochs, "epochs of the scoring run (more than --window); 0 takes the steps of six passes over base and pool")
	fs.BoolVar(&pc.Normalize, "normalize", pc.Normalize, "L2-normalize the embeddings")
	fs.Var((*stringList)(&pc.Embed), "embed", "embeddings, comma-separated, of "+strings.Join(pipeline.Embeddings, ", ")+
		": the first is extrapolated in, all are measured")
	fs.BoolVar(&pc.PickEmbed, "pick-embed", pc.PickEmbed, "extrapolate in the --embed embedding of best held-out quality (the first score's Spearman), not the first")
	fs.IntVar(&pc.PCADim, "pca-dim", pc.PCADim, "dimensions of the pixels embedding")
	fs.IntVar(&pc.CleanEpochs, "clean-epochs", pc.CleanEpochs, "epochs of the clean embedding's model (standard training on the base set)")
	fs.Var((*stringList)(&pc.Select), "select", "selection rules, comma-separated: top (keep the highest scores), keep-low, "+
		"stratified (CCS), drop-tail, random-replace; random without replacement always runs")
	fs.StringVar(&pc.EvalModel, "eval-model", pc.EvalModel, "weights evaluated: best (validation-robust checkpoint; EMA with --ema) or last")
	fs.Float64Var(&pc.HoldOut, "hold-out", pc.HoldOut, "share of the seed held out to measure the extrapolation's quality")
	fs.IntVar(&pc.Seeds, "seeds", pc.Seeds, "repetitions, with seeds --seed, --seed+1, ...")
	fs.Var(&only, "only-seeds", "run only these comma-separated repetitions (0-based) and no report: "+
		"to split the seeds over processes or machines sharing --out; run again without it for the report")
	fs.BoolVar(&finished, "finished", false, "run nothing: write the report of the repetitions in --out that have finished")
	fs.BoolVar(&pc.Full, "full", pc.Full, "also train on the whole pool, at the same step budget")
	fs.Var((*fileMap)(&pc.TrueScores), "true-scores", "SCORE=FILE,...: also prune by these scores of every pool sample "+
		"from a full-set run (bulwark score --seed-frac 1); may be added to a finished run")
	fs.IntVar(&pc.EvalN, "eval-n", pc.EvalN, "test samples attacked in the evaluation (0 = all)")
	fs.IntVar(&pc.EvalSteps, "eval-steps", pc.EvalSteps, "PGD steps of the evaluation")
	fs.IntVar(&pc.APGDSteps, "apgd-steps", pc.APGDSteps, "APGD-CE and APGD-DLR steps of the evaluation (0 = no APGD)")
	fs.BoolVar(&quiet, "quiet", false, "no progress bars")
	if err := parseFlags(fs, "prune-pipeline", args, stdout); err != nil {
		return err
	}
	names := mergeNames(flagNames(fs, &tc), flagNames(fs, &pc), map[string]string{"OnlySeeds": "--only-seeds", "Finished": "--finished"})
	defer func() { err = renderFieldErrors(err, names) }()
	switch {
	case tc.Synthetic != "":
		return errors.New("prune-pipeline: --synthetic: not supported; give the pool as --data")
	case tc.Record != "" || tc.RecordAll || tc.RecordAdv || tc.RecordTrain:
		return errors.New("prune-pipeline: --record flags: the pipeline records the seed subset itself (see --trajectory)")
	}
	pc.Data, pc.Out, pc.Train = tc.Data, tc.Out, tc
	if tc.Threads > 0 {
		defer kernels.SetThreads(kernels.SetThreads(tc.Threads))
	}
	fmt.Fprintf(stdout, "bulwark prune-pipeline: %s, seed %g%%, scores %s, prune %v, %d seed(s), %d threads, run directory %s\n",
		pc.Data, 100*pc.SeedFrac, strings.Join(pc.Scores, ","), pc.Prune, pc.Seeds, kernels.Threads(), pc.Out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	rep, err := pipeline.Run(ctx, pc, pipeline.Options{Stdout: stdout, Progress: progress(quiet), OnlySeeds: only, Finished: finished})
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("prune-pipeline: interrupted; run the same command again to continue from the finished stages")
	}
	if err != nil {
		return fmt.Errorf("prune-pipeline: %w", err)
	}
	if only != nil {
		fmt.Fprintf(stdout, "repetition(s) %v done in %.0fs; run again without --only-seeds to write the report of all %d\n",
			[]int(only), time.Since(start).Seconds(), pc.Seeds)
		return nil
	}
	fmt.Fprintln(stdout)
	rep.Table(stdout)
	fmt.Fprintf(stdout, "\nwrote %s (report.md, report.json, plots) in %.0fs\n", pc.Out, time.Since(start).Seconds())
	return nil
}

// openData opens the dataset spec of --flag; closeAll releases both of
// its splits.
func openData(flag, spec string) (train, test data.Dataset, closeAll func(), err error) {
	train, test, err = data.Open(spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return train, test, func() {
		data.Close(train)
		if test != nil {
			data.Close(test)
		}
	}, nil
}

// progress returns where progress bars go: stderr if it is a terminal
// and quiet is off.
func progress(quiet bool) io.Writer {
	if quiet || !stderrIsTerminal() {
		return nil
	}
	return progressOut
}

// stringList is a flag.Value for a comma-separated list of words.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = nil
	for w := range strings.SplitSeq(s, ",") {
		if w = strings.TrimSpace(strings.ToLower(w)); w != "" {
			*l = append(*l, w)
		}
	}
	return nil
}

// floatList is a flag.Value for a comma-separated list of numbers.
type floatList []float64

func (l *floatList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l *floatList) Set(s string) error {
	*l = nil
	for w := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", w)
		}
		*l = append(*l, v)
	}
	return nil
}

// fileMap is a flag.Value for comma-separated KEY=FILE pairs.
type fileMap map[string]string

func (m *fileMap) String() string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(*m)) {
		s = append(s, k+"="+(*m)[k])
	}
	return strings.Join(s, ",")
}

func (m *fileMap) Set(s string) error {
	*m = fileMap{}
	for w := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(w), "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("%q: want SCORE=FILE", w)
		}
		(*m)[strings.ToLower(k)] = v
	}
	return nil
}
