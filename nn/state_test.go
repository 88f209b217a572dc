package nn

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/tensor"
)

// cloneState returns a deep copy of m's state dict as a map.
func cloneState(m Module) map[string]*tensor.Tensor {
	sd := StateMap(StateDict(m))
	for k, v := range sd {
		sd[k] = v.Clone()
	}
	return sd
}

// evalLogits returns m's eval-mode logits for x, copied.
func evalLogits(m Module, x *tensor.Tensor) []float32 {
	m.SetTrain(false)
	defer m.SetTrain(true)
	tp := autograd.NewTape()
	restore := tp.NoGrad()
	defer restore()
	return slices.Clone(m.Forward(tp, autograd.Leaf(x, false)).Value.Data())
}

func TestLoadStateDictRoundTrip(t *testing.T) {
	for _, arch := range []string{"resnet8", "preactresnet18", "wrn-28-10-swish", "smallcnn"} {
		cfg := Config{Width: 0.25, Seed: 1}
		src := mustNew(t, arch, cfg)
		// Train-mode passes give the BN buffers non-default values.
		in := 3
		if arch == "smallcnn" {
			in = 1
		}
		size := 28
		x := randInput(4, 4, in, size)
		tp := autograd.NewTape()
		for range 2 {
			src.Forward(tp, autograd.Leaf(x, false))
			tp.Reset()
		}
		cfg.Seed = 2
		dst := mustNew(t, arch, cfg)
		dstVars := dst.Params()
		if slices.Equal(evalLogits(src, x), evalLogits(dst, x)) {
			t.Fatalf("%s: seeds 1 and 2 give the same logits", arch)
		}
		if err := LoadStateDict(dst, cloneState(src)); err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if got, want := evalLogits(dst, x), evalLogits(src, x); !slices.Equal(got, want) {
			t.Errorf("%s: logits after loading differ: %v vs %v", arch, got[:3], want[:3])
		}
		for i, p := range dst.Params() {
			if p.Var != dstVars[i].Var {
				t.Fatalf("%s: LoadStateDict replaced the Var of %s", arch, p.Name)
			}
		}
		for _, e := range StateDict(dst) {
			if strings.HasSuffix(e.Name, numBatchesTracked) && e.T.Data()[0] != 2 {
				t.Errorf("%s: %s = %v after loading, want 2", arch, e.Name, e.T.Data()[0])
			}
		}
	}
}

func TestLoadStateDictScalarNumBatchesTracked(t *testing.T) {
	m := mustNew(t, "resnet8", Config{})
	sd := cloneState(m)
	sd["bn1.num_batches_tracked"] = tensor.New().Fill(7) // PyTorch's shape []
	if err := LoadStateDict(m, sd); err != nil {
		t.Fatal(err)
	}
	if got := StateMap(StateDict(m))["bn1.num_batches_tracked"].Data()[0]; got != 7 {
		t.Errorf("num_batches_tracked = %v, want 7", got)
	}
	sd["bn1.running_mean"] = tensor.New() // a scalar elsewhere is still a mismatch
	if err := LoadStateDict(m, sd); err == nil {
		t.Error("scalar running_mean loaded")
	}
}

// TestLoadStateDictWithoutNumBatchesTracked loads a state dict without
// num_batches_tracked, as PyTorch does: the counters become 0.
func TestLoadStateDictWithoutNumBatchesTracked(t *testing.T) {
	src, dst := mustNew(t, "resnet8", Config{Seed: 1}), mustNew(t, "resnet8", Config{Seed: 2})
	for _, e := range StateDict(dst) {
		if strings.HasSuffix(e.Name, numBatchesTracked) {
			e.T.Fill(5)
		}
	}
	sd := cloneState(src)
	dropped := 0
	for name := range sd {
		if strings.HasSuffix(name, numBatchesTracked) {
			delete(sd, name)
			dropped++
		}
	}
	if err := LoadStateDict(dst, sd); err != nil || dropped == 0 {
		t.Fatalf("loading without %d num_batches_tracked: %v", dropped, err)
	}
	for _, e := range StateDict(dst) {
		want := float32(0)
		if v, ok := sd[e.Name]; ok {
			want = v.Data()[0]
		}
		if e.T.Data()[0] != want {
			t.Errorf("%s = %v after loading, want %v", e.Name, e.T.Data()[0], want)
		}
	}
}

func TestLoadStateDictErrors(t *testing.T) {
	m := mustNew(t, "resnet8", Config{Seed: 1})
	before := cloneState(m)
	sd := cloneState(mustNew(t, "resnet8", Config{Seed: 2}))
	delete(sd, "layer2.0.downsample.0.weight")
	delete(sd, "fc.bias")
	sd["layer9.0.conv1.weight"] = tensor.New(1)
	sd["extra"] = tensor.New(1)
	sd["fc.weight"] = tensor.New(100, 64)
	sd["layer1.0.bn1.running_var"] = tensor.New(16, 1)

	err := LoadStateDict(m, sd)
	var se *StateDictError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want *StateDictError", err, err)
	}
	if want := []string{"layer2.0.downsample.0.weight", "fc.bias"}; !slices.Equal(se.Missing, want) {
		t.Errorf("Missing %v, want %v", se.Missing, want)
	}
	if want := []string{"extra", "layer9.0.conv1.weight"}; !slices.Equal(se.Unexpected, want) {
		t.Errorf("Unexpected %v, want %v", se.Unexpected, want)
	}
	wantMis := []ShapeMismatch{
		{"layer1.0.bn1.running_var", []int{16, 1}, []int{16}},
		{"fc.weight", []int{100, 64}, []int{10, 64}},
	}
	if len(se.Mismatched) != len(wantMis) {
		t.Fatalf("Mismatched %v, want %v", se.Mismatched, wantMis)
	}
	for i, w := range wantMis {
		g := se.Mismatched[i]
		if g.Name != w.Name || !slices.Equal(g.Have, w.Have) || !slices.Equal(g.Model, w.Model) {
			t.Errorf("Mismatched[%d] = %v, want %v", i, g, w)
		}
	}
	msg := err.Error()
	for _, s := range []string{"2 missing keys: layer2.0.downsample.0.weight, fc.bias",
		"2 unexpected keys: extra, layer9.0.conv1.weight",
		"fc.weight has shape [100 64], model wants [10 64]",
		"layer1.0.bn1.running_var has shape [16 1], model wants [16]"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q lacks %q", msg, s)
		}
	}
	for k, v := range StateMap(StateDict(m)) {
		if !slices.Equal(v.Data(), before[k].Data()) {
			t.Fatalf("failed load changed %s", k)
		}
	}
}

func TestStateDictSharesStorage(t *testing.T) {
	m := mustNew(t, "resnet8", Config{})
	sd := StateDict(m)
	sd[0].T.Data()[0] = 42
	if m.Params()[0].Var.Value.Data()[0] != 42 {
		t.Error("StateDict returned a copy of conv1.weight")
	}
}
