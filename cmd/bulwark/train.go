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
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
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

// trainFlags binds the flags of `bulwark train` to cfg, with cfg's values
// as defaults.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) {
	fs.StringVar(&cfg.Data, "data", cfg.Data, "dataset: "+data.Specs)
	fs.StringVar(&cfg.Arch, "arch", cfg.Arch, "architecture: "+strings.Join(nn.Archs(), ", "))
	fs.Float64Var(&cfg.Width, "width", cfg.Width, "channel-width multiplier")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "number of epochs")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar((*string)(&cfg.Schedule), "schedule", string(cfg.Schedule), "learning-rate schedule: "+join(train.Schedules))
	fs.Float64Var(&cfg.Warmup, "warmup", cfg.Warmup, "epochs of linear warm-up (onecycle: the rising phase, default 30%)")
	fs.Var((*intList)(&cfg.Milestones), "milestones", "multistep: comma-separated epochs at which the rate is multiplied by --gamma (default 50%,75% of --epochs)")
	fs.Float64Var(&cfg.Gamma, "gamma", cfg.Gamma, "multistep: factor applied at each milestone")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	fs.BoolVar(&cfg.Nesterov, "nesterov", cfg.Nesterov, "use Nesterov momentum")
	fs.Float64Var(&cfg.WeightDecay, "wd", cfg.WeightDecay, "weight decay")
	fs.BoolVar(&cfg.DecayAll, "decay-all", cfg.DecayAll, "apply weight decay to biases and BatchNorm parameters too")
	fs.Float64Var(&cfg.LabelSmoothing, "label-smoothing", cfg.LabelSmoothing, "label smoothing ε in [0, 1)")
	fs.Float64Var(&cfg.EMA, "ema", cfg.EMA, "decay of the exponential moving average of the weights (0 = off), e.g. 0.999")
	fs.BoolVar(&cfg.Augment, "augment", cfg.Augment, "random crop (padding side/8) and horizontal flip")
	fs.StringVar((*string)(&cfg.Adv), "adv", string(cfg.Adv), "adversarial training: "+join(train.AdvModes))
	fs.Var((*fraction)(&cfg.Eps), "eps", "radius of the threat model's ε-ball, e.g. 0.3 or 8/255 (needed by --adv and --record-adv)")
	fs.Var(&cfg.Norm, "norm", "threat model: linf or l2")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "steps of the inner attack (pgd, trades; fgsm-rs takes 1)")
	fs.Var((*fraction)(&cfg.StepSize), "step-size", "step of the inner attack, e.g. 0.01 or 2/255 (0 = ε/4; fgsm-rs: 1.25ε)")
	fs.Float64Var(&cfg.Beta, "beta", cfg.Beta, "TRADES weight β of the KL term")
	fs.Float64Var(&cfg.EpsWarmup, "eps-warmup", cfg.EpsWarmup, "epochs (fractions allowed) over which the training ε grows linearly from 0")
	fs.Var(&cfg.AdvBN, "adv-bn", "BatchNorm mode of the inner attack: eval or train (TRADES uses eval)")
	fs.StringVar(&cfg.Synthetic, "synthetic", cfg.Synthetic, "synthetic pool mixed into every batch, as a dataset spec (e.g. npz:FILE); an epoch is one pass over --data")
	fs.Float64Var(&cfg.SyntheticFrac, "synthetic-frac", cfg.SyntheticFrac, "share of every batch drawn from --synthetic")
	fs.IntVar(&cfg.ValSize, "val-size", cfg.ValSize, "size of the held-out slice of the test set for the per-epoch robust validation")
	fs.IntVar(&cfg.ValSteps, "val-steps", cfg.ValSteps, "PGD steps of the robust validation")
	fs.StringVar(&cfg.Subset, "subset", cfg.Subset, "train on only the training samples listed in this int64 .npy (e.g. bulwark select's kept indices)")
	fs.IntVar(&cfg.EvalEvery, "eval-every", cfg.EvalEvery, "evaluate (test set, robust validation, best checkpoint) every N epochs and after the last")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (initialisation, shuffling, augmentation)")
	fs.IntVar(&cfg.Threads, "threads", cfg.Threads, "kernel threads (0 = GOMAXPROCS); results are reproducible for a fixed seed and thread count")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "run directory for the checkpoint, model and metrics, e.g. runs/NAME")
}

// defaultTrainConfig is what `bulwark train` does without flags.
func defaultTrainConfig() train.Config {
	return train.Config{Arch: "resnet20", Width: 1, Epochs: 10, BatchSize: 128, LR: 0.1, Schedule: "cosine",
		Momentum: 0.9, WeightDecay: 5e-4,
		Adv: train.AdvNone, Norm: attack.LInf, Steps: 10, Beta: 6, AdvBN: attack.BNEval, SyntheticFrac: 0.8, ValSize: 1000, ValSteps: 10}
}

// runTrain implements `bulwark train`.
func runTrain(args []string, stdout io.Writer) error {
	cfg := defaultTrainConfig()
	var resume, quiet bool
	var workers int
	var rf recordFlags
	newFlags := func() *flag.FlagSet {
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		trainFlags(fs, &cfg)
		bindRecordFlags(fs, &cfg.Recording)
		fs.BoolVar(&resume, "resume", false, "continue the run in --out from its checkpoint; settings come from the checkpoint")
		fs.BoolVar(&quiet, "quiet", false, "no progress bar (it is also off when stderr is not a terminal)")
		fs.IntVar(&workers, "workers", 0, "goroutines decoding batches (0 = default)")
		return fs
	}
	fs := newFlags()
	names := flagNames(fs, &cfg)
	names["Resume"] = "--resume"
	if err := parseFlags(fs, "train", args, stdout); err != nil {
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
		if err := parseFlags(newFlags(), "train", args, stdout); err != nil {
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
		return fmt.Errorf("train: %w", renderFieldErrors(err, names))
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
		return fmt.Errorf("train: %w", renderFieldErrors(err, names))
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(cfg.Out, train.ModelFile))
	return t.Close()
}

// join lists values as "a, b, c".
func join[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// parseFlags parses args into fs, turning the flag package's errors into
// one line that names the flag (as --name) and the command.
func parseFlags(fs *flag.FlagSet, cmd string, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: bulwark %s [flags]\n\nflags:\n", cmd)
		fs.PrintDefaults()
		return err
	case err != nil:
		msg := strings.Replace(err.Error(), "flag -", "flag --", 1)
		msg = strings.Replace(msg, "defined: -", "defined: --", 1)
		return fmt.Errorf("%s: %s (see 'bulwark %s -h')", cmd, msg, cmd)
	case fs.NArg() > 0:
		return fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	return nil
}

// intList is a flag.Value for a comma-separated list of integers.
type intList []int

func (l *intList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(s string) error {
	*l = nil
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not an integer", f)
		}
		*l = append(*l, v)
	}
	return nil
}
