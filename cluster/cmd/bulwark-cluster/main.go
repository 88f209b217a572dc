// Command bulwark-cluster runs bulwark's expensive stages as Apache Beam
// pipelines: on the embedded prism runner (the default) on one machine,
// or on Flink, Spark or Dataflow. Each pipeline takes the flags of its
// single-process bulwark command, plus the runner's, and writes what
// that command writes. See docs/cluster.md.
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
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/bulwark-ml/bulwark/cluster"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/train"
)

// command is one pipeline.
type command struct {
	summary, like string // like: the bulwark command whose flags it takes
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"grid":        {"the prune-pipeline experiment: per repetition a preparation job, then a job per arm, then the report", "prune-pipeline", runGrid},
	"embed":       {"embed every sample, sharded by index ranges", "embed", runEmbed},
	"extrapolate": {"extrapolate seed scores to every sample by exact kNN, sharded over the queries", "extrapolate", runExtrapolate},
	"evaluate":    {"robust evaluation under FGSM, PGD and APGD, sharded over the test set", "attack", runEvaluate},
}

func main() {
	// A runner's container boot starts this binary as a worker: then
	// Beam's flags are the command line and beam.Init runs the harness.
	if slices.ContainsFunc(os.Args[1:], func(a string) bool {
		name := strings.TrimLeft(a, "-")
		return name == "worker" || strings.HasPrefix(name, "worker=")
	}) {
		flag.Parse()
		beam.Init()
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bulwark-cluster:", err)
		os.Exit(2)
	}
}

// run dispatches args to a pipeline.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return cliflags.Dispatch(commands, args, stdout, stderr, usage, func(cmd command, args []string) error {
		return cmd.run(ctx, args, stdout)
	})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: bulwark-cluster <pipeline> [flags]\n\npipelines:")
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(w, "  %-12s %s (the flags of bulwark %s)\n", n, commands[n].summary, commands[n].like)
	}
	fmt.Fprintln(w, "\nEach takes the runner's flags too: --runner (prism, the default; flink, spark, dataflow, universal),\n"+
		"--endpoint, --environment_type, --environment_config, ... Run 'bulwark-cluster <pipeline> -h' for all.")
}

// beamFlags are Beam's own flags (the runner's, the job's, the cloud's),
// registered on the global flag set by its packages: each pipeline's
// flag set takes them too, so that one command line sets both.
func addBeamFlags(fs *flag.FlagSet) {
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil && !strings.HasPrefix(f.Name, "test.") {
			fs.Var(f.Value, f.Name, "beam: "+f.Usage)
		}
	})
}

// parse parses args into fs (with Beam's flags added) and then
// initializes Beam; errors name the flag as --name and the pipeline.
func parse(fs *flag.FlagSet, cmd string, args []string, stdout io.Writer) error {
	addBeamFlags(fs)
	if err := cliflags.Parse(fs, "bulwark-cluster", cmd, args, stdout); err != nil {
		return err
	}
	if !beam.Initialized() {
		beam.Init()
	}
	return nil
}

func runEmbed(ctx context.Context, args []string, stdout io.Writer) error {
	var j cluster.EmbedJob
	var fault string
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	modelFlags(fs, &j.Model, "train")
	fs.BoolVar(&j.Normalize, "normalize", false, "scale every embedding to unit L2 norm")
	fs.StringVar(&j.Out, "out", "", "the embeddings, a float32 N×d .npy (required; local, gs:// or s3://)")
	fs.Bool("quiet", false, "no progress bar (a cluster job has none anyway)")
	runFlags(fs, &j.Run, &j.ShardSize, 16384, &fault)
	if err := parse(fs, "embed", args, stdout); err != nil {
		return err
	}
	if err := j.Run.ParseFault(fault); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	return cluster.Embed(ctx, j, stdout)
}

