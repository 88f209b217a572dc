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

// recordFlags serves `bulwark train`'s per-sample recording flags with a
// prune.Recorder on the trainer's hooks, writing into --out. The flags
// set the run's train.Recording (bindRecordFlags), which the weight files
// list with the other settings; recordFlags holds the recording made.
type recordFlags struct{ train.Recording }

// bindRecordFlags binds the --record flags to r, with r's values as
// defaults (so a resumed run's stored ones stay unless a flag is given).
func bindRecordFlags(fs *flag.FlagSet, r *train.Recording) {
	fs.StringVar(&r.Record, "record", r.Record, "record per-epoch true-class probabilities of the training samples listed in this int64 .npy")
	fs.BoolVar(&r.RecordAll, "record-all", r.RecordAll, "record every training sample (instead of --record)")
	fs.BoolVar(&r.RecordAdv, "record-adv", r.RecordAdv, "also record on inputs of the training attack's settings (PGD-10 at ε/4 without --adv; same --eps and --norm)")
	fs.BoolVar(&r.RecordTrain, "record-train", r.RecordTrain, "record from the training forward pass instead of an eval pass (cheaper)")
}

func (rf *recordFlags) on() bool { return rf.Record != "" || rf.RecordAll }

// resumed takes a resumed run's recording from its directory when
// neither the command line nor the checkpoint's settings name one (the
// checkpoints of recorded runs written while the weight files left the
// recording out): the samples in record_indices.npy, the kind from the
// arrays there.
func (rf *recordFlags) resumed(dir string) {
	if rf.on() || !exists(filepath.Join(dir, prune.RecordIndicesFile)) {
		return
	}
	rf.Record = filepath.Join(dir, prune.RecordIndicesFile)
	rf.RecordAdv = exists(filepath.Join(dir, prune.ProbsAdvFile))
	rf.RecordTrain = exists(filepath.Join(dir, prune.ProbsTrainFile))
}

func (rf *recordFlags) check(cfg train.Config) error {
	switch {
	case rf.Record != "" && rf.RecordAll:
		return errors.New("--record: give --record IDX.npy or --record-all, not both")
	case (rf.RecordAdv || rf.RecordTrain) && !rf.on():
		return errors.New("--record-adv: --record-adv and --record-train need --record IDX.npy or --record-all")
	case rf.RecordAdv && rf.RecordTrain:
		return errors.New("--record-train: records from the training pass instead of an eval pass; drop --record-adv")
	case rf.RecordAdv && cfg.Eps == 0:
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
	if rf.RecordTrain {
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
	case rf.RecordAdv:
		o.Kind = prune.RecordAdv
	case rf.RecordTrain:
		o.Kind = prune.RecordTrain
	}
	if rf.Record != "" {
		if o.Indices, err = data.ReadIndices(rf.Record, ds.Len()); err != nil {
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
