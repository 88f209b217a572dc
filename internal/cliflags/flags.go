package cliflags

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/train"
)

// Parse parses args into fs, turning the flag package's errors into one
// line that names the flag (as --name) and the command cmd of program
// prog; -h prints the usage and the flags to stdout and returns
// flag.ErrHelp.
func Parse(fs *flag.FlagSet, prog, cmd string, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: %s %s [flags]\n\nflags:\n", prog, cmd)
		fs.PrintDefaults()
		return err
	case err != nil:
		msg := strings.Replace(err.Error(), "flag -", "flag --", 1)
		msg = strings.Replace(msg, "defined: -", "defined: --", 1)
		return fmt.Errorf("%s: %s (see '%s %s -h')", cmd, msg, prog, cmd)
	case fs.NArg() > 0:
		return fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	return nil
}

// SetUsage replaces the help of the flags of fs named in usage.
func SetUsage(fs *flag.FlagSet, usage map[string]string) {
	for name, u := range usage {
		fs.Lookup(name).Usage = u
	}
}

// Model holds the flags that name a model, the data it runs on and how
// (--batch, --threads).
type Model struct {
	Weights, Arch, Data, Split string
	Width                      float64
	Batch, Threads             int
}

// Bind defines the flags on fs; split is the default --split.
func (m *Model) Bind(fs *flag.FlagSet, split string) {
	fs.StringVar(&m.Weights, "weights", "", "model weights (.safetensors): a bulwark model or checkpoint, or a PyTorch state dict with torchvision names")
	fs.StringVar(&m.Arch, "arch", "", "architecture: "+strings.Join(nn.Archs(), ", ")+" (default: the one recorded in --weights)")
	fs.StringVar(&m.Data, "data", "", "dataset: "+data.Specs+"; its test split is used when it has one")
	fs.StringVar(&m.Split, "split", split, "which split of mnist, fashion-mnist and cifar specs: test or train")
	fs.Float64Var(&m.Width, "width", 0, "channel-width multiplier (default: recorded in --weights, else 1)")
	fs.IntVar(&m.Batch, "batch", 256, "batch size")
	fs.IntVar(&m.Threads, "threads", 0, "kernel threads (0 = GOMAXPROCS)")
}

// Train binds the flags of `bulwark train` to cfg, with cfg's values as
// defaults.
func Train(fs *flag.FlagSet, cfg *train.Config) {
	fs.StringVar(&cfg.Data, "data", cfg.Data, "dataset: "+data.Specs)
	fs.StringVar(&cfg.Arch, "arch", cfg.Arch, "architecture: "+strings.Join(nn.Archs(), ", "))
	fs.Float64Var(&cfg.Width, "width", cfg.Width, "channel-width multiplier")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "number of epochs")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar((*string)(&cfg.Schedule), "schedule", string(cfg.Schedule), "learning-rate schedule: "+Join(train.Schedules))
	fs.Float64Var(&cfg.Warmup, "warmup", cfg.Warmup, "epochs of linear warm-up (onecycle: the rising phase, default 30%)")
	fs.Var((*IntList)(&cfg.Milestones), "milestones", "multistep: comma-separated epochs at which the rate is multiplied by --gamma (default 50%,75% of --epochs)")
	fs.Float64Var(&cfg.Gamma, "gamma", cfg.Gamma, "multistep: factor applied at each milestone")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	fs.BoolVar(&cfg.Nesterov, "nesterov", cfg.Nesterov, "use Nesterov momentum")
	fs.Float64Var(&cfg.WeightDecay, "wd", cfg.WeightDecay, "weight decay")
	fs.BoolVar(&cfg.DecayAll, "decay-all", cfg.DecayAll, "apply weight decay to biases and BatchNorm parameters too")
	fs.Float64Var(&cfg.LabelSmoothing, "label-smoothing", cfg.LabelSmoothing, "label smoothing ε in [0, 1)")
	fs.Float64Var(&cfg.EMA, "ema", cfg.EMA, "decay of the exponential moving average of the weights (0 = off), e.g. 0.999")
	fs.BoolVar(&cfg.Augment, "augment", cfg.Augment, "random crop (padding side/8) and horizontal flip")
	fs.StringVar((*string)(&cfg.Adv), "adv", string(cfg.Adv), "adversarial training: "+Join(train.AdvModes))
	fs.Var((*Fraction)(&cfg.Eps), "eps", "radius of the threat model's ε-ball, e.g. 0.3 or 8/255 (needed by --adv and --record-adv)")
	fs.Var(&cfg.Norm, "norm", "threat model: linf or l2")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "steps of the inner attack (pgd, trades; fgsm-rs takes 1)")
	fs.Var((*Fraction)(&cfg.StepSize), "step-size", "step of the inner attack, e.g. 0.01 or 2/255 (0 = ε/4; fgsm-rs: 1.25ε)")
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

