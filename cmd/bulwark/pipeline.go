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

	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/pipeline"
)

// runPrunePipeline implements `bulwark prune-pipeline`.
func runPrunePipeline(args []string, stdout io.Writer) (err error) {
	tc := cliflags.DefaultTrainConfig()
	tc.Adv = "pgd"
	pc := pipeline.DefaultConfig()
	var quiet bool
	var only cliflags.IntList
	var finished bool
	fs := flag.NewFlagSet("prune-pipeline", flag.ContinueOnError)
	cliflags.Pipeline(fs, &tc, &pc, &only, &finished, &quiet)
	if err := cliflags.Parse(fs, "bulwark", "prune-pipeline", args, stdout); err != nil {
		return err
	}
	names := cliflags.MergeNames(cliflags.FlagNames(fs, &tc), cliflags.FlagNames(fs, &pc), map[string]string{"OnlySeeds": "--only-seeds", "Finished": "--finished"})
	defer func() { err = cliflags.RenderFieldErrors(err, names) }()
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
