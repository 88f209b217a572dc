package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/data"
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
// each.
type modelFlags struct {
	weights, arch, spec, split string
	width                      float64
	batch, threads             int
}

// bind defines the flags on fs; split is the default --split.
func (ml *modelFlags) bind(fs *flag.FlagSet, split string) {
	fs.StringVar(&ml.weights, "weights", "", "model weights (.safetensors): a bulwark model or checkpoint, or a PyTorch state dict with torchvision names")
	fs.StringVar(&ml.arch, "arch", "", "architecture: "+strings.Join(nn.Archs(), ", ")+" (default: the one recorded in --weights)")
	fs.StringVar(&ml.spec, "data", "", "dataset: "+data.Specs+"; its test split is used when it has one")
	fs.StringVar(&ml.split, "split", split, "which split of mnist, fashion-mnist and cifar specs: test or train")
	fs.Float64Var(&ml.width, "width", 0, "channel-width multiplier (default: recorded in --weights, else 1)")
	fs.IntVar(&ml.batch, "batch", 256, "batch size")
	fs.IntVar(&ml.threads, "threads", 0, "kernel threads (0 = GOMAXPROCS)")
}

// check rejects a --batch below 1 and a negative --threads; errors name
// the command cmd. load checks them first too; a command calls check
// itself to report them before its own later checks.
func (ml *modelFlags) check(cmd string) error {
	switch {
	case ml.batch < 1:
		return fmt.Errorf("%s: --batch: %d, want at least 1", cmd, ml.batch)
	case ml.threads < 0:
		return fmt.Errorf("%s: --threads: %d, want at least 0", cmd, ml.threads)
	}
	return nil
}

// load checks the flags, opens the data, builds the model and sets the
// kernel threads of --threads. done releases the data and restores the
// thread count; errors name the flag and the command cmd.
func (ml *modelFlags) load(cmd string) (model nn.FeatureModel, ds data.Dataset, done func(), err error) {
	if err := ml.check(cmd); err != nil {
		return nil, nil, nil, err
	}
	switch {
	case ml.weights == "":
		return nil, nil, nil, fmt.Errorf("%s: --weights is missing", cmd)
	case ml.spec == "":
		return nil, nil, nil, fmt.Errorf("%s: --data is missing; want one of: %s", cmd, data.Specs)
	case ml.split != "test" && ml.split != "train":
		return nil, nil, nil, fmt.Errorf("%s: --split: %q, want test or train", cmd, ml.split)
	case !(ml.width >= 0):
		return nil, nil, nil, fmt.Errorf("%s: --width: %g is not a non-negative number", cmd, ml.width)
	}
	w, err := nn.ReadWeights(ml.weights)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: --weights: %w", cmd, err)
	}
	arch := ml.arch
	if arch == "" && w.Arch == "" {
		return nil, nil, nil, fmt.Errorf("%s: --arch is missing and %s does not record one", cmd, ml.weights)
	}
	trainSet, testSet, closeData, err := openData("data", ml.spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", cmd, err)
	}
	ds = trainSet
	if testSet != nil && ml.split == "test" {
		ds = testSet
	}
	if model, err = ml.build(cmd, w, arch, ds); err != nil {
		closeData()
		return nil, nil, nil, err
	}
	restoreThreads := useThreads(ml.threads)
	return model, ds, func() {
		restoreThreads()
		closeData()
	}, nil
}

// build makes the model of w (with architecture arch, if set) for
// images like those of ds.
func (ml *modelFlags) build(cmd string, w *nn.Weights, arch string, ds data.Dataset) (nn.FeatureModel, error) {
	if _, h, wd := ds.Shape(); h != wd {
		return nil, fmt.Errorf("%s: --data %s: images are %d×%d, want square ones", cmd, ml.spec, h, wd)
	}
	o := pipeline.ImageOptions(ds)
	o.Arch, o.Width = arch, ml.width
	model, err := w.Build(o)
	if err != nil {
		return nil, fmt.Errorf("%s: --weights %s: %w", cmd, ml.weights, err)
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
