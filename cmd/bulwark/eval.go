package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/train"
)

// runEval implements `bulwark eval`.
func runEval(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	weights := fs.String("weights", "", "model weights (.safetensors): a bulwark model or checkpoint, or a PyTorch state dict with torchvision names")
	arch := fs.String("arch", "", "architecture: "+strings.Join(nn.Archs(), ", ")+" (default: the one recorded in --weights)")
	spec := fs.String("data", "", "dataset: "+data.Specs+"; its test split is used when it has one")
	split := fs.String("split", "test", "which split of mnist, fashion-mnist and cifar specs: test or train")
	width := fs.Float64("width", 0, "channel-width multiplier (default: recorded in --weights, else 1)")
	batch := fs.Int("batch", 256, "batch size")
	threads := fs.Int("threads", 0, "kernel threads (0 = GOMAXPROCS)")
	logits := fs.String("save-logits", "", "write the logits as a float32 N×classes .npy file")
	if err := parseFlags(fs, "eval", args, stdout); err != nil {
		return err
	}
	switch {
	case *weights == "":
		return errors.New("eval: --weights is missing")
	case *spec == "":
		return errors.New("eval: --data is missing; want one of: " + data.Specs)
	case *split != "test" && *split != "train":
		return fmt.Errorf("eval: --split: %q, want test or train", *split)
	case *batch < 1:
		return fmt.Errorf("eval: --batch: %d, want at least 1", *batch)
	case *threads < 0:
		return fmt.Errorf("eval: --threads: %d, want at least 0", *threads)
	case !(*width >= 0):
		return fmt.Errorf("eval: --width: %g is not a non-negative number", *width)
	}
	w, err := train.ReadWeights(*weights)
	if err != nil {
		return fmt.Errorf("eval: --weights: %w", err)
	}
	if *arch == "" {
		if *arch = w.Arch; *arch == "" {
			return fmt.Errorf("eval: --arch is missing and %s does not record one", *weights)
		}
	}
	trainSet, testSet, err := data.Open(*spec)
	if err != nil {
		return fmt.Errorf("eval: --data: %w", err)
	}
	defer data.Close(trainSet)
	ds := trainSet
	if testSet != nil {
		defer data.Close(testSet)
		if *split == "test" {
			ds = testSet
		}
	}
	cfg := w.Model
	c, h, wd := ds.Shape()
	if cfg.InChannels == 0 {
		cfg.InChannels = c
	} else if cfg.InChannels != c {
		return fmt.Errorf("eval: --data %s: images have %d channels but the model in %s takes %d", *spec, c, *weights, cfg.InChannels)
	}
	if h != wd {
		return fmt.Errorf("eval: --data %s: images are %d×%d, want square ones", *spec, h, wd)
	}
	if cfg.ImageSize == 0 {
		cfg.ImageSize = h
	} else if cfg.ImageSize != h && *arch == "smallcnn" {
		return fmt.Errorf("eval: --data %s: images are %d×%d but the model in %s takes %d×%d", *spec, h, wd, *weights, cfg.ImageSize, cfg.ImageSize)
	}
	if *width != 0 {
		cfg.Width = *width
	}
	model, err := w.Build(*arch, cfg)
	if err != nil {
		return fmt.Errorf("eval: --arch %s: %w", *arch, err)
	}
	if *threads > 0 {
		defer kernels.SetThreads(kernels.SetThreads(*threads))
	}
	var out []float32
	classes := classCount(model)
	if *logits != "" {
		out = make([]float32, ds.Len()*classes)
	}
	r, err := train.Evaluate(model, ds, train.EvalOptions{BatchSize: *batch, Logits: out})
	if err != nil {
		return fmt.Errorf("eval: --data %s: %w", *spec, err)
	}
	fmt.Fprintf(stdout, "%s on %s (%d samples): accuracy %.2f%% (%d/%d), loss %.4f\n",
		*weights, *spec, r.N, 100*r.Acc, r.Correct, r.N, r.Loss)
	if *logits != "" {
		if err := data.WriteNpy(*logits, []int{ds.Len(), classes}, out); err != nil {
			return fmt.Errorf("eval: --save-logits: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s (%d×%d float32 logits)\n", *logits, ds.Len(), classes)
	}
	return nil
}

// classCount is the length of the model's output.
func classCount(m nn.Module) int {
	if c, ok := m.(interface{ NumClasses() int }); ok {
		return c.NumClasses()
	}
	ps := m.Params() // the head's bias comes last
	return ps[len(ps)-1].Var.Value.Dim(0)
}
