package prune

import (
	"math"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// embedFixture returns a small ResNet for 3×8×8 images and a set of n
// such images with 3 classes.
func embedFixture(t *testing.T, n, channels int) (nn.FeatureModel, data.Dataset) {
	t.Helper()
	m, err := nn.New("resnet8", nn.Config{NumClasses: 3, Width: 0.25, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.NewRNG(2).Uniform(tensor.New(n, channels, 8, 8), 0, 1)
	ds, err := data.FromTensor(x, make([]int, n), 3)
	if err != nil {
		t.Fatal(err)
	}
	return m, ds
}

func TestEmbed(t *testing.T) {
	m, ds := embedFixture(t, 10, 3)
	emb, dim, err := Embed(m, ds, []int{9, 2, 4}, EmbedOptions{BatchSize: 2, Normalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if dim != m.FeatureDim() || len(emb) != 3*dim {
		t.Fatalf("%d values of dimension %d, want 3×%d", len(emb), dim, m.FeatureDim())
	}
	for i := range 3 {
		var ss float64
		for _, v := range emb[i*dim : (i+1)*dim] {
			ss += float64(v) * float64(v)
		}
		if math.Abs(ss-1) > 1e-5 {
			t.Errorf("row %d has squared norm %v, want 1", i, ss)
		}
	}
}

// TestEmbedMismatch: a model that cannot take the images is an error
// naming the shapes, found before any batch.
func TestEmbedMismatch(t *testing.T) {
	m, gray := embedFixture(t, 5, 1)
	_, _, err := Embed(m, gray, nil, EmbedOptions{})
	if err == nil || !strings.Contains(err.Error(), "does not fit the data (1×8×8 images)") || !strings.Contains(err.Error(), "Conv2d") {
		t.Errorf("1-channel images for a 3-channel model: error %v", err)
	}
	// No samples: nothing runs.
	if emb, _, err := Embed(m, gray, []int{}, EmbedOptions{}); err != nil || len(emb) != 0 {
		t.Errorf("no samples: %d values, %v", len(emb), err)
	}
}

// wrongDim reports a feature length its features do not have.
type wrongDim struct{ nn.FeatureModel }

func (w wrongDim) FeatureDim() int { return w.FeatureModel.FeatureDim() + 1 }

// batchBug is a model with a bug on batches of more than one sample.
type batchBug struct {
	nn.FeatureModel
	panicValue func() any
}

func (b batchBug) Features(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if x.Value.Dim(0) > 1 {
		panic(b.panicValue())
	}
	return b.FeatureModel.Features(tp, x)
}

// TestEmbedBugsPanic: a feature length that disagrees with FeatureDim is
// an error; past the up-front check, a panic inside the engine is a bug
// and propagates instead of being reported as a misfit model.
func TestEmbedBugsPanic(t *testing.T) {
	m, ds := embedFixture(t, 6, 3)
	_, _, err := Embed(wrongDim{m}, ds, nil, EmbedOptions{})
	if err == nil || !strings.Contains(err.Error(), "want [1, ") {
		t.Errorf("wrong FeatureDim: error %v", err)
	}
	outOfRange := func() any {
		var s []int
		i := 3
		return s[i]
	}
	for _, c := range []struct {
		name  string
		value func() any
		want  string
	}{
		{"engine panic", func() any { return "tensor.Add: an engine bug" }, "an engine bug"},
		{"runtime error", outOfRange, "index out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.CheckPanic(t, func() { Embed(batchBug{m, c.value}, ds, nil, EmbedOptions{BatchSize: 3}) }, c.want)
		})
	}
}