// DefaultTrainConfig is what `bulwark train` does without flags.
func DefaultTrainConfig() train.Config {
	return train.Config{Arch: "resnet20", Width: 1, Epochs: 10, BatchSize: 128, LR: 0.1, Schedule: "cosine",
		Momentum: 0.9, WeightDecay: 5e-4,
		Adv: train.AdvNone, Norm: attack.LInf, Steps: 10, Beta: 6, AdvBN: attack.BNEval, SyntheticFrac: 0.8, ValSize: 1000, ValSteps: 10}
}

// Score binds the flags of the scoring stage shared by `bulwark score`
// and `bulwark prune-pipeline`.
func Score(fs *flag.FlagSet, c *pipeline.Config) {
	fs.Float64Var(&c.SeedFrac, "seed-frac", c.SeedFrac, "share of the pool in the seed subset that is scored (bulwark score: 1 scores every sample)")
	fs.Var((*StringList)(&c.Scores), "score", "importance scores, comma-separated: "+strings.Join(pipeline.Methods, ", "))
	fs.StringVar(&c.Trajectory, "trajectory", c.Trajectory, "probability trajectories: adv (PGD-10 inputs, eval mode), clean, or train (the training pass itself, no extra cost)")
	fs.IntVar(&c.Window, "window", c.Window, "Dynamic Uncertainty window J")
	fs.BoolVar(&c.TruncateBest, "truncate-best", c.TruncateBest, "score from the epochs up to the scoring run's best validation-robust epoch")
}

// KNN binds the extrapolation's flags.
func KNN(fs *flag.FlagSet, c *pipeline.Config) {
	fs.IntVar(&c.K, "k", c.K, "neighbours of the kNN extrapolation")
	fs.StringVar(&c.Metric, "metric", c.Metric, "distance: euclidean or cosine")
	fs.BoolVar(&c.Weighted, "weighted", c.Weighted, "weight the neighbours' scores by exp(−distance) instead of a plain mean")
}

// Select binds the selection's flags.
func Select(fs *flag.FlagSet, c *pipeline.Config) {
	fs.Var((*FloatList)(&c.Prune), "prune", "fraction of the pool removed (the lowest scores); the pipeline takes a comma-separated list")
	fs.BoolVar(&c.ClassBalanced, "class-balanced", c.ClassBalanced, "remove the fraction from every class")
	fs.BoolVar(&c.KeepLow, "keep-low", c.KeepLow, "ablation: keep the lowest scores instead")
	fs.Float64Var(&c.Beta, "ccs-beta", c.Beta, "stratified: share of the pool dropped first as hardest by confidence"+
		map[bool]string{true: " (negative: CCS's schedule, 0 up to 70% pruning, 0.1 to 85%, then 0.3)", false: ""}[c.Beta < 0])
	fs.Float64Var(&c.Tail, "tail", c.Tail, "drop-tail: share of the pool dropped first as lowest-confidence")
	fs.IntVar(&c.Strata, "strata", c.Strata, "stratified: equal-width score strata")
}

