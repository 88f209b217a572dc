package main

import (
	"fmt"
	"io"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/pipeline"
)

// Helpers shared by the subcommands: opening data named by a flag,
// progress bars, the flags that name a model and its data, --threads,
// and flag values for lists and maps.

// openData opens the dataset spec of --flag; closeAll releases both of
// its splits.
func openData(flag, spec string) (train, test data.Dataset, closeAll func(), err error) {
	train, test, err = data.Open(spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return train, test, func() {
		data.Close(train)
		if test != nil {
			data.Close(test)
		}
	}, nil
}

// progress returns where progress bars go: stderr if it is a terminal
// and quiet is off.
func progress(quiet bool) io.Writer {
	if quiet || !stderrIsTerminal() {
		return nil
	}
	return progressOut
}

// modelFlags are the flags that name a model, the data it runs on and
// how (--batch, --threads), shared by eval, embed and attack: one
// definition, so that their defaults, help and checks stay the same in
// each. Bind and Check (cliflags.Model's) define and check them; load
// checks them first too, and a command calls Check itself to report them
// before its own later checks.
type modelFlags struct{ cliflags.Model }

// load checks the flags, opens the data, builds the model and sets the
// kernel threads of --threads. done releases the data and restores the
// thread count; errors name the flag and the command cmd.
func (ml *modelFlags) load(cmd string) (model nn.FeatureModel, ds data.Dataset, done func(), err error) {
	if err := ml.Check(cmd); err != nil {
		return nil, nil, nil, err
	}
	switch {
	case ml.Weights == "":
		return nil, nil, nil, fmt.Errorf("%s: --weights is missing", cmd)
	case ml.Data == "":
		return nil, nil, nil, fmt.Errorf("%s: --data is missing; want one of: %s", cmd, data.Specs)
	case ml.Split != "test" && ml.Split != "train":
		return nil, nil, nil, fmt.Errorf("%s: --split: %q, want test or train", cmd, ml.Split)
	case !(ml.Width >= 0):
		return nil, nil, nil, fmt.Errorf("%s: --width: %g is not a non-negative number", cmd, ml.Width)
	}
	w, err := nn.ReadWeights(ml.Weights)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: --weights: %w", cmd, err)
	}
	arch := ml.Arch
	if arch == "" && w.Arch == "" {
		return nil, nil, nil, fmt.Errorf("%s: --arch is missing and %s does not record one", cmd, ml.Weights)
	}
	trainSet, testSet, closeData, err := openData("data", ml.Data)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", cmd, err)
	}
	ds = trainSet
	if testSet != nil && ml.Split == "test" {
		ds = testSet
	}
	if model, err = ml.build(cmd, w, arch, ds); err != nil {
		closeData()
		return nil, nil, nil, err
	}
	restoreThreads := useThreads(ml.Threads)
	return model, ds, func() {
		restoreThreads()
		closeData()
	}, nil
}

// build makes the model of w (with architecture arch, if set) for
// images like those of ds.
func (ml *modelFlags) build(cmd string, w *nn.Weights, arch string, ds data.Dataset) (nn.FeatureModel, error) {
	if _, h, wd := ds.Shape(); h != wd {
		return nil, fmt.Errorf("%s: --data %s: images are %d×%d, want square ones", cmd, ml.Data, h, wd)
	}
	o := pipeline.ImageOptions(ds)
	o.Arch, o.Width = arch, ml.Width
	model, err := w.Build(o)
	if err != nil {
		return nil, fmt.Errorf("%s: --weights %s: %w", cmd, ml.Weights, err)
	}
	return model, nil
}

// useThreads sets the kernels' thread count to n if n > 0 (a --threads
// flag; 0 keeps the current count) and returns what restores the count
// before: defer useThreads(n)().
func useThreads(n int) (restore func()) {
	if n <= 0 {
		return func() {}
	}
	prev := kernels.SetThreads(n)
	return func() { kernels.SetThreads(prev) }
}