func runExtrapolate(ctx context.Context, args []string, stdout io.Writer) error {
	pc := pipeline.DefaultConfig()
	var j cluster.ExtrapolateJob
	var fault string
	fs := flag.NewFlagSet("extrapolate", flag.ContinueOnError)
	cliflags.KNN(fs, &pc)
	fs.StringVar(&j.Embeddings, "embeddings", "", "float32 N×d embeddings of every sample (required)")
	fs.StringVar(&j.Indices, "indices", "", "int64 indices of the scored samples, ascending (required)")
	fs.StringVar(&j.Scores, "scores", "", "float32 scores of the samples in --indices, in that order (required)")
	fs.StringVar(&j.True, "true", "", "optional float32 scores of all N samples from another run: report the extrapolation's quality on the unscored ones (on the launcher)")
	fs.StringVar(&j.Data, "data", "", "the dataset, for the class-mean baseline of --true")
	fs.StringVar(&j.Quality, "quality", "", "with --true, also write the quality report as JSON to this file")
	fs.StringVar(&j.Out, "out", "", "the scores of all N samples, float32 .npy (required)")
	runFlags(fs, &j.Run, &j.ShardSize, 65536, &fault)
	if err := parse(fs, "extrapolate", args, stdout); err != nil {
		return err
	}
	if err := j.Run.ParseFault(fault); err != nil {
		return fmt.Errorf("extrapolate: %w", err)
	}
	j.K, j.Metric, j.Weighted = pc.K, pc.Metric, pc.Weighted
	return cluster.Extrapolate(ctx, j, stdout)
}

func runEvaluate(ctx context.Context, args []string, stdout io.Writer) error {
	var j cluster.EvaluateJob
	var fault string
	var eps, alpha cliflags.Fraction
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	modelFlags(fs, &j.Model, "test")
	fs.StringVar(&j.Attack, "attack", "pgd", "comma-separated attacks: "+strings.Join(cluster.AttackNames, ", ")+", or all (autoattack is not sharded)")
	fs.StringVar(&j.Version, "version", "", "with --attack autoattack (not sharded)")
	fs.StringVar(&j.Attacks, "attacks", "", "with --attack autoattack (not sharded)")
	fs.StringVar(&j.Norm, "norm", "linf", "threat model: linf or l2")
	fs.Var(&eps, "eps", "radius of the ε-ball, e.g. 8/255 or 0.3 (required)")
	fs.Var(&alpha, "step-size", "PGD step size, e.g. 2/255 (0 = 2.5·ε/steps)")
	fs.IntVar(&j.Steps, "steps", 0, "iterations (0 = 20 for pgd, 100 for apgd)")
	fs.IntVar(&j.Restarts, "restarts", 1, "random restarts of pgd and apgd (per sample, the worst is kept)")
	fs.IntVar(&j.N, "n", 0, "attack the first N samples (0 = all)")
	fs.Uint64Var(&j.Seed, "seed", 0, "seed of the random starts (each shard's attacks start their generator from it)")
	fs.StringVar(&j.SaveAdv, "save-adv", "", "write the worst-case adversarial inputs as float32 N×C×H×W .npy")
	runFlags(fs, &j.Run, &j.ShardSize, 1024, &fault)
	if err := parse(fs, "evaluate", args, stdout); err != nil {
		return err
	}
	if err := j.Run.ParseFault(fault); err != nil {
		return fmt.Errorf("attack: %w", err)
	}
	j.Eps, j.Alpha = float64(eps), float64(alpha)
	return cluster.Evaluate(ctx, j, stdout)
}

func runGrid(ctx context.Context, args []string, stdout io.Writer) error {
	tc := cliflags.DefaultTrainConfig()
	tc.Adv = "pgd"
	pc := pipeline.DefaultConfig()
	var j cluster.GridJob
	var only cliflags.IntList
	var quiet bool
	var fault string
	fs := flag.NewFlagSet("grid", flag.ContinueOnError)
	pipelineFlags(fs, &tc, &pc, &only, &j.Finished, &quiet)
	runFlags(fs, &j.Run, nil, 0, &fault)
	if err := parse(fs, "grid", args, stdout); err != nil {
		return err
	}
	names := map[string]string{"OnlySeeds": "--only-seeds", "Finished": "--finished"}
	flagNames(fs, &tc, names)
	flagNames(fs, &pc, names)
	if err := j.Run.ParseFault(fault); err != nil {
		return fmt.Errorf("grid: %w", err)
	}
	if tc.Synthetic != "" {
		return errors.New("grid: --synthetic: not supported; give the pool as --data")
	}
	if only != nil && j.Finished {
		return errors.New("grid: --only-seeds runs repetitions and --finished runs none: give one of them")
	}
	j.OnlySeeds = only
	pc.Data, pc.Out, pc.Train = tc.Data, tc.Out, tc
	if err := cluster.Grid(ctx, pc, j, stdout); err != nil {
		return fmt.Errorf("grid: %w", renderFieldError(err, names))
	}
	return nil
}

// errorsAs is errors.As, named so flags.go reads plainly.
func errorsAs(err error, target **train.FieldError) bool { return errors.As(err, target) }
