package main

import (
	"flag"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/cluster"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/train"
)

// The flags of each pipeline are those of its bulwark command, with the
// same names, defaults and meaning (the tests compare them with bulwark's
// -h output); cmd/bulwark's package main cannot be imported, so they are
// bound here again.

// modelFlags binds --weights, --arch, --data, --split, --width, --batch
// and --threads, as bulwark embed and attack do; split is the default
// --split.
func modelFlags(fs *flag.FlagSet, m *cluster.Model, split string) {
	fs.StringVar(&m.Weights, "weights", "", "model weights (.safetensors): a bulwark model or checkpoint, or a PyTorch state dict with torchvision names")
	fs.StringVar(&m.Arch, "arch", "", "architecture: "+strings.Join(nn.Archs(), ", ")+" (default: the one recorded in --weights)")
	fs.StringVar(&m.Data, "data", "", "dataset: "+data.Specs+"; its test split is used when it has one")
	fs.StringVar(&m.Split, "split", split, "which split of mnist, fashion-mnist and cifar specs: test or train")
	fs.Float64Var(&m.Width, "width", 0, "channel-width multiplier (default: recorded in --weights, else 1)")
	fs.IntVar(&m.Batch, "batch", 256, "batch size")
	fs.IntVar(&m.Threads, "threads", 0, "kernel threads of each worker (0 = GOMAXPROCS)")
}

// knnFlags binds the extrapolation's flags.
func knnFlags(fs *flag.FlagSet, c *pipeline.Config) {
	fs.IntVar(&c.K, "k", c.K, "neighbours of the kNN extrapolation")
	fs.StringVar(&c.Metric, "metric", c.Metric, "distance: euclidean or cosine")
	fs.BoolVar(&c.Weighted, "weighted", c.Weighted, "weight the neighbours' scores by exp(−distance) instead of a plain mean")
}

// trainFlags binds the flags of bulwark train to cfg, with cfg's values
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
	fs.Var((*fraction)(&cfg.Eps), "eps", "radius of the threat model's ε-ball, e.g. 0.3 or 8/255")
	fs.Var(&cfg.Norm, "norm", "threat model: linf or l2")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "steps of the inner attack (pgd, trades; fgsm-rs takes 1)")
	fs.Var((*fraction)(&cfg.StepSize), "step-size", "step of the inner attack, e.g. 0.01 or 2/255 (0 = ε/4; fgsm-rs: 1.25ε)")
	fs.Float64Var(&cfg.Beta, "beta", cfg.Beta, "TRADES weight β of the KL term")
	fs.Float64Var(&cfg.EpsWarmup, "eps-warmup", cfg.EpsWarmup, "epochs (fractions allowed) over which the training ε grows linearly from 0")
	fs.Var(&cfg.AdvBN, "adv-bn", "BatchNorm mode of the inner attack: eval or train (TRADES uses eval)")
	fs.StringVar(&cfg.Synthetic, "synthetic", cfg.Synthetic, "not supported by the pipeline; give the pool as --data")
	fs.Float64Var(&cfg.SyntheticFrac, "synthetic-frac", cfg.SyntheticFrac, "share of every batch drawn from the pool when --base is set")
	fs.IntVar(&cfg.ValSize, "val-size", cfg.ValSize, "size of the held-out slice of the test set for the per-epoch robust validation")
	fs.IntVar(&cfg.ValSteps, "val-steps", cfg.ValSteps, "PGD steps of the robust validation")
	fs.StringVar(&cfg.Subset, "subset", cfg.Subset, "train on only the training samples listed in this int64 .npy")
	fs.IntVar(&cfg.EvalEvery, "eval-every", cfg.EvalEvery, "evaluate (test set, robust validation, best checkpoint) every N epochs and after the last")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (initialisation, shuffling, augmentation)")
	fs.IntVar(&cfg.Threads, "threads", cfg.Threads, "kernel threads of each job (0 = GOMAXPROCS); results are reproducible for a fixed seed and thread count")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "run directory (local, gs:// or s3://), e.g. runs/NAME")
}

