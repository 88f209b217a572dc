package attack

import (
	"fmt"
	"math"
	"strings"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// AutoAttack is the parameter-free ensemble of Croce & Hein (2020,
// "Reliable evaluation of adversarial robustness with an ensemble of
// diverse parameter-free attacks"), with the settings of its reference
// implementation. Its attacks run in order, each on the samples that the
// earlier ones failed to break (Evaluate's Cascade), and its robust
// accuracy is the fraction of samples that survive them all.
//
// Versions:
//   - "standard" (or ""): APGD-CE (100 iterations, 1 run), APGD-T (9
//     targets, 100 iterations each), FAB-T (9 targets, 100 iterations
//     each) and Square (5000 queries, p_init 0.8, schedule not rescaled).
//   - "rand", for randomized defences: APGD-CE and APGD-DLR with the
//     gradient averaged over 20 passes (EOT) at each iteration.
//   - "custom": the attacks named in Attacks, in order, among "apgd-ce",
//     "apgd-dlr", "apgd-t", "fab-t" and "square", with the reference's
//     defaults: 5 runs for APGD-CE and APGD-DLR, the standard settings
//     for the others.
type AutoAttack struct {
	Norm    Norm     // LInf (the default) or L2
	Eps     float32  // radius of the ball, > 0
	Version string   // "standard" (the default), "rand" or "custom"
	Attacks []string // the attacks of Version "custom"
	Seed    uint64   // seeds every attack's random draws
}

// autoAttackNames are the attacks Version "custom" accepts.
var autoAttackNames = []string{"apgd-ce", "apgd-dlr", "apgd-t", "fab-t", "square"}

// AutoAttackResult is the outcome of AutoAttack.Evaluate: the cascade's
// Result (Robust[a] is the robust accuracy after attacks 0..a, Worst the
// AutoAttack robust accuracy) and the sanity checks' warnings.
type AutoAttackResult struct {
	Result
	// Warnings are the reference implementation's sanity checks that
	// fired (and a few more): signs that the evaluation may be
	// unreliable, in words.
	Warnings []string
}

// String formats the result as Result does, then the warnings.
func (r AutoAttackResult) String() string {
	var b strings.Builder
	b.WriteString(r.Result.String())
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// Components checks the settings and returns the version's attacks, in
// the order they run. They are the package's attack types (*APGD,
// *APGDT, *FAB, *Square), so a caller may adjust them before running
// them through Evaluate with Cascade set.
func (a *AutoAttack) Components() ([]Attack, error) {
	const who = "attack: AutoAttack"
	if a.Norm != LInf && a.Norm != L2 {
		return nil, fmt.Errorf("%s: unknown norm %d, want Linf or L2", who, a.Norm)
	}
	if !(a.Eps > 0) || math.IsInf(float64(a.Eps), 0) {
		return nil, fmt.Errorf("%s: eps = %v, want a finite value > 0", who, a.Eps)
	}
	norm, eps, seed := a.Norm, a.Eps, a.Seed
	var names []string
	switch a.Version {
	case "", "standard", "rand":
		if len(a.Attacks) > 0 {
			return nil, fmt.Errorf("%s: Attacks %q is only for Version \"custom\"; version %q has its own", who, a.Attacks, a.version())
		}
		if a.Version == "rand" {
			return []Attack{
				&APGD{Norm: norm, Eps: eps, Loss: CE, EOT: 20, Seed: seed},
				&APGD{Norm: norm, Eps: eps, Loss: DLR, EOT: 20, Seed: seed},
			}, nil
		}
		names = []string{"apgd-ce", "apgd-t", "fab-t", "square"}
	case "custom":
		if len(a.Attacks) == 0 {
			return nil, fmt.Errorf("%s: Version \"custom\" needs Attacks, a list among %s", who, strings.Join(autoAttackNames, ", "))
		}
		names = a.Attacks
	default:
		return nil, fmt.Errorf("%s: unknown version %q, want standard, rand or custom", who, a.Version)
	}
	restarts := 1
	if a.Version == "custom" {
		restarts = 5 // the reference's APGD default outside its versions
	}
	out := make([]Attack, 0, len(names))
	for _, name := range names {
		var at Attack
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "apgd-ce":
			at = &APGD{Norm: norm, Eps: eps, Loss: CE, Restarts: restarts, Seed: seed}
		case "apgd-dlr":
			at = &APGD{Norm: norm, Eps: eps, Loss: DLR, Restarts: restarts, Seed: seed}
		case "apgd-t":
			at = &APGDT{Norm: norm, Eps: eps, Seed: seed}
		case "fab-t":
			at = &FAB{Norm: norm, Eps: eps, Seed: seed}
		case "square":
			at = &Square{Norm: norm, Eps: eps, FixedSchedule: true, Seed: seed}
		default:
			return nil, fmt.Errorf("%s: unknown attack %q, want one of %s", who, name, strings.Join(autoAttackNames, ", "))
		}
		out = append(out, at)
	}
	return out, nil
}

func (a *AutoAttack) version() string {
	if a.Version == "" {
		return "standard"
	}
	return a.Version
}

// Evaluate runs AutoAttack on m over the samples of ds (or those listed
// in o.Indices) through the package's Evaluate with o.Cascade set, and
// runs the sanity checks. o.OnBatch, if set, is still called.
func (a *AutoAttack) Evaluate(m nn.Module, ds data.Dataset, o EvalOptions) (AutoAttackResult, error) {
	var out AutoAttackResult
	attacks, err := a.Components()
	if err != nil {
		return out, err
	}
	var st logitStats
	user := o.OnBatch
	o.OnBatch = func(b *EvalBatch) error {
		st.add(b.Logits, len(b.Labels))
		if user != nil {
			return user(b)
		}
		return nil
	}
	o.Cascade = true
	out.Result, err = Evaluate(m, ds, o, attacks...)
	if err != nil {
		return out, err
	}
	out.Warnings = st.warnings(out.Result)
	if a.Version != "rand" && out.N > 0 {
		random, err := looksRandomized(m, ds, o.Indices)
		if err != nil {
			return out, fmt.Errorf("attack: AutoAttack: %w", err)
		}
		if random {
			out.Warnings = append(out.Warnings, `the model's output changes between passes on the same inputs: it seems to be randomized; use Version "rand", which averages gradients over 20 passes (EOT)`)
		}
	}
	if st.classes > 0 {
		for _, at := range attacks {
			switch at.(type) {
			case *APGDT, *FAB:
				if 9 > st.classes-1 {
					out.Warnings = append(out.Warnings, fmt.Sprintf("%s uses 9 target classes but the model has only %d classes: it used the %d it has", strings.Fields(at.Name())[0], st.classes, st.classes-1))
				}
			}
		}
	}
	if w := squareDrop(attacks, out.Result); w != "" {
		out.Warnings = append(out.Warnings, w)
	}
	return out, nil
}

// squareDrop is the reference's check that Square, which uses no
// gradients, did not break samples the gradient-based attacks could not:
// if its robust accuracy is below the lowest accuracy of clean and the
// other attacks in the cascade by more than 0.2 points, the gradients
// were probably masked.
func squareDrop(attacks []Attack, r Result) string {
	sq, low := -1, r.CleanAcc()
	for k, at := range attacks {
		if _, ok := at.(*Square); ok {
			sq = k
		} else {
			low = min(low, r.RobustAcc(k))
		}
	}
	if sq < 0 || len(attacks) < 2 || r.RobustAcc(sq) >= low-0.002 {
		return ""
	}
	return fmt.Sprintf("Square, which uses no gradients, lowered the robust accuracy by %.2f%% after the gradient-based attacks: "+
		"the model's gradients may be masked, so this evaluation may be unreliable; consider Square with more queries and restarts, or an adaptive attack",
		100*(low-r.RobustAcc(sq)))
}

// logitStats watches the clean logits for the sanity checks.
type logitStats struct {
	classes   int
	first     []float32 // the first sample's logits
	different bool      // some sample's logits differ from the first's
	notProbs  bool      // some logits are not a probability vector
}

// add takes the logits of a batch of n samples.
func (s *logitStats) add(z []float32, n int) {
	if n == 0 {
		return
	}
	c := len(z) / n
	if s.first == nil {
		s.classes = c
		s.first = append([]float32(nil), z[:c]...)
	}
	for i := range n {
		row := z[i*c : (i+1)*c]
		var sum float64
		for j, v := range row {
			if d := math.Abs(float64(v) - float64(s.first[j])); d > 1e-6*(1+math.Abs(float64(v))) {
				s.different = true
			}
			if v < -1e-5 || v > 1+1e-5 {
				s.notProbs = true
			}
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-5 {
			s.notProbs = true
		}
	}
}

// warnings returns the checks on the clean pass that fired.
func (s *logitStats) warnings(r Result) []string {
	var w []string
	if r.N > 0 && r.Clean == 0 {
		w = append(w, "the clean accuracy is 0: every sample is misclassified before any attack, so the robust accuracy says nothing; check the model, its weights, the labels and the input preprocessing")
	}
	if r.N > 1 && !s.different {
		w = append(w, fmt.Sprintf("the model returns the same logits for all %d inputs: its output does not depend on the input, so no attack can change it", r.N))
	}
	if r.N > 0 && !s.notProbs {
		w = append(w, "the model's outputs look like probabilities (in [0,1], summing to 1): give AutoAttack the logits, since the losses and the DLR ratio assume them")
	}
	return w
}

// looksRandomized runs m five times on up to 16 of the samples, in
// evaluation mode, and reports whether the outputs (normalized to unit
// L2 norm) differ by more than 1e-4, as the reference's check does.
func looksRandomized(m nn.Module, ds data.Dataset, idx []int) (bool, error) {
	if idx == nil {
		idx = make([]int, min(ds.Len(), 16))
		for i := range idx {
			idx[i] = i
		}
	}
	idx = idx[:min(len(idx), 16)]
	c, h, w := ds.Shape()
	chw := c * h * w
	x := tensor.New(len(idx), c, h, w)
	y := make([]int, len(idx))
	for j, i := range idx {
		if err := ds.Image(i, x.Data()[j*chw:(j+1)*chw]); err != nil {
			return false, err
		}
		y[j] = ds.Label(i)
	}
	was := m.Training()
	defer m.SetTrain(was)
	m.SetTrain(false)
	var pr predictor
	ok := make([]bool, len(idx))
	var ref []float32
	random := false
	for pass := range 5 {
		err := pr.correct(m, x, y, ok, func(z []float32, k int) {
			if pass == 0 {
				ref = append([]float32(nil), z...)
				return
			}
			for i := range len(idx) {
				a, b := ref[i*k:(i+1)*k], z[i*k:(i+1)*k]
				na, nb := norm2(a)+1e-10, norm2(b)+1e-10
				var d float64
				for j := range a {
					d += sq(float64(a[j])/na - float64(b[j])/nb)
				}
				random = random || math.Sqrt(d) > 1e-4
			}
		})
		if err != nil {
			return false, err
		}
	}
	return random, nil
}
