package pipeline

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-ml/bulwark/internal/testutil/pipelinetest"
	"github.com/bulwark-ml/bulwark/kernels"
)

// TestArmJobsConcurrent runs one repetition as jobs, in goroutines: its
// preparation beside the arm jobs that need none (the references, with a
// base set), then the other arm jobs all at once, then the report; and
// checks that the run directory is the one Run alone writes, file for
// file.
func TestArmJobsConcurrent(t *testing.T) {
	plain := tinyConfig("")
	plain.Seeds, plain.Scores, plain.Prune = 1, []string{"du"}, []float64{0.5}
	base := baseConfig("")
	base.Select, base.Embed = []string{"top"}, []string{"seed"}
	for _, tc := range []struct {
		name string
		c    Config
		o    Options
		jobs string
	}{
		{"plain", plain, tinyOptions(t), "[{full true} {du_p0.5 true} {random_p0.5 true}]"},
		{"base", base, baseOptions(), "[{full false} {base false} {du_p0.5 true} {random_p0.5 true}]"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkArmJobs(t, tc.c, tc.o, tc.jobs) })
	}
}

// checkArmJobs runs c as jobs (TestArmJobsConcurrent), ArmJobs(c) being
// jobs.
func checkArmJobs(t *testing.T, c Config, o Options, jobs string) {
	ctx := context.Background()
	seq, par := t.TempDir(), t.TempDir()
	c.Out = seq
	want, err := Run(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	c.Out = par
	arms := ArmJobs(c)
	if got := fmt.Sprint(arms); got != jobs {
		t.Fatalf("ArmJobs: %s, want %s", got, jobs)
	}
	if _, err := RunArm(ctx, c, o, 0, "du_p0.5"); err == nil || !strings.Contains(err.Error(), ConfigFile) {
		t.Errorf("an arm job before the directory is claimed: %v", err)
	}
	if err := Claim(c); err != nil {
		t.Fatal(err)
	}
	if _, err := RunArm(ctx, c, o, 0, "du_p0.5"); err == nil || !strings.Contains(err.Error(), keptFile("du_p0.5")) {
		t.Errorf("an arm job before the preparation: %v", err)
	}
	if _, err := RunArm(ctx, c, o, 0, "du_p0.7"); err == nil || !strings.Contains(err.Error(), "du_p0.7") {
		t.Errorf("an unknown arm job: %v", err)
	}
	// The trainings share the kernel threads' setting (RunArm's doc).
	defer kernels.SetThreads(kernels.SetThreads(c.Train.Threads))
	// concurrently runs the arm jobs with AfterPrepare after, and with
	// prepare the preparation, at once.
	concurrently := func(after, prepare bool) {
		var wg sync.WaitGroup
		errs := map[string]error{}
		var mu sync.Mutex
		run := func(name string, job func() error) {
			wg.Go(func() {
				err := job()
				mu.Lock()
				errs[name] = err
				mu.Unlock()
			})
		}
		if prepare {
			run("preparation", func() error { return Prepare(ctx, c, o, 0) })
		}
		for _, j := range arms {
			if j.AfterPrepare == after {
				run(j.Name, func() error { _, err := RunArm(ctx, c, o, 0, j.Name); return err })
			}
		}
		wg.Wait()
		for name, err := range errs {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	concurrently(false, true)
	concurrently(true, false)
	// The arm jobs kept their stages apart from stages.json.
	sdir := seedDir(par, 0)
	st, err := loadStages(sdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range arms {
		if _, ok := st.Seconds["train_"+j.Name]; ok {
			t.Errorf("an arm job wrote train_%s into %s", j.Name, StagesFile)
		}
		if !exists(filepath.Join(sdir, armStagesFile(j.Name))) {
			t.Errorf("%s: no %s", j.Name, armStagesFile(j.Name))
		}
	}
	got, err := Run(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want.Seeds[0].Runs {
		g := got.Seeds[0].Runs[name]
		w.Eval.Seconds, g.Eval.Seconds, w.TrainSeconds, g.TrainSeconds = 0, 0, 0, 0
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: %+v as jobs, %+v in one Run", name, g, w)
		}
	}
	pipelinetest.SameRunDir(t, seq, par)

	// A finished arm job is skipped: it writes nothing.
	before := modTimes(t, par)
	time.Sleep(10 * time.Millisecond)
	if _, err := RunArm(ctx, c, o, 0, "random_p0.5"); err != nil {
		t.Fatal(err)
	}
	for p, m := range modTimes(t, par) {
		if b, ok := before[p]; !ok || !b.Equal(m) {
			t.Errorf("rerunning a finished arm job wrote %s", p)
		}
	}
}

// modTimes returns every file under dir with its modification time.
func modTimes(t *testing.T, dir string) map[string]time.Time {
	out := map[string]time.Time{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		out[p] = info.ModTime()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
