package nn

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

func TestNormalize(t *testing.T) {
	mean, std := []float32{0.4914, 0.4822, 0.4465}, []float32{0.2471, 0.2435, 0.2616}
	n, err := NewNormalize(mean, std)
	if err != nil {
		t.Fatal(err)
	}
	if n.Channels() != 3 {
		t.Errorf("Channels() = %d", n.Channels())
	}
	x := randInput(1, 2, 3, 4)
	tp := autograd.NewTape()
	y := n.Forward(tp, autograd.Leaf(x, false)).Value.Data()
	for i, v := range x.Data() {
		c := i / 16 % 3
		if want := (v - mean[c]) / std[c]; !testutil.Near(float64(y[i]), float64(want), 1e-6) {
			t.Fatalf("element %d (channel %d): %v, want %v", i, c, y[i], want)
		}
	}
	if len(StateDict(n)) != 0 {
		t.Error("Normalize has state-dict entries")
	}
	for _, bad := range [][2][]float32{{nil, nil}, {{0.5}, {0.5, 0.5}}, {{0.5}, {-1}}, {{0.5}, {float32(math.Inf(1))}}} {
		t.Run(fmt.Sprintf("%v_%v", bad[0], bad[1]), func(t *testing.T) {
			if _, err := NewNormalize(bad[0], bad[1]); err == nil {
				t.Errorf("NewNormalize(%v, %v) succeeded", bad[0], bad[1])
			}
		})
	}

	// Inside a model: normalizing then running equals running on
	// pre-normalized input.
	cfg := Config{Width: 0.25, Seed: 9}
	plain := mustNew(t, "resnet8", cfg)
	cfg.Mean, cfg.Std = mean, std
	withNorm := mustNew(t, "resnet8", cfg)
	if !slices.Equal(names(plain), names(withNorm)) {
		t.Error("normalization changed the state-dict names")
	}
	xn := tensor.New(x.Shape()...)
	copy(xn.Data(), y)
	a, b := evalLogits(withNorm, x), evalLogits(plain, xn)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("logit %d: %v with Normalize, %v on normalized input", i, a[i], b[i])
		}
	}
}

func TestBatchNormTrainEval(t *testing.T) {
	m := mustNew(t, "resnet8", Config{Width: 0.25, Seed: 4})
	x := randInput(2, 4, 3, 16)
	bn := m.(*Net).body[1].(*BatchNorm2d)
	if !m.Training() || !bn.Training() {
		t.Fatal("a new model is not in training mode")
	}
	tp := autograd.NewTape()
	yTrain := slices.Clone(m.Forward(tp, autograd.Leaf(x, false)).Value.Data())
	tp.Reset()
	if bn.NumBatchesTracked.Data()[0] != 1 {
		t.Errorf("num_batches_tracked = %v after one training pass", bn.NumBatchesTracked.Data()[0])
	}
	rm := slices.Clone(bn.State.RunningMean.Data())
	if slices.Equal(rm, make([]float32, len(rm))) {
		t.Error("running_mean unchanged by a training pass")
	}

	m.SetTrain(false)
	for _, mod := range []Module{m, bn, m.(*Net).body[3]} {
		if mod.Training() {
			t.Errorf("%T still in training mode after SetTrain(false)", mod)
		}
	}
	yEval := slices.Clone(m.Forward(tp, autograd.Leaf(x, false)).Value.Data())
	yEval2 := m.Forward(tp, autograd.Leaf(x, false)).Value.Data()
	if !slices.Equal(rm, bn.State.RunningMean.Data()) || bn.NumBatchesTracked.Data()[0] != 1 {
		t.Error("an eval pass changed the BN buffers")
	}
	if !slices.Equal(yEval, yEval2) {
		t.Error("eval passes differ")
	}
	if slices.Equal(yTrain, yEval) {
		t.Error("train and eval outputs are identical")
	}

	// In eval mode each sample is independent of the rest of the batch.
	one := tensor.New(1, 3, 16, 16)
	copy(one.Data(), x.Data()[:one.Len()])
	y1 := evalLogits(m, one)
	for i, v := range y1 {
		if math.Abs(float64(v-yEval[i])) > 1e-5 {
			t.Fatalf("eval logits depend on the batch: %v vs %v", y1, yEval[:len(y1)])
		}
	}
}

func TestSequentialNames(t *testing.T) {
	rng := tensor.NewRNG(1)
	s := NewSequential(NewConv2d(rng, 2, 4, 3, tensor.ConvParams{PadH: 1, PadW: 1}, true), &ReLU{}, NewBatchNorm2d(4))
	want := []string{"0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked"}
	if got := names(s); !slices.Equal(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
	if s.Len() != 3 {
		t.Errorf("Len() = %d", s.Len())
	}
	if _, ok := s.At(1).(*ReLU); !ok {
		t.Errorf("At(1) is %T", s.At(1))
	}
	s.SetTrain(false)
	s.Append("extra", &SiLU{})
	if s.At(3).Training() {
		t.Error("a child appended to an eval Sequential is in training mode")
	}
}

func TestConvGroupsShape(t *testing.T) {
	c := NewConv2d(tensor.NewRNG(1), 8, 4, 3, tensor.ConvParams{Groups: 2}, false)
	if got := c.Weight.Value.Shape(); !slices.Equal(got, []int{4, 4, 3, 3}) {
		t.Errorf("grouped weight %v", got)
	}
	testutil.CheckPanic(t, func() { NewConv2d(tensor.NewRNG(1), 8, 4, 3, tensor.ConvParams{Groups: 3}, false) },
		"nn.NewConv2d", "cin 8", "for 3 groups")
}
