// Command bulwark is the one CLI of the bulwark engine. Each subcommand is a
// stage that reads and writes plain files; `bulwark help` lists them.
package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/bulwark-ml/bulwark/internal/cliflags"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"attack": {"measure robust accuracy under FGSM, PGD and APGD; optionally save the adversarial inputs", runAttack},
	"bench":  {"measure the kernels against gonum and this machine's FMA peak", runBench},
	"train":  {"train a model on a dataset, with checkpoints and --resume", runTrain},
	"eval":   {"evaluate model weights on a dataset; optionally save the logits", runEval},

	"score":          {"adversarially train on a seed subset, recording trajectories, and score its samples", runScore},
	"embed":          {"embed every sample of a dataset with a model's penultimate features", runEmbed},
	"extrapolate":    {"extrapolate seed scores to every sample by k nearest neighbours", runExtrapolate},
	"trajectories":   {"mean probability trajectory of the samples grouped by score: what a score ranks high", runTrajectories},
	"select":         {"keep the highest-scoring samples, dropping a fraction (globally or per class)", runSelect},
	"prune-pipeline": {"the whole pruning experiment: score, embed, extrapolate, select, train, evaluate, report", runPrunePipeline},
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bulwark:", err)
		os.Exit(2)
	}
}

// run dispatches args to a subcommand.
func run(args []string, stdout, stderr io.Writer) error {
	return cliflags.Dispatch(commands, args, stdout, stderr, usage, func(cmd command, args []string) error {
		return cmd.run(args, stdout)
	})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: bulwark <command> [flags]\n\ncommands:")
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(w, "  %-15s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'bulwark <command> -h' for a command's flags.")
}
