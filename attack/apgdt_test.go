package attack

import (
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

func TestRankOthers(t *testing.T) {
	z := []float32{0.5, 3, -1, 2, 2, 7}
	dst := make([]int, 4)
	// Label 5 holds the largest logit; the others by logit, the lower
	// index first on the tie at 2.
	rankOthers(dst, z, 5)
	if want := []int{1, 3, 4, 0}; !slices.Equal(dst, want) {
		t.Errorf("rankOthers(label 5) = %v, want %v", dst, want)
	}
	// A misclassified sample (label 0): the label is skipped even though
	// it is not the top class.
	rankOthers(dst, z, 0)
	if want := []int{5, 1, 3, 4}; !slices.Equal(dst, want) {
		t.Errorf("rankOthers(label 0) = %v, want %v", dst, want)
	}
}

// TestPerTargetRuns drives the per-target loop with a stub attack: run k
// sees the samples still classified correctly, targeted at their (k+1)-th
// class by clean logit other than the label; a sample broken in one run
// is not attacked again, samples misclassified clean never are, and at
// most classes − 1 runs happen.
func TestPerTargetRuns(t *testing.T) {
	f := trained(t)
	x, y := f.x, f.y
	var pt perTarget
	var ok []bool
	var pr predictor
	ok = make([]bool, len(y))
	if err := pr.correct(f.model, x, y, ok, nil); err != nil {
		t.Fatal(err)
	}
	// The clean ranking, for reference.
	logits := make([]float32, len(y)*classes)
	if err := pr.correct(f.model, x, y, ok, func(z []float32, c int) { copy(logits, z) }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	seen := make([]bool, len(y)) // broken by the stub
	tgt := make([]int, len(y))
	inner := func(m nn.Module, xs *tensor.Tensor, ys []int) (*tensor.Tensor, error) {
		pt.target(tgt[:len(ys)], ys, classes)
		for j, i := range pt.sub.idx {
			if !ok[i] || seen[i] {
				t.Errorf("run %d attacks sample %d (clean correct %v, broken %v)", runs, i, ok[i], seen[i])
			}
			want := make([]int, classes-1)
			rankOthers(want, logits[i*classes:(i+1)*classes], y[i])
			if tgt[j] != want[runs] {
				t.Errorf("run %d, sample %d: target %d, want %d", runs, i, tgt[j], want[runs])
			}
		}
		// Break the first gathered sample: swap in an image of another
		// class that the model gets right.
		adv := xs.Clone()
		if len(ys) > 0 {
			i := pt.sub.idx[0]
			for k := range y {
				if ok[k] && y[k] != y[i] {
					chw := x.Len() / len(y)
					copy(adv.Data()[:chw], x.Data()[k*chw:(k+1)*chw])
					seen[i] = true
					break
				}
			}
		}
		runs++
		return adv, nil
	}
	adv, err := pt.run("test", f.model, x, y, 9, BNEval, &engine{}, inner)
	if err != nil {
		t.Fatal(err)
	}
	if runs != classes-1 {
		t.Errorf("%d runs, want %d (classes − 1)", runs, classes-1)
	}
	chw := x.Len() / len(y)
	for i := range y {
		same := slices.Equal(adv.Data()[i*chw:(i+1)*chw], x.Data()[i*chw:(i+1)*chw])
		if same == seen[i] {
			t.Errorf("sample %d: broken %v but output unchanged %v", i, seen[i], same)
		}
	}
}

// TestAPGDTHugeEps: at ε = 0.5 (L∞) APGD-T breaks every sample.
func TestAPGDTHugeEps(t *testing.T) {
	f := trained(t)
	a := &APGDT{Eps: 0.5, Steps: 20, Seed: 1}
	res, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: 128}, a)
	if err != nil {
		t.Fatal(err)
	}
	if res.Robust[0] > 0 {
		t.Errorf("%s leaves %d of %d correct at ε = 0.5", a.Name(), res.Robust[0], res.N)
	}
}

// TestEOTDeterministicModel: on a deterministic model, averaging the
// gradient over EOT passes changes no sign, so L∞ APGD with EOT = 3
// returns exactly what it returns without EOT.
func TestEOTDeterministicModel(t *testing.T) {
	f := trained(t)
	a := &APGD{Eps: 0.1, Steps: 10, Loss: DLR, Seed: 4}
	b := &APGD{Eps: 0.1, Steps: 10, Loss: DLR, Seed: 4, EOT: 3}
	ra, err := a.Perturb(f.model, f.x, f.y)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Perturb(f.model, f.x, f.y)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ra.Data(), rb.Data()) {
		t.Error("APGD with EOT = 3 differs from APGD on a deterministic model")
	}
}
