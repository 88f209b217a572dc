package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/kernels"
)

// attackNames lists what --attack accepts; "all" is the four in order.
var attackNames = []string{"fgsm", "pgd", "apgd-ce", "apgd-dlr"}

// runAttack implements `bulwark attack`.
func runAttack(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	var ml modelFlags
	ml.bind(fs, "test")
	which := fs.String("attack", "pgd", "comma-separated attacks: "+strings.Join(attackNames, ", ")+", or all; or autoattack")
	version := fs.String("version", "", "with --attack autoattack: standard (default), rand (randomised defences: APGD-CE and APGD-DLR with EOT 20) or custom")
	aaList := fs.String("attacks", "", "with --version custom: comma-separated apgd-ce, apgd-dlr, apgd-t, fab-t, square")
	normName := fs.String("norm", "linf", "threat model: linf or l2")
	var eps, alpha fraction
	fs.Var(&eps, "eps", "radius of the ε-ball, e.g. 8/255 or 0.3 (required)")
	fs.Var(&alpha, "step-size", "PGD step size, e.g. 2/255 (0 = 2.5·ε/steps)")
	steps := fs.Int("steps", 0, "iterations (0 = 20 for pgd, 100 for apgd)")
	restarts := fs.Int("restarts", 1, "random restarts of pgd and apgd (per sample, the worst is kept)")
	n := fs.Int("n", 0, "attack the first N samples (0 = all)")
	seed := fs.Uint64("seed", 0, "seed of the random starts")
	saveAdv := fs.String("save-adv", "", "write the worst-case adversarial inputs as float32 N×C×H×W .npy")
	if err := parseFlags(fs, "attack", args, stdout); err != nil {
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
	if err := ml.check("attack"); err != nil {
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
		if attacks, err = buildAttacks(*which, norm, float32(eps), float32(alpha), *steps, *restarts, *seed); err != nil {
			return fmt.Errorf("attack: --attack: %w", err)
		}
	}
	model, ds, done, err := ml.load("attack")
	if err != nil {
		return err
	}
	defer done()
	o := attack.EvalOptions{BatchSize: ml.batch}
	total := ds.Len()
	if *n > 0 && *n < total {
		total = *n
		o.Indices = make([]int, total)
		for i := range o.Indices {
			o.Indices[i] = i
		}
	}
	var adv worstInputs
	if *saveAdv != "" {
		c, h, w := ds.Shape()
		adv = worstInputs{shape: []int{total, c, h, w}, x: make([]float32, total*c*h*w)}
		o.OnBatch = adv.add
	}
	fmt.Fprintf(stdout, "bulwark attack: %s on %s (%d samples), %v ε=%.4g, %d threads\n",
		ml.weights, ml.spec, total, norm, float64(eps), kernels.Threads())
	start := time.Now()
	if aa != nil {
		res, err := aa.Evaluate(model, ds, o)
		if err != nil {
			return fmt.Errorf("attack: --data %s: %w", ml.spec, err)
		}
		fmt.Fprint(stdout, res) // with the sanity warnings
	} else {
		res, err := attack.Evaluate(model, ds, o, attacks...)
		if err != nil {
			return fmt.Errorf("attack: --data %s: %w", ml.spec, err)
		}
		fmt.Fprint(stdout, res)
	}
	fmt.Fprintf(stdout, "wall time %.1fs\n", time.Since(start).Seconds())
	if *saveAdv != "" {
		if err := data.WriteNpy(*saveAdv, adv.shape, adv.x); err != nil {
			return fmt.Errorf("attack: --save-adv: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s (%v float32 worst-case adversarial inputs)\n", *saveAdv, adv.shape)
	}
	return nil
}

// buildAttacks parses the --attack list into attacks, in the order given.
func buildAttacks(list string, norm attack.Norm, eps, alpha float32, steps, restarts int, seed uint64) ([]attack.Attack, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		if name == "all" {
			names = append(names, attackNames...)
			continue
		}
		names = append(names, name)
	}
	var out []attack.Attack
	for _, name := range names {
		switch name {
		case "fgsm":
			if norm != attack.LInf {
				return nil, errors.New("fgsm is an L∞ attack; use pgd with --norm l2")
			}
			out = append(out, &attack.FGSM{Eps: eps})
		case "pgd":
			s := steps
			if s == 0 {
				s = 20
			}
			out = append(out, &attack.PGD{Norm: norm, Eps: eps, Alpha: alpha, Steps: s, Restarts: restarts, Seed: seed})
		case "apgd-ce", "apgd-dlr":
			a := &attack.APGD{Norm: norm, Eps: eps, Steps: steps, Restarts: restarts, Loss: attack.CE, Seed: seed}
			if name == "apgd-dlr" {
				a.Loss = attack.DLR
			}
			out = append(out, a)
		default:
			return nil, fmt.Errorf("unknown attack %q; want %s or all", name, strings.Join(attackNames, ", "))
		}
	}
	return out, nil
}

// worstInputs collects, per sample, the first input (in --attack order)
// that fools the model or, if none does, the last attack's input (the
// clean input for samples misclassified without attack).
type worstInputs struct {
	shape []int
	x     []float32
	next  int // samples collected
}

// add is the attack.EvalOptions.OnBatch hook.
func (w *worstInputs) add(b *attack.EvalBatch) error {
	last := len(b.Adv) - 1
	for i := range b.Labels {
		a := last
		for k := range b.Adv {
			if b.Clean[i] && !b.Robust[k][i] {
				a = k
				break
			}
		}
		x := b.Adv[a]
		chw := x.Len() / len(b.Labels)
		copy(w.x[(w.next+i)*chw:(w.next+i+1)*chw], x.Data()[i*chw:(i+1)*chw])
	}
	w.next += len(b.Labels)
	return nil
}

// fraction is a flag.Value for a non-negative number written as a
// decimal or a fraction, like 0.3 or 8/255.
type fraction float64

func (f *fraction) String() string {
	if f == nil {
		return "0"
	}
	return strconv.FormatFloat(float64(*f), 'g', -1, 64)
}

func (f *fraction) Set(s string) error {
	num, den, isFrac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && isFrac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			if d == 0 {
				return fmt.Errorf("%q divides by zero", s)
			}
			v /= d
		}
	}
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a non-negative number or fraction like 8/255", s)
	}
	*f = fraction(v)
	return nil
}
