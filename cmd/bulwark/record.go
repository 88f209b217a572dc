package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/prune"
	"github.com/bulwark-ml/bulwark/train"
)

// recordFlags are `bulwark train`'s per-sample recording flags, served by
// a prune.Recorder on the trainer's hooks, writing into --out.
type recordFlags struct {
	indices      string // --record IDX.npy
	all          bool   // --record-all
	adv, trained bool   // --record-adv, --record-train
}

func (rf *recordFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&rf.indices, "record", "", "record per-epoch true-class probabilities of the training samples listed in this int64 .npy")
	fs.BoolVar(&rf.all, "record-all", false, "record every training sample (instead of --record)")
	fs.BoolVar(&rf.adv, "record-adv", false, "also record on inputs of the training attack's settings (PGD-10 at ε/4 without --adv; same --eps and --norm)")
	fs.BoolVar(&rf.trained, "record-train", false, "record from the training forward pass instead of an eval pass (cheaper)")
}

func (rf *recordFlags) on() bool { return rf.indices != "" || rf.all }

// resumed takes a resumed run's recording from its directory when the
// command line does not repeat it: the samples in record_indices.npy, the
// kind from the arrays there.
func (rf *recordFlags) resumed(dir string) {
	if rf.on() || !exists(filepath.Join(dir, prune.RecordIndicesFile)) {
		return
	}
	rf.indices = filepath.Join(dir, prune.RecordIndicesFile)
	rf.adv = exists(filepath.Join(dir, prune.ProbsAdvFile))
	rf.trained = exists(filepath.Join(dir, prune.ProbsTrainFile))
}

func (rf *recordFlags) check(cfg train.Config) error {
	switch {
	case rf.indices != "" && rf.all:
		return errors.New("--record: give --record IDX.npy or --record-all, not both")
	case (rf.adv || rf.trained) && !rf.on():
		return errors.New("--record-adv: --record-adv and --record-train need --record IDX.npy or --record-all")
	case rf.adv && rf.trained:
		return errors.New("--record-train: records from the training pass instead of an eval pass; drop --record-adv")
	case rf.adv && cfg.Eps == 0:
		return errors.New("--eps: missing: --record-adv needs the radius, e.g. --eps 8/255")
	}
	return nil
}

// hooks sets opts' hooks to a recorder made by start once the trainer
// exists (its index space is the trainer's), and returns where start
// puts it; nil without recording.
func (rf *recordFlags) hooks(opts *train.Options) **prune.Recorder {
	if !rf.on() {
		return nil
	}
	rec := new(*prune.Recorder)
	if rf.trained {
		opts.OnBatch = func(s *train.Step) error {
			(*rec).Observe(s.Indices, s.Labels, s.Logits.Value)
			return nil
		}
	}
	opts.OnEpochEnd = func(e int, m nn.Module) error { return (*rec).EpochEnd(e, m) }
	return rec
}

// start makes the recorder over t's samples.
func (rf *recordFlags) start(rec **prune.Recorder, t *train.Trainer, cfg train.Config, workers int) error {
	if rec == nil {
		return nil
	}
	ds, err := t.Samples()
	if err != nil {
		return err
	}
	o := prune.RecorderOptions{Data: ds, Kind: prune.RecordClean, BatchSize: cfg.BatchSize, Workers: workers, Dir: cfg.Out,
		Attack: func(e int) attack.Attack { return cfg.RecordAttack(e) }}
	switch {
	case rf.adv:
		o.Kind = prune.RecordAdv
	case rf.trained:
		o.Kind = prune.RecordTrain
	}
	if rf.indices != "" {
		if o.Indices, err = data.ReadIndices(rf.indices, ds.Len()); err != nil {
			return fmt.Errorf("--record: %w", err)
		}
	}
	*rec, err = prune.NewRecorder(o)
	return err
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
