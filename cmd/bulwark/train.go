package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/train"
	"golang.org/x/term"
)

// progressOut is where the training progress bar goes when it is on;
// tests replace it.
var progressOut io.Writer = os.Stderr

// stderrIsTerminal reports whether progress bars are wanted by default.
var stderrIsTerminal = func() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// runTrain implements `bulwark train`.
func runTrain(args []string, stdout io.Writer) error {
	cfg := cliflags.DefaultTrainConfig()
	var resume, quiet bool
	var workers int
	var rf recordFlags
	newFlags := func() *flag.FlagSet {
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		cliflags.Train(fs, &cfg)
		bindRecordFlags(fs, &cfg.Recording)
		fs.BoolVar(&resume, "resume", false, "continue the run in --out from its checkpoint; settings come from the checkpoint")
		fs.BoolVar(&quiet, "quiet", false, "no progress bar (it is also off when stderr is not a terminal)")
		fs.IntVar(&workers, "workers", 0, "goroutines decoding batches (0 = default)")
		return fs
	}
	fs := newFlags()
	names := cliflags.FlagNames(fs, &cfg)
	names["Resume"] = "--resume"
	if err := cliflags.Parse(fs, "bulwark", "train", args, stdout); err != nil {
		return err
	}
	if resume {
		// Settings come from the checkpoint; flags given again override
		// them (and the trainer rejects any that change the run).
		if cfg.Out == "" {
			return errors.New("train: --resume needs --out, the run directory")
		}
		stored, err := train.ReadConfig(cfg.Out)
		if err != nil {
			return fmt.Errorf("train: --resume: %w", err)
		}
		cfg = stored
		if err := cliflags.Parse(newFlags(), "bulwark", "train", args, stdout); err != nil {
			return err
		}
	}
	if cfg.Data == "" {
		return errors.New("train: --data is missing; want one of: " + data.Specs)
	}
	if cfg.Out == "" {
		return errors.New("train: --out is missing: name the run directory, e.g. runs/NAME")
	}
	// Config takes 0 for these as "the default"; on the command line the
	// default is shown, so an explicit 0 is a mistake.
	if cfg.Synthetic != "" && cfg.SyntheticFrac == 0 {
		return errors.New("train: --synthetic-frac: 0, want a share in (0, 1); omit --synthetic to train on --data alone")
	}
	if cfg.Adv == "trades" && cfg.Beta == 0 {
		return errors.New("train: --beta: 0, want β > 0 for TRADES")
	}
	if workers < 0 {
		return fmt.Errorf("train: --workers: %d, want at least 0", workers)
	}
	rf.Recording = cfg.Recording
	if resume {
		rf.resumed(cfg.Out)
	}
	if err := rf.check(cfg); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	opts := train.Options{Stdout: stdout, Resume: resume, Workers: workers}
	if !quiet && stderrIsTerminal() {
		opts.Progress = progressOut
	}
	rec := rf.hooks(&opts)
	t, err := train.New(cfg, opts)
	if err != nil {
		return fmt.Errorf("train: %w", cliflags.RenderFieldErrors(err, names))
	}
	defer t.Close()
	if err := rf.start(rec, t, cfg, workers); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(stdout, "bulwark train: %s (%d parameters) on %s, %d threads, run directory %s",
		cfg.Arch, nn.NumParams(t.Model()), cfg.Data, kernels.Threads(), cfg.Out)
	if cfg.Adv != "" && cfg.Adv != "none" {
		fmt.Fprintf(stdout, ", adversarial training %s %s ε=%.4g", cfg.Adv, cfg.Norm, cfg.Eps)
	}
	if resume {
		fmt.Fprintf(stdout, ", resuming after epoch %d", t.Epoch())
	}
	fmt.Fprintln(stdout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := t.Run(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("train: interrupted after epoch %d; continue with: bulwark train --resume --out %s", t.Epoch(), cfg.Out)
		}
		return fmt.Errorf("train: %w", cliflags.RenderFieldErrors(err, names))
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(cfg.Out, train.ModelFile))
	return t.Close()
}
