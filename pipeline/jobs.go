package pipeline

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// The experiment as jobs that separate processes or machines can run
// against one run directory (bulwark-cluster grid does): per repetition,
// Prepare, then one RunArm per ArmJobs entry, all of them at once if
// there are workers for them; then Run finds every stage finished and
// assembles the report. Each job writes only its own files: Prepare the
// seed directory's stages.json and the preparation's files, an arm job
// its training run, its eval_NAME.json and its own stage file, which the
// report merges into stages.json. The run directory ends up as Run alone
// leaves it.

// ArmJob is one training run of a repetition and its evaluation: an arm
// at a prune ratio, or a reference (the full pool, the base set alone).
type ArmJob struct {
	Name string // the run's name: "du_p0.5", "random_p0.25", "full", "base"
	// AfterPrepare is whether the job needs its repetition's preparation
	// (Prepare): every arm reads its kept set, and without a base set the
	// full-pool run takes its steps from the first arm's. The references
	// in the seed paper's setting (Config.Base) need nothing of it.
	AfterPrepare bool
}

// ArmJobs lists the arm jobs of every repetition of c in the order Run
// runs them: the references, then the arms by prune ratio.
func ArmJobs(c Config) []ArmJob {
	names := c.runNames()
	isRef := func(name string) bool { return name == fullRun || name == baseRun }
	refs := slices.DeleteFunc(slices.Clone(names), func(name string) bool { return !isRef(name) })
	var out []ArmJob
	for _, name := range append(refs, slices.DeleteFunc(names, isRef)...) {
		out = append(out, ArmJob{Name: name, AfterPrepare: !isRef(name) || c.Base == ""})
	}
	return out
}

// keptInputs lists the runs whose kept sets arm job name reads.
func (c *Config) keptInputs(name string) []string {
	switch {
	case name == baseRun || name == fullRun && c.Base != "":
		return nil
	case name == fullRun:
		return []string{c.firstArm()}
	}
	return []string{name}
}

// armJob checks that name is an arm job of c.
func (c *Config) armJob(name string) error {
	for _, j := range ArmJobs(*c) {
		if j.Name == name {
			return nil
		}
	}
	return fmt.Errorf("%s: no such arm job; the arm jobs are %v", name, c.runNames())
}

// Prepare runs the preparation of repetition rep (0 ≤ rep < c.Seeds):
// the seed draw, the scoring run, the scores, the embeddings, the
// extrapolation and the kept sets of every arm at every ratio, each
// stage skipped when its result is in c.Out (as Run skips it). It claims
// the run directory as Run does (Claim); preparations of several
// repetitions may run at once once it is claimed.
func Prepare(ctx context.Context, c Config, o Options, rep int) error {
	if err := c.Check(); err != nil {
		return err
	}
	if err := checkRepetition(c, rep); err != nil {
		return err
	}
	r, err := open(c, o, claimDir)
	if err != nil {
		return err
	}
	defer r.close()
	p, err := r.begin(c.Train.Seed + uint64(rep))
	if err != nil {
		return err
	}
	return r.prepare(ctx, p)
}

// RunArm runs arm job name (one of ArmJobs) of repetition rep: its
// training, resumed if it was cut short, and its evaluation; a finished
// job is left as it is, its files untouched. Unless the job's
// AfterPrepare is false, Prepare must have finished the repetition. The
// arm jobs of a repetition may run at once, in separate processes or in
// one: each writes its own training run, eval_NAME.json and stage file.
// Jobs sharing a process must share Config.Train.Threads and set it
// beforehand (kernels.SetThreads), since a training restores the count
// it found. c must be recorded in c.Out (Claim, Prepare); RunArm never
// writes config.json. It returns the run's report.
func RunArm(ctx context.Context, c Config, o Options, rep int, name string) (*RunReport, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if err := checkRepetition(c, rep); err != nil {
		return nil, err
	}
	if err := c.armJob(name); err != nil {
		return nil, err
	}
	r, err := open(c, o, claimedDir)
	if err != nil {
		return nil, err
	}
	defer r.close()
	s := c.Train.Seed + uint64(rep)
	dir := seedDir(c.Out, s)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	all := map[string][]int{}
	for _, k := range c.keptInputs(name) {
		file := filepath.Join(dir, keptFile(k))
		if !exists(file) {
			return nil, fmt.Errorf("%s: %s: missing; prepare repetition %d first", name, file, rep)
		}
		if all[k], err = ReadKept(file, r.pool.Len()); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	st, err := armStages(dir, name)
	if err != nil {
		return nil, err
	}
	return r.trainAndEval(ctx, st, dir, name, s, all)
}

// PrepareFiles lists what the preparation of repetition rep reads or
// writes in the run directory, as ArmFiles does: config.json and the
// seed directory.
func PrepareFiles(c Config, rep int) []string {
	return []string{ConfigFile, seedName(c.Train.Seed+uint64(rep)) + "/"}
}

// ArmFiles lists what arm job name of repetition rep reads or writes in
// the run directory, relative to it with / separators, a directory
// ending in /: a runner that stages a job's files from remote storage
// needs only these.
func ArmFiles(c Config, rep int, name string) []string {
	dir := seedName(c.Train.Seed + uint64(rep))
	files := []string{ConfigFile, path.Join(dir, StagesFile), path.Join(dir, armStagesFile(name)),
		path.Join(dir, "train_"+name) + "/", path.Join(dir, evalFile(name))}
	for _, k := range c.keptInputs(name) {
		files = append(files, path.Join(dir, keptFile(k)))
	}
	return files
}

// keptFile and evalFile name the kept set and the evaluation of run
// name in a seed directory.
func keptFile(name string) string { return "kept_" + name + ".npy" }
func evalFile(name string) string { return "eval_" + name + ".json" }
