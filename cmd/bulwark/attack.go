package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/kernels"
)

// runAttack implements `bulwark attack`.
func runAttack(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	var ml modelFlags
	ml.Bind(fs, "test")
	which := fs.String("attack", "pgd", "comma-separated attacks: "+strings.Join(cliflags.AttackNames, ", ")+", or all; or autoattack")
	version := fs.String("version", "", "with --attack autoattack: standard (default), rand (randomised defences: APGD-CE and APGD-DLR with EOT 20) or custom")
	aaList := fs.String("attacks", "", "with --version custom: comma-separated apgd-ce, apgd-dlr, apgd-t, fab-t, square")
	normName := fs.String("norm", "linf", "threat model: linf or l2")
	var eps, alpha cliflags.Fraction
	fs.Var(&eps, "eps", "radius of the ε-ball, e.g. 8/255 or 0.3 (required)")
	fs.Var(&alpha, "step-size", "PGD step size, e.g. 2/255 (0 = 2.5·ε/steps)")
	steps := fs.Int("steps", 0, "iterations (0 = 20 for pgd, 100 for apgd)")
	restarts := fs.Int("restarts", 1, "random restarts of pgd and apgd (per sample, the worst is kept)")
	n := fs.Int("n", 0, "attack the first N samples (0 = all)")
	seed := fs.Uint64("seed", 0, "seed of the random starts")
	saveAdv := fs.String("save-adv", "", "write the worst-case adversarial inputs as float32 N×C×H×W .npy")
	if err := cliflags.Parse(fs, "bulwark", "attack", args, stdout); err != nil {
		return err
	}
	norm, err := attack.ParseNorm(*normName)
	switch {
	case err != nil:
		return fmt.Errorf("attack: --norm: %v", err)
	case eps == 0:
		return errors.New("attack: --eps is missing, e.g. --eps 8/255")
	case norm == attack.LInf && eps > 1:
		return fmt.Errorf("attack: --eps: %g is more than the whole [0,1] range", float64(eps))
	case *steps < 0:
		return fmt.Errorf("attack: --steps: %d, want at least 1 (or 0 for the default)", *steps)
	case *restarts < 1:
		return fmt.Errorf("attack: --restarts: %d, want at least 1", *restarts)
	case *n < 0:
		return fmt.Errorf("attack: --n: %d, want at least 0", *n)
	}
	if err := ml.Check("attack"); err != nil {
		return err
	}
	var aa *attack.AutoAttack
	var attacks []attack.Attack
	switch {
	case strings.EqualFold(strings.TrimSpace(*which), "autoattack"):
		aa = &attack.AutoAttack{Norm: norm, Eps: float32(eps), Version: *version, Seed: *seed}
		if aa.Version == "" {
			aa.Version = "standard"
		}
		if *aaList != "" {
			aa.Attacks = strings.Split(*aaList, ",")
		}
		if _, err := aa.Components(); err != nil {
			return fmt.Errorf("attack: --attack autoattack (--version, --attacks): %w", err)
		}
	case *version != "" || *aaList != "":
		return errors.New("attack: --version and --attacks go with --attack autoattack")
	default:
		if attacks, err = cliflags.BuildAttacks(*which, norm, float32(eps), float32(alpha), *steps, *restarts, *seed); err != nil {
			return fmt.Errorf("attack: --attack: %w", err)
		}
	}
	model, ds, done, err := ml.load("attack")
	if err != nil {
		return err
	}
	defer done()
	o := attack.EvalOptions{BatchSize: ml.Batch}
	total := ds.Len()
	if *n > 0 && *n < total {
		total = *n
		o.Indices = make([]int, total)
		for i := range o.Indices {
			o.Indices[i] = i
		}
	}
	var adv cliflags.WorstInputs
	var advShape []int
	if *saveAdv != "" {
		c, h, w := ds.Shape()
		advShape, adv.X = []int{total, c, h, w}, make([]float32, total*c*h*w)
		o.OnBatch = adv.Add
	}
	fmt.Fprintf(stdout, "bulwark attack: %s on %s (%d samples), %v ε=%.4g, %d threads\n",
		ml.Weights, ml.Data, total, norm, float64(eps), kernels.Threads())
	start := time.Now()
	if aa != nil {
		res, err := aa.Evaluate(model, ds, o)
		if err != nil {
			return fmt.Errorf("attack: --data %s: %w", ml.Data, err)
		}
		fmt.Fprint(stdout, res) // with the sanity warnings
	} else {
		res, err := attack.Evaluate(model, ds, o, attacks...)
		if err != nil {
			return fmt.Errorf("attack: --data %s: %w", ml.Data, err)
		}
		fmt.Fprint(stdout, res)
	}
	fmt.Fprintf(stdout, "wall time %.1fs\n", time.Since(start).Seconds())
	if *saveAdv != "" {
		if err := data.WriteNpy(*saveAdv, advShape, adv.X); err != nil {
			return fmt.Errorf("attack: --save-adv: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s (%v float32 worst-case adversarial inputs)\n", *saveAdv, advShape)
	}
	return nil
}
