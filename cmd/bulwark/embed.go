package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// runEmbed implements `bulwark embed`.
func runEmbed(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var ml modelFlags
	ml.bind(fs, "train")
	normalize := fs.Bool("normalize", false, "scale every embedding to unit L2 norm")
	batch := fs.Int("batch", 256, "batch size")
	threads := fs.Int("threads", 0, "kernel threads (0 = GOMAXPROCS)")
	out := fs.String("out", "", "the embeddings, a float32 N×d .npy (required)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, "embed", args, stdout); err != nil {
		return err
	}
	switch {
	case *out == "":
		return errors.New("embed: --out is missing, e.g. --out embeddings.npy")
	case *batch < 1:
		return fmt.Errorf("embed: --batch: %d, want at least 1", *batch)
	case *threads < 0:
		return fmt.Errorf("embed: --threads: %d, want at least 0", *threads)
	}
	model, ds, closeData, err := ml.load("embed")
	if err != nil {
		return err
	}
	defer closeData()
	if *threads > 0 {
		defer kernels.SetThreads(kernels.SetThreads(*threads))
	}
	start := time.Now()
	emb, dim, err := pipeline.Embed(model, ds, prune.EmbedOptions{BatchSize: *batch, Normalize: *normalize}, progress(*quiet))
	if err != nil {
		return fmt.Errorf("embed: --data %s: %w", ml.spec, err)
	}
	if err := data.WriteNpy(*out, []int{ds.Len(), dim}, emb); err != nil {
		return fmt.Errorf("embed: --out: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d × %d embeddings of %s) in %.1fs\n", *out, ds.Len(), dim, ml.spec, time.Since(start).Seconds())
	return nil
}
