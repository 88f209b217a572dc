package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/pipeline"
	"github.com/bulwark-ml/bulwark/prune"
)

// runEmbed implements `bulwark embed`.
func runEmbed(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var ml modelFlags
	ml.Bind(fs, "train")
	normalize := fs.Bool("normalize", false, "scale every embedding to unit L2 norm")
	out := fs.String("out", "", "the embeddings, a float32 N×d .npy (required)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := cliflags.Parse(fs, "bulwark", "embed", args, stdout); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("embed: --out is missing, e.g. --out embeddings.npy")
	}
	model, ds, done, err := ml.load("embed")
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	emb, dim, err := pipeline.Embed(model, ds, prune.EmbedOptions{BatchSize: ml.Batch, Normalize: *normalize}, progress(*quiet))
	if err != nil {
		return fmt.Errorf("embed: --data %s: %w", ml.Data, err)
	}
	if err := data.WriteNpy(*out, []int{ds.Len(), dim}, emb); err != nil {
		return fmt.Errorf("embed: --out: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d × %d embeddings of %s) in %.1fs\n", *out, ds.Len(), dim, ml.Data, time.Since(start).Seconds())
	return nil
}