// defaultTrainConfig is bulwark train's configuration without flags.
func defaultTrainConfig() train.Config {
	return train.Config{Arch: "resnet20", Width: 1, Epochs: 10, BatchSize: 128, LR: 0.1, Schedule: "cosine",
		Momentum: 0.9, WeightDecay: 5e-4,
		Adv: train.AdvNone, Norm: attack.LInf, Steps: 10, Beta: 6, AdvBN: attack.BNEval, SyntheticFrac: 0.8, ValSize: 1000, ValSteps: 10}
}

// scoreFlags binds the scoring flags.
func scoreFlags(fs *flag.FlagSet, c *pipeline.Config) {
	fs.Float64Var(&c.SeedFrac, "seed-frac", c.SeedFrac, "share of the pool in the seed subset that is scored")
	fs.Var((*stringList)(&c.Scores), "score", "importance scores, comma-separated: "+strings.Join(pipeline.Methods, ", "))
	fs.StringVar(&c.Trajectory, "trajectory", c.Trajectory, "probability trajectories: adv (PGD-10 inputs, eval mode), clean, or train (the training pass itself, no extra cost)")
	fs.IntVar(&c.Window, "window", c.Window, "Dynamic Uncertainty window J")
	fs.BoolVar(&c.TruncateBest, "truncate-best", c.TruncateBest, "score from the epochs up to the scoring run's best validation-robust epoch")
}

// selectFlags binds the selection flags.
func selectFlags(fs *flag.FlagSet, c *pipeline.Config) {
	fs.Var((*floatList)(&c.Prune), "prune", "fractions of the pool removed (the lowest scores), comma-separated")
	fs.BoolVar(&c.ClassBalanced, "class-balanced", c.ClassBalanced, "remove the fraction from every class")
	fs.BoolVar(&c.KeepLow, "keep-low", c.KeepLow, "ablation: keep the lowest scores instead")
	fs.Float64Var(&c.Beta, "ccs-beta", c.Beta, "stratified: share of the pool dropped first as hardest by confidence"+
		map[bool]string{true: " (negative: CCS's schedule, 0 up to 70% pruning, 0.1 to 85%, then 0.3)", false: ""}[c.Beta < 0])
	fs.Float64Var(&c.Tail, "tail", c.Tail, "drop-tail: share of the pool dropped first as lowest-confidence")
	fs.IntVar(&c.Strata, "strata", c.Strata, "stratified: equal-width score strata")
}

// pipelineFlags binds the flags of bulwark prune-pipeline.
func pipelineFlags(fs *flag.FlagSet, tc *train.Config, pc *pipeline.Config, only *intList, finished, quiet *bool) {
	trainFlags(fs, tc)
	scoreFlags(fs, pc)
	knnFlags(fs, pc)
	selectFlags(fs, pc)
	fs.IntVar(&pc.PoolSize, "pool", pc.PoolSize, "use a random subset of this many training samples as the pool (0 = all)")
	fs.StringVar(&pc.Base, "base", pc.Base, "the seed paper's setting: a real set (dataset spec) never pruned, mixed into every batch and scored whole; --data is then the pool")
	fs.BoolVar(&pc.BaseOnly, "base-only", pc.BaseOnly, "also train on the --base set alone, at the same step budget")
	fs.IntVar(&pc.ScoreEpochs, "score-epochs", pc.ScoreEpochs, "epochs of the scoring run (more than --window); 0 takes the steps of six passes over base and pool")
	fs.BoolVar(&pc.Normalize, "normalize", pc.Normalize, "L2-normalize the embeddings")
	fs.Var((*stringList)(&pc.Embed), "embed", "embeddings, comma-separated, of "+strings.Join(pipeline.Embeddings, ", ")+
		": the first is extrapolated in, all are measured")
	fs.BoolVar(&pc.PickEmbed, "pick-embed", pc.PickEmbed, "extrapolate in the --embed embedding of best held-out quality, not the first")
	fs.IntVar(&pc.PCADim, "pca-dim", pc.PCADim, "dimensions of the pixels embedding")
	fs.IntVar(&pc.CleanEpochs, "clean-epochs", pc.CleanEpochs, "epochs of the clean embedding's model (standard training on the base set)")
	fs.Var((*stringList)(&pc.Select), "select", "selection rules, comma-separated: top, keep-low, stratified, drop-tail, random-replace; random without replacement always runs")
	fs.StringVar(&pc.EvalModel, "eval-model", pc.EvalModel, "weights evaluated: best (validation-robust checkpoint; EMA with --ema) or last")
	fs.Float64Var(&pc.HoldOut, "hold-out", pc.HoldOut, "share of the seed held out to measure the extrapolation's quality")
	fs.IntVar(&pc.Seeds, "seeds", pc.Seeds, "repetitions, with seeds --seed, --seed+1, ...: one job each")
	fs.Var(only, "only-seeds", "run only these comma-separated repetitions (0-based) and no report")
	fs.BoolVar(finished, "finished", false, "run nothing: write the report of the repetitions in --out that have finished")
	fs.BoolVar(&pc.Full, "full", pc.Full, "also train on the whole pool, at the same step budget")
	fs.Var((*fileMap)(&pc.TrueScores), "true-scores", "SCORE=FILE,...: also prune by these scores of every pool sample from a full-set run")
	fs.IntVar(&pc.EvalN, "eval-n", pc.EvalN, "test samples attacked in the evaluation (0 = all)")
	fs.IntVar(&pc.EvalSteps, "eval-steps", pc.EvalSteps, "PGD steps of the evaluation")
	fs.IntVar(&pc.APGDSteps, "apgd-steps", pc.APGDSteps, "APGD-CE and APGD-DLR steps of the evaluation (0 = no APGD)")
	fs.BoolVar(quiet, "quiet", false, "no progress bars (a cluster job has none anyway)")
}

