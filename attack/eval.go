package attack

import (
	"fmt"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// EvalOptions configure Evaluate. The zero value is valid.
type EvalOptions struct {
	BatchSize int   // 0 means 256
	Workers   int   // decoding goroutines; 0 is the data package's default
	Indices   []int // the samples to evaluate; nil means all, in order
	// AttackAll attacks every sample. By default a sample misclassified
	// on its clean input counts as broken by every attack without being
	// attacked, which changes no accuracy and saves the work.
	AttackAll bool
	// Cascade runs each attack only on the samples that every earlier
	// attack failed to break, as AutoAttack does. Robust[a] is then the
	// accuracy under attacks 0..a together (the robust accuracy after
	// attack a), and Worst equals the last of them; a sample broken
	// earlier gets its clean input in later attacks' Adv.
	Cascade bool
	// OnBatch, if set, is called after each batch with its per-sample
	// results and adversarial inputs (to save them, say). An error stops
	// the evaluation.
	OnBatch func(b *EvalBatch) error
	// Logits, if non-nil, receives the clean logits of the evaluated
	// samples in order, row-major samples × classes; its length must be
	// that.
	Logits []float32
}

// EvalBatch is one batch's outcome, as OnBatch sees it. It is reused: do
// not keep it, or its slices and tensors, past the call.
type EvalBatch struct {
	Indices []int  // dataset indices of the samples
	Labels  []int  // their labels
	Clean   []bool // the clean input is classified correctly
	// Robust[a][i] says whether sample i is still classified correctly
	// under attack a; Worst[i] whether it is under every attack.
	Robust [][]bool
	Worst  []bool
	// Logits holds the clean logits, row-major: sample i's are
	// Logits[i·classes : (i+1)·classes].
	Logits []float32
	// Adv[a] holds attack a's inputs for the whole batch, [B, C, H, W]:
	// the adversarial input of every attacked sample and the clean input
	// of the others.
	Adv []*tensor.Tensor
}

// Result is the outcome of Evaluate: counts of correctly classified
// samples, overall and per attack, and the wall time of each attack.
type Result struct {
	N     int // samples evaluated
	Clean int // correct on the clean inputs
	// LossSum is the summed cross-entropy of the clean predictions.
	LossSum float64
	Names   []string // the attacks' names
	Robust  []int    // Robust[a]: correct under attack a
	// Worst is the number correct under every attack: the per-sample
	// worst case.
	Worst int
	Time  []time.Duration // Time[a]: the time spent in attack a
}

// frac returns k/N, or 0 without samples.
func (r Result) frac(k int) float64 {
	if r.N == 0 {
		return 0
	}
	return float64(k) / float64(r.N)
}

// CleanAcc returns the clean accuracy, a fraction in [0, 1].
func (r Result) CleanAcc() float64 { return r.frac(r.Clean) }

// CleanLoss returns the mean cross-entropy of the clean predictions.
func (r Result) CleanLoss() float64 {
	if r.N == 0 {
		return 0
	}
	return r.LossSum / float64(r.N)
}

// RobustAcc returns the accuracy under attack a.
func (r Result) RobustAcc(a int) float64 { return r.frac(r.Robust[a]) }

// WorstAcc returns the accuracy under the per-sample worst case of the
// attacks.
func (r Result) WorstAcc() float64 { return r.frac(r.Worst) }

// String formats the result as a table: clean accuracy, the accuracy
// under each attack with its time, and the worst case.
func (r Result) String() string {
	var b strings.Builder
	w := len("worst case")
	for _, n := range r.Names {
		w = max(w, len([]rune(n)))
	}
	row := func(name string, acc float64, extra string) {
		fmt.Fprintf(&b, "%-*s  %7.2f%%%s\n", w, name, 100*acc, extra)
	}
	fmt.Fprintf(&b, "%d samples\n", r.N)
	row("clean", r.CleanAcc(), "")
	for a, n := range r.Names {
		row(n, r.RobustAcc(a), fmt.Sprintf("  (%.1fs)", r.Time[a].Seconds()))
	}
	if len(r.Names) > 0 {
		row("worst case", r.WorstAcc(), "")
	}
	return b.String()
}

// Evaluate measures m on the samples of ds (or those listed in
// o.Indices), in batches: its clean accuracy and loss, its accuracy
// under each attack (with o.Cascade, after each attack), and under the
// per-sample worst case over the attacks; with no attacks it is a plain
// evaluation. It is bulwark's one evaluation loop: training, the
// pipeline and the CLI all call it. The clean predictions run the model
// in evaluation mode; the attacks run it in their own BN mode; the
// model's mode is restored at the end. A model that cannot take the data
// (checked up front on one sample, see checkFit), or a label outside its
// classes, is an error; a panic past that check is a bug and propagates.
func Evaluate(m nn.Module, ds data.Dataset, o EvalOptions, attacks ...Attack) (Result, error) {
	var res Result
	bs := o.BatchSize
	if bs == 0 {
		bs = 256
	}
	b, err := data.NewBatcher(ds, o.Indices, data.Config{BatchSize: bs, Workers: o.Workers, Prefetch: true})
	if err != nil {
		return res, fmt.Errorf("attack.Evaluate: %w", err)
	}
	defer b.Close()
	was := m.Training()
	defer m.SetTrain(was)
	if b.Samples() > 0 {
		first := 0
		if o.Indices != nil {
			first = o.Indices[0]
		}
		m.SetTrain(false)
		x, err := data.Sample(ds, first)
		if err != nil {
			return res, err
		}
		if err := nn.CheckFit(m.Forward, x, 1, -1); err != nil {
			return res, fmt.Errorf("attack.Evaluate: %w", err)
		}
	}
	ev := evaluator{attacks: attacks, o: o, total: b.Samples()}
	res.Names = make([]string, len(attacks))
	for a, at := range attacks {
		res.Names[a] = at.Name()
	}
	res.Robust = make([]int, len(attacks))
	res.Time = make([]time.Duration, len(attacks))
	b.Reset(0)
	for b.Next() {
		if err := ev.batch(m, b.Batch(), &res); err != nil {
			return res, fmt.Errorf("attack.Evaluate: %w", err)
		}
	}
	if err := b.Err(); err != nil {
		return res, fmt.Errorf("attack.Evaluate: %w", err)
	}
	return res, nil
}

// evaluator holds Evaluate's per-batch scratch.
type evaluator struct {
	attacks []Attack
	o       EvalOptions
	total   int // samples in all
	pr      predictor
	sub     subBatch
	eb      EvalBatch
	sel     []bool
	alive   []bool // not broken by an earlier attack (Cascade)
	keys    []int  // the dataset indices of the attacked samples
	adv     [][]float32
}

// batch evaluates one batch and adds its counts to res.
func (ev *evaluator) batch(m nn.Module, bt *data.Batch, res *Result) error {
	n, eb := len(bt.Labels), &ev.eb
	eb.Indices, eb.Labels = bt.Indices, bt.Labels
	eb.Clean, eb.Worst = grow(eb.Clean, n), grow(eb.Worst, n)
	ev.sel = grow(ev.sel, n)
	m.SetTrain(false)
	var bad error
	err := ev.pr.correct(m, bt.X, bt.Labels, eb.Clean, func(z []float32, c int) {
		for i, y := range bt.Labels {
			row := z[i*c : (i+1)*c]
			res.LossSum += tensor.LogSumExpRow(row) - float64(row[y])
		}
		if ev.o.OnBatch != nil {
			eb.Logits = append(eb.Logits[:0], z[:n*c]...)
		}
		switch {
		case ev.o.Logits == nil:
		case len(ev.o.Logits) != ev.total*c:
			bad = fmt.Errorf("the logits buffer holds %d values, want %d samples × %d classes", len(ev.o.Logits), ev.total, c)
		default:
			copy(ev.o.Logits[res.N*c:], z)
		}
	})
	if err != nil {
		return err
	}
	if bad != nil {
		return bad
	}
	copy(eb.Worst, eb.Clean)
	if len(eb.Robust) != len(ev.attacks) {
		eb.Robust = make([][]bool, len(ev.attacks))
		eb.Adv = make([]*tensor.Tensor, len(ev.attacks))
		ev.adv = make([][]float32, len(ev.attacks))
	}
	shape := [4]int{n, bt.X.Dim(1), bt.X.Dim(2), bt.X.Dim(3)}
	ev.alive = grow(ev.alive, n)
	for i := range ev.alive {
		ev.alive[i] = true
	}
	for a, at := range ev.attacks {
		rob := grow(eb.Robust[a], n)
		eb.Robust[a] = rob
		for i := range n {
			ev.sel[i] = (ev.o.AttackAll || eb.Clean[i]) && ev.alive[i]
			rob[i] = ev.sel[i]
		}
		if ev.o.OnBatch != nil {
			ev.adv[a] = grow(ev.adv[a], bt.X.Len())
			copy(ev.adv[a], bt.X.Data())
			view(&eb.Adv[a], ev.adv[a], shape)
		}
		xs, ys := ev.sub.gather(bt.X, bt.Labels, ev.sel)
		if len(ys) > 0 {
			t0 := time.Now()
			passKeys(at, &ev.keys, eb.Indices, ev.sub.idx)
			adv, err := at.Perturb(m, xs, ys)
			passKeys(at, &ev.keys, nil, nil)
			res.Time[a] += time.Since(t0)
			if err != nil {
				return err
			}
			m.SetTrain(false)
			if err := ev.pr.correct(m, adv, ys, ev.sub.ok, nil); err != nil {
				return fmt.Errorf("%s: %w", at.Name(), err)
			}
			ev.sub.scatter(ev.adv[a], adv, rob)
		}
		for i, r := range rob {
			if ev.o.Cascade {
				ev.alive[i] = r
			}
			// Robust means correct on the clean input and under the
			// attack, whether or not the sample was attacked.
			r = r && eb.Clean[i]
			rob[i] = r
			if r {
				res.Robust[a]++
			}
			eb.Worst[i] = eb.Worst[i] && r
		}
	}
	for i := range n {
		if eb.Clean[i] {
			res.Clean++
		}
		if eb.Worst[i] {
			res.Worst++
		}
	}
	res.N += n
	if ev.o.OnBatch != nil {
		return ev.o.OnBatch(eb)
	}
	return nil
}
