package main

import (
	"flag"
	"fmt"
	"reflect"
	"strings"

	"github.com/bulwark-ml/bulwark/cluster"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/train"
)

// The flags of each pipeline are those of its bulwark command, with the
// same names, defaults and meaning (the tests compare them with bulwark's
// -h output): both bind them with package cliflags.

// modelFlags binds --weights, --arch, --data, --split, --width, --batch
// and --threads, as bulwark embed and attack do; split is the default
// --split.
func modelFlags(fs *flag.FlagSet, m *cluster.Model, split string) {
	(*cliflags.Model)(m).Bind(fs, split)
	cliflags.SetUsage(fs, map[string]string{"threads": "kernel threads of each worker (0 = GOMAXPROCS)"})
}

// pipelineFlags binds the flags of bulwark prune-pipeline, with the help
// of those that mean something else on a cluster rewritten.
func pipelineFlags(fs *flag.FlagSet, tc *train.Config, pc *pipeline.Config, only *cliflags.IntList, finished, quiet *bool) {
	cliflags.Pipeline(fs, tc, pc, only, finished, quiet)
	cliflags.SetUsage(fs, map[string]string{
		"eps":            "radius of the threat model's ε-ball, e.g. 0.3 or 8/255",
		"synthetic":      "not supported by the pipeline; give the pool as --data",
		"synthetic-frac": "share of every batch drawn from the pool when --base is set",
		"subset":         "train on only the training samples listed in this int64 .npy",
		"threads":        "kernel threads of each job (0 = GOMAXPROCS); results are reproducible for a fixed seed and thread count",
		"out":            "run directory (local, gs:// or s3://), e.g. runs/NAME",
		"seed-frac":      "share of the pool in the seed subset that is scored",
		"prune":          "fractions of the pool removed (the lowest scores), comma-separated",
		"base":           "the seed paper's setting: a real set (dataset spec) never pruned, mixed into every batch and scored whole; --data is then the pool",
		"pick-embed":     "extrapolate in the --embed embedding of best held-out quality, not the first",
		"select":         "selection rules, comma-separated: top, keep-low, stratified, drop-tail, random-replace; random without replacement always runs",
		"seeds":          "repetitions, with seeds --seed, --seed+1, ...: one job each",
		"only-seeds":     "run only these comma-separated repetitions (0-based) and no report",
		"true-scores":    "SCORE=FILE,...: also prune by these scores of every pool sample from a full-set run",
		"quiet":          "no progress bars (a cluster job has none anyway)",
	})
}

// runFlags binds the flags every pipeline adds to its command's: where
// the shards go, the shard size, retries and the fault injection.
func runFlags(fs *flag.FlagSet, r *cluster.Run, shardSize *int, defShard int, fault *string) {
	fs.StringVar(&r.Work, "work", "", "directory for the shards' files, on storage every worker shares (default: the output's name + .parts)")
	if shardSize != nil {
		fs.IntVar(shardSize, "shard-size", defShard, "items per shard (rounded up to whole batches or search tiles)")
	}
	fs.IntVar(&r.Attempts, "attempts", 3, "tries of a failing shard or job on its worker before the pipeline fails")
	fs.StringVar(fault, "inject-fault", "", "testing: SHARD[:TIMES] makes the first TIMES (1) attempts at shard SHARD fail (grid: at job SHARD, after its work)")
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