// Pipeline binds the flags of `bulwark prune-pipeline`: those of Train,
// Score, KNN and Select and the pipeline's own.
func Pipeline(fs *flag.FlagSet, tc *train.Config, pc *pipeline.Config, only *IntList, finished, quiet *bool) {
	Train(fs, tc)
	Score(fs, pc)
	KNN(fs, pc)
	Select(fs, pc)
	fs.IntVar(&pc.PoolSize, "pool", pc.PoolSize, "use a random subset of this many training samples as the pool (0 = all)")
	fs.StringVar(&pc.Base, "base", pc.Base, "the seed paper's setting: a real set (dataset spec) never pruned, mixed into every batch "+
		"(--synthetic-frac from the pool) and scored whole; --data is then the pool, e.g. synth:fashion-mnist[balanced:2000]:20000")
	fs.BoolVar(&pc.BaseOnly, "base-only", pc.BaseOnly, "also train on the --base set alone, at the same step budget")
	fs.IntVar(&pc.ScoreEpochs, "score-epochs", pc.ScoreEpochs, "epochs of the scoring run (more than --window); 0 takes the steps of six passes over base and pool")
	fs.BoolVar(&pc.Normalize, "normalize", pc.Normalize, "L2-normalize the embeddings")
	fs.Var((*StringList)(&pc.Embed), "embed", "embeddings, comma-separated, of "+strings.Join(pipeline.Embeddings, ", ")+
		": the first is extrapolated in, all are measured")
	fs.BoolVar(&pc.PickEmbed, "pick-embed", pc.PickEmbed, "extrapolate in the --embed embedding of best held-out quality (the first score's Spearman), not the first")
	fs.IntVar(&pc.PCADim, "pca-dim", pc.PCADim, "dimensions of the pixels embedding")
	fs.IntVar(&pc.CleanEpochs, "clean-epochs", pc.CleanEpochs, "epochs of the clean model (standard training on the base set, for the clean embedding and the pool's quality); 0: as many as give it the arms' steps")
	fs.Var((*StringList)(&pc.Select), "select", "selection rules, comma-separated: top (keep the highest scores), keep-low, "+
		"stratified (CCS), drop-tail (the default: it measured best in the seed paper's setting), random-replace; random without replacement always runs")
	fs.StringVar(&pc.EvalModel, "eval-model", pc.EvalModel, "weights evaluated: best (validation-robust checkpoint; EMA with --ema) or last")
	fs.Float64Var(&pc.HoldOut, "hold-out", pc.HoldOut, "share of the seed held out to measure the extrapolation's quality")
	fs.IntVar(&pc.Seeds, "seeds", pc.Seeds, "repetitions, with seeds --seed, --seed+1, ...")
	fs.Var(only, "only-seeds", "run only these comma-separated repetitions (0-based) and no report: "+
		"to split the seeds over processes or machines sharing --out; run again without it for the report")
	fs.BoolVar(finished, "finished", false, "run nothing: write the report of what in --out has finished (whole repetitions, and the evaluated runs of unfinished ones)")
	fs.BoolVar(&pc.Full, "full", pc.Full, "also train on the whole pool, at the same step budget")
	fs.Var((*FileMap)(&pc.TrueScores), "true-scores", "SCORE=FILE,...: also prune by these scores of every pool sample "+
		"from a full-set run (bulwark score --seed-frac 1); may be added to a finished run")
	fs.IntVar(&pc.EvalN, "eval-n", pc.EvalN, "test samples attacked in the evaluation (0 = all)")
	fs.IntVar(&pc.EvalSteps, "eval-steps", pc.EvalSteps, "PGD steps of the evaluation")
	fs.IntVar(&pc.APGDSteps, "apgd-steps", pc.APGDSteps, "APGD-CE and APGD-DLR steps of the evaluation (0 = no APGD)")
	fs.BoolVar(quiet, "quiet", false, "no progress bars")
}

// Check rejects a --batch below 1 and a negative --threads; errors name
// the command cmd.
func (m *Model) Check(cmd string) error {
	switch {
	case m.Batch < 1:
		return fmt.Errorf("%s: --batch: %d, want at least 1", cmd, m.Batch)
	case m.Threads < 0:
		return fmt.Errorf("%s: --threads: %d, want at least 0", cmd, m.Threads)
	}
	return nil
}
