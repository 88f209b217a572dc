package cliflags

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bulwark-ml/bulwark/attack"
)

// AttackNames lists what --attack accepts; "all" is the four in order.
var AttackNames = []string{"fgsm", "pgd", "apgd-ce", "apgd-dlr"}

// BuildAttacks parses the --attack list into attacks, in the order given.
func BuildAttacks(list string, norm attack.Norm, eps, alpha float32, steps, restarts int, seed uint64) ([]attack.Attack, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		if name == "all" {
			names = append(names, AttackNames...)
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
			return nil, fmt.Errorf("unknown attack %q; want %s or all", name, strings.Join(AttackNames, ", "))
		}
	}
	return out, nil
}

// WorstInputs collects, per sample, the first input (in --attack order)
// that fools the model or, if none does, the last attack's input (the
// clean input for samples misclassified without attack): what bulwark
// attack --save-adv writes. X holds the samples' inputs one after the
// other; Add is the attack.EvalOptions.OnBatch hook.
type WorstInputs struct {
	X    []float32
	Next int // samples collected
}

// Add collects the inputs of batch b.
func (w *WorstInputs) Add(b *attack.EvalBatch) error {
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
		copy(w.X[(w.Next+i)*chw:(w.Next+i+1)*chw], x.Data()[i*chw:(i+1)*chw])
	}
	w.Next += len(b.Labels)
	return nil
}
