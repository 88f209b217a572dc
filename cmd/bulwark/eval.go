package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/nn"
)

// runEval implements `bulwark eval`.
func runEval(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var ml modelFlags
	ml.Bind(fs, "test")
	logits := fs.String("save-logits", "", "write the logits as a float32 N×classes .npy file")
	if err := cliflags.Parse(fs, "bulwark", "eval", args, stdout); err != nil {
		return err
	}
	model, ds, done, err := ml.load("eval")
	if err != nil {
		return err
	}
	defer done()
	var out []float32
	classes := classCount(model)
	if *logits != "" {
		out = make([]float32, ds.Len()*classes)
	}
	r, err := attack.Evaluate(model, ds, attack.EvalOptions{BatchSize: ml.Batch, Logits: out})
	if err != nil {
		return fmt.Errorf("eval: --data %s: %w", ml.Data, err)
	}
	fmt.Fprintf(stdout, "%s on %s (%d samples): accuracy %.2f%% (%d/%d), loss %.4f\n",
		ml.Weights, ml.Data, r.N, 100*r.CleanAcc(), r.Clean, r.N, r.CleanLoss())
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