// runFlags binds the flags every pipeline adds to its command's: where
// the shards go, the shard size, retries and the fault injection.
func runFlags(fs *flag.FlagSet, r *cluster.Run, shardSize *int, defShard int, fault *string) {
	fs.StringVar(&r.Work, "work", "", "directory for the shards' files, on storage every worker shares (default: the output's name + .parts)")
	if shardSize != nil {
		fs.IntVar(shardSize, "shard-size", defShard, "items per shard (rounded up to whole batches or search tiles)")
	}
	fs.IntVar(&r.Attempts, "attempts", 3, "tries of a failing shard or job on its worker before the pipeline fails")
	fs.StringVar(fault, "inject-fault", "", "testing: SHARD[:TIMES] makes the first TIMES (1) attempts at shard SHARD fail")
}

func join[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
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

// fraction is a flag.Value for a non-negative number written as a
// decimal or a fraction, like 0.3 or 8/255.
type fraction float64

func (f *fraction) String() string {
	if f == nil {
		return "0"
	}
	return strconv.FormatFloat(float64(*f), 'g', -1, 64)
}

func (f *fraction) Set(s string) error {
	num, den, isFrac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && isFrac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			if d == 0 {
				return fmt.Errorf("%q divides by zero", s)
			}
			v /= d
		}
	}
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a non-negative number or fraction like 8/255", s)
	}
	*f = fraction(v)
	return nil
}

// flagNames maps the exported fields of the struct *cfg to the flags of
// fs bound to them (found by address), to render train.FieldErrors in
// terms of flags.
func flagNames(fs *flag.FlagSet, cfg any, names map[string]string) {
	v := reflect.ValueOf(cfg).Elem()
	byAddr := map[uintptr]string{}
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() {
			byAddr[v.Field(i).Addr().Pointer()] = f.Name
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		p := reflect.ValueOf(f.Value)
		if p.Kind() != reflect.Pointer {
			return
		}
		if field, ok := byAddr[p.Pointer()]; ok {
			if _, seen := names[field]; !seen {
				names[field] = "--" + f.Name
			}
		}
	})
}

// renderFieldError rewrites the first train.FieldError inside err with
// flag names.
func renderFieldError(err error, names map[string]string) error {
	var fe *train.FieldError
	if err == nil || !errorsAs(err, &fe) {
		return err
	}
	msg := strings.Replace(err.Error(), fe.Error(), fe.Render(func(f string) string {
		if n, ok := names[f]; ok {
			return n
		}
		return f
	}), 1)
	return fmt.Errorf("%s", msg)
}
