package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/pipeline"
)

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
	}
	pc.Data, pc.Out, pc.Train = tc.Data, tc.Out, tc
	defer useThreads(tc.Threads)()
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
