package nn

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/tensor"
)

// mustNew builds arch or fails the test.
func mustNew(t *testing.T, arch string, cfg Config) FeatureModel {
	t.Helper()
	m, err := New(arch, cfg)
	if err != nil {
		t.Fatalf("New(%q): %v", arch, err)
	}
	return m
}

// defaults caches the models of the default config, which the tests only
// read (building WRN-28-10 draws 36M random numbers).
var defaults sync.Map

// defaultModel returns the shared model of arch with Config{}.
func defaultModel(t *testing.T, arch string) FeatureModel {
	t.Helper()
	if m, ok := defaults.Load(arch); ok {
		return m.(FeatureModel)
	}
	m := mustNew(t, arch, Config{})
	defaults.Store(arch, m)
	return m
}

// randInput returns a batch of n images c×s×s in [0,1).
func randInput(seed uint64, n, c, s int) *tensor.Tensor {
	return tensor.Rand(tensor.NewRNG(seed), n, c, s, s)
}

func TestParamCounts(t *testing.T) {
	// Hand counts (10 classes, 3 input channels unless noted):
	//  CIFAR ResNet-(6n+2): stem 3·16·9 + 32 = 464; stage 1: n·(2·2304 + 64);
	//  stage 2: 4608+9216+128 + projection 512+64, then (n−1)·(2·9216+128);
	//  stage 3: 18432+36864+256 + projection 2048+128, then
	//  (n−1)·(2·36864+256); fc 650. Total 97216n − 19174.
	//  PreActResNet-18: 11,172,170; WRN-28-10: 36,479,194 (see docs/models.md).
	//  SmallCNN (1×28×28): 320+9248+18496+36928+205000+40200+2010.
	cases := []struct {
		name string
		arch string
		cfg  Config
		want int
	}{
		{"resnet8", "resnet8", Config{}, 97216*1 - 19174},
		{"resnet20", "resnet20", Config{}, 272474},
		{"resnet20-gray", "resnet20", Config{InChannels: 1}, 272474 - 2*16*9},
		{"resnet20-100-classes", "resnet20", Config{NumClasses: 100}, 272474 + 90*65},
		{"resnet32", "resnet32", Config{}, 97216*5 - 19174},
		{"resnet56", "resnet56", Config{}, 97216*9 - 19174},
		{"preactresnet18", "preactresnet18", Config{}, 11172170},
		{"wrn-28-10", "wrn-28-10", Config{}, 36479194},
		{"wrn-28-10-swish", "wrn-28-10-swish", Config{}, 36479194},
		{"smallcnn", "smallcnn", Config{}, 312202},
		{"smallcnn-3x32x32", "smallcnn", Config{InChannels: 3, ImageSize: 32}, 312202 + 2*32*9 + 64*(25-16)*200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := defaultModel(t, c.arch)
			if !reflect.DeepEqual(c.cfg, Config{}) {
				m = mustNew(t, c.arch, c.cfg)
			}
			if got := NumParams(m); got != c.want {
				t.Errorf("%s %+v: %d parameters, want %d", c.arch, c.cfg, got, c.want)
			}
		})
	}
}

// shortSafe returns a config that keeps the big models cheap in -short
// mode.
func shortSafe(arch string, cfg Config) Config {
	if testing.Short() && (strings.HasPrefix(arch, "wrn") || arch == "preactresnet18") {
		cfg.Width = 0.125
	}
	return cfg
}

func TestForwardShapes(t *testing.T) {
	for _, arch := range Archs() {
		for _, in := range []struct{ c, s int }{{3, 32}, {1, 28}} {
			t.Run(fmt.Sprintf("%s/%dx%d", arch, in.c, in.s), func(t *testing.T) {
				cfg := shortSafe(arch, Config{InChannels: in.c, ImageSize: in.s, NumClasses: 7, Seed: 3})
				m := mustNew(t, arch, cfg)
				tp := autograd.NewTape()
				x := autograd.Leaf(randInput(1, 2, in.c, in.s), false)
				for _, train := range []bool{true, false} {
					m.SetTrain(train)
					f := m.Features(tp, x)
					y := m.Forward(tp, x)
					if want := []int{2, m.FeatureDim()}; !slices.Equal(f.Value.Shape(), want) {
						t.Errorf("%s %d×%d×%d train=%v: features %v, want %v", arch, in.c, in.s, in.s, train, f.Value.Shape(), want)
					}
					if want := []int{2, 7}; !slices.Equal(y.Value.Shape(), want) {
						t.Errorf("%s %d×%d×%d train=%v: logits %v, want %v", arch, in.c, in.s, in.s, train, y.Value.Shape(), want)
					}
					for _, v := range y.Value.Data() {
						if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
							t.Fatalf("%s: non-finite logit %v", arch, v)
						}
					}
					tp.Reset()
				}
			})
		}
	}
}

func TestFeatureDims(t *testing.T) {
	want := map[string]int{"resnet8": 64, "resnet20": 64, "resnet32": 64, "resnet56": 64,
		"preactresnet18": 512, "wrn-28-10": 640, "wrn-28-10-swish": 640, "smallcnn": 200}
	for _, arch := range Archs() {
		if got := defaultModel(t, arch).FeatureDim(); got != want[arch] {
			t.Errorf("%s: FeatureDim %d, want %d", arch, got, want[arch])
		}
	}
	if got := mustNew(t, "resnet20", Config{Width: 2}).FeatureDim(); got != 128 {
		t.Errorf("resnet20 width 2: FeatureDim %d, want 128", got)
	}
}

// names returns the state-dict names of m.
func names(m Module) []string {
	var ns []string
	for _, e := range StateDict(m) {
		ns = append(ns, e.Name)
	}
	return ns
}

// shapeOf returns the shape of the state-dict entry name, or nil.
func shapeOf(m Module, name string) []int {
	for _, e := range StateDict(m) {
		if e.Name == name {
			return e.T.Shape()
		}
	}
	return nil
}

func TestStateDictNames(t *testing.T) {
	bn := func(p string) []string {
		return []string{p + ".weight", p + ".bias", p + ".running_mean", p + ".running_var", p + ".num_batches_tracked"}
	}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	one := func(s ...string) []string { return s }

	r20 := defaultModel(t, "resnet20")
	ns := names(r20)
	wantHead := cat(one("conv1.weight"), bn("bn1"), one("layer1.0.conv1.weight"), bn("layer1.0.bn1"),
		one("layer1.0.conv2.weight"), bn("layer1.0.bn2"), one("layer1.1.conv1.weight"))
	if !slices.Equal(ns[:len(wantHead)], wantHead) {
		t.Errorf("resnet20 names start %v, want %v", ns[:len(wantHead)], wantHead)
	}
	wantL2 := cat(one("layer2.0.conv1.weight"), bn("layer2.0.bn1"), one("layer2.0.conv2.weight"), bn("layer2.0.bn2"),
		one("layer2.0.downsample.0.weight"), bn("layer2.0.downsample.1"), one("layer2.1.conv1.weight"))
	i := slices.Index(ns, "layer2.0.conv1.weight")
	if i < 0 || !slices.Equal(ns[i:i+len(wantL2)], wantL2) {
		t.Errorf("resnet20 layer2.0 names wrong: %v", ns[max(i, 0):])
	}
	if tail := ns[len(ns)-2:]; !slices.Equal(tail, []string{"fc.weight", "fc.bias"}) {
		t.Errorf("resnet20 names end %v", tail)
	}
	// 19 convs + 2 projections, 21 BNs, fc.
	if len(ns) != 21+21*5+2 {
		t.Errorf("resnet20: %d state-dict entries, want %d", len(ns), 21+21*5+2)
	}
	if slices.Contains(ns, "layer1.0.downsample.0.weight") {
		t.Error("resnet20: layer1.0 has a projection shortcut")
	}
	for name, want := range map[string][]int{
		"conv1.weight":                      {16, 3, 3, 3},
		"layer2.0.conv1.weight":             {32, 16, 3, 3},
		"layer2.0.downsample.0.weight":      {32, 16, 1, 1},
		"layer3.0.downsample.1.running_var": {64},
		"layer3.2.conv2.weight":             {64, 64, 3, 3},
		"bn1.num_batches_tracked":           {1},
		"fc.weight":                         {10, 64},
		"fc.bias":                           {10},
	} {
		if got := shapeOf(r20, name); !slices.Equal(got, want) {
			t.Errorf("resnet20 %s: shape %v, want %v", name, got, want)
		}
	}

	pre := names(mustNew(t, "preactresnet18", Config{Width: 0.125}))
	wantPre := cat(one("conv1.weight"), bn("layer1.0.bn1"), one("layer1.0.conv1.weight"), bn("layer1.0.bn2"), one("layer1.0.conv2.weight"))
	if !slices.Equal(pre[:len(wantPre)], wantPre) {
		t.Errorf("preactresnet18 names start %v, want %v", pre[:len(wantPre)], wantPre)
	}
	if want := cat(bn("bn"), one("linear.weight", "linear.bias")); !slices.Equal(pre[len(pre)-7:], want) {
		t.Errorf("preactresnet18 names end %v, want %v", pre[len(pre)-7:], want)
	}
	for _, n := range []string{"layer2.0.shortcut.0.weight", "layer3.0.shortcut.0.weight", "layer4.0.shortcut.0.weight"} {
		if !slices.Contains(pre, n) {
			t.Errorf("preactresnet18 lacks %s", n)
		}
	}
	if slices.Contains(pre, "layer1.0.shortcut.0.weight") {
		t.Error("preactresnet18: layer1.0 has a projection shortcut")
	}

	wrn := defaultModel(t, "wrn-28-10")
	wn := names(wrn)
	wantW := cat(one("conv1.weight"), bn("block1.layer.0.bn1"), one("block1.layer.0.conv1.weight"),
		bn("block1.layer.0.bn2"), one("block1.layer.0.conv2.weight", "block1.layer.0.convShortcut.weight"), bn("block1.layer.1.bn1"))
	if !slices.Equal(wn[:len(wantW)], wantW) {
		t.Errorf("wrn-28-10 names start %v, want %v", wn[:len(wantW)], wantW)
	}
	if want := cat(bn("bn1"), one("fc.weight", "fc.bias")); !slices.Equal(wn[len(wn)-7:], want) {
		t.Errorf("wrn-28-10 names end %v, want %v", wn[len(wn)-7:], want)
	}
	for name, want := range map[string][]int{
		"block1.layer.0.convShortcut.weight": {160, 16, 1, 1},
		"block2.layer.0.conv1.weight":        {320, 160, 3, 3},
		"block3.layer.3.conv2.weight":        {640, 640, 3, 3},
		"fc.weight":                          {10, 640},
	} {
		if got := shapeOf(wrn, name); !slices.Equal(got, want) {
			t.Errorf("wrn-28-10 %s: shape %v, want %v", name, got, want)
		}
	}
	if !slices.Equal(names(mustNew(t, "wrn-28-10-swish", Config{Width: 0.1})), names(mustNew(t, "wrn-28-10", Config{Width: 0.1}))) {
		t.Error("wrn-28-10-swish names differ from wrn-28-10")
	}

	sc := names(defaultModel(t, "smallcnn"))
	var wantSC []string
	for _, l := range []string{"feature_extractor.conv1", "feature_extractor.conv2", "feature_extractor.conv3",
		"feature_extractor.conv4", "classifier.fc1", "classifier.fc2", "classifier.fc3"} {
		wantSC = append(wantSC, l+".weight", l+".bias")
	}
	if !slices.Equal(sc, wantSC) {
		t.Errorf("smallcnn names %v, want %v", sc, wantSC)
	}
}

func TestParamsBuffersPartitionStateDict(t *testing.T) {
	m := mustNew(t, "resnet8", Config{})
	ps, bs := m.Params(), m.Buffers()
	if len(ps)+len(bs) != len(StateDict(m)) {
		t.Fatalf("%d params + %d buffers != %d state-dict entries", len(ps), len(bs), len(StateDict(m)))
	}
	for _, p := range ps {
		if !p.Var.RequiresGrad() || !p.Var.IsLeaf() {
			t.Errorf("param %s is not a leaf requiring grad", p.Name)
		}
		if strings.HasSuffix(p.Name, "running_mean") || strings.HasSuffix(p.Name, numBatchesTracked) {
			t.Errorf("buffer %s listed as a param", p.Name)
		}
	}
	for _, b := range bs {
		if !strings.Contains(b.Name, "running_") && !strings.HasSuffix(b.Name, numBatchesTracked) {
			t.Errorf("unexpected buffer %s", b.Name)
		}
	}
}

func TestDeterministicInit(t *testing.T) {
	a, b := mustNew(t, "resnet8", Config{Seed: 5}), mustNew(t, "resnet8", Config{Seed: 5})
	c := mustNew(t, "resnet8", Config{Seed: 6})
	sa, sb, sc := StateDict(a), StateDict(b), StateDict(c)
	same := true
	for i := range sa {
		if !slices.Equal(sa[i].T.Data(), sb[i].T.Data()) {
			t.Fatalf("%s differs between two models of seed 5", sa[i].Name)
		}
		if sa[i].Name == "conv1.weight" && slices.Equal(sa[i].T.Data(), sc[i].T.Data()) {
			same = false
		}
	}
	if !same {
		t.Error("seeds 5 and 6 give the same conv1.weight")
	}
}

func TestInitStatistics(t *testing.T) {
	m := mustNew(t, "resnet56", Config{Seed: 11})
	var n int
	var sum, sq float64
	for _, p := range m.Params() {
		v := p.Var.Value
		switch {
		case strings.HasPrefix(p.Name, "layer3.") && strings.HasSuffix(p.Name, "conv2.weight"):
			for _, x := range v.Data() {
				sum += float64(x)
				sq += float64(x) * float64(x)
				n++
			}
		case strings.Contains(p.Name, "bn") && strings.HasSuffix(p.Name, ".weight"):
			if tensor.MinAll(v) != 1 || tensor.MaxAll(v) != 1 {
				t.Errorf("%s: not all ones", p.Name)
			}
		case strings.Contains(p.Name, "bn") && strings.HasSuffix(p.Name, ".bias"):
			if tensor.MinAll(v) != 0 || tensor.MaxAll(v) != 0 {
				t.Errorf("%s: not all zeros", p.Name)
			}
		case strings.HasPrefix(p.Name, "fc."):
			bound := float32(1 / math.Sqrt(64))
			if lo, hi := tensor.MinAll(v), tensor.MaxAll(v); lo < -bound || hi >= bound || hi-lo < bound {
				t.Errorf("%s: range [%v, %v], want spread over [−%v, %v)", p.Name, lo, hi, bound, bound)
			}
		}
	}
	// 9 blocks × 64·64·9 = 331,776 samples: the std is within ~0.3% of
	// sqrt(2/fan_out), fan_out = 64·3·3.
	mean := sum / float64(n)
	std := math.Sqrt(sq/float64(n) - mean*mean)
	want := math.Sqrt(2.0 / (64 * 9))
	if math.Abs(std-want)/want > 0.01 || math.Abs(mean) > 3*want/math.Sqrt(float64(n)) {
		t.Errorf("layer3 conv weights: mean %.3g, std %.5g; want 0 and %.5g", mean, std, want)
	}
	for _, b := range m.Buffers() {
		want := float32(0)
		if strings.HasSuffix(b.Name, "running_var") {
			want = 1
		}
		if tensor.MinAll(b.T) != want || tensor.MaxAll(b.T) != want {
			t.Errorf("%s: not all %v", b.Name, want)
		}
	}
}

func TestInitConvBiasSmallCNN(t *testing.T) {
	m := mustNew(t, "smallcnn", Config{Seed: 2})
	sd := StateMap(StateDict(m))
	w := sd["feature_extractor.conv3.weight"]
	fanOut, fanIn := 64*9, 32*9
	var sq float64
	for _, x := range w.Data() {
		sq += float64(x) * float64(x)
	}
	if std, want := math.Sqrt(sq/float64(w.Len())), math.Sqrt(2/float64(fanOut)); math.Abs(std-want)/want > 0.05 {
		t.Errorf("conv3.weight std %.4g, want %.4g", std, want)
	}
	b := sd["feature_extractor.conv3.bias"]
	if bound := float32(1 / math.Sqrt(float64(fanIn))); tensor.MinAll(b) < -bound || tensor.MaxAll(b) >= bound {
		t.Errorf("conv3.bias outside ±%v", bound)
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New("resnet18", Config{})
	if err == nil || !strings.Contains(err.Error(), `"resnet18"`) || !strings.Contains(err.Error(), strings.Join(Archs(), ", ")) {
		t.Errorf("unknown arch: error %v, want it to name the arch and list %v", err, Archs())
	}
	for _, c := range []struct {
		arch string
		cfg  Config
		want string
	}{
		{"resnet20", Config{InChannels: -1}, "InChannels = -1"},
		{"resnet20", Config{NumClasses: -3}, "NumClasses = -3"},
		{"resnet20", Config{Width: math.NaN()}, "Width = NaN"},
		{"resnet20", Config{Width: -1}, "Width = -1"},
		{"resnet20", Config{Mean: []float32{0.5}, Std: []float32{0.5}}, "one per input channel (3)"},
		{"resnet20", Config{Mean: []float32{0, 0, 0}, Std: []float32{1, 0, 1}}, "std[1] = 0"},
		{"smallcnn", Config{ImageSize: 12}, "ImageSize = 12"},
	} {
		t.Run(c.want, func(t *testing.T) {
			m, err := New(c.arch, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.arch) {
				t.Errorf("%s %+v: error %v, want one naming %s and containing %q", c.arch, c.cfg, err, c.arch, c.want)
			}
			if m != nil {
				t.Errorf("%s %+v: non-nil model with an error", c.arch, c.cfg)
			}
		})
	}
	if _, err := NewCIFARResNet(21, Config{}); err == nil || !strings.Contains(err.Error(), "6n+2") {
		t.Errorf("NewCIFARResNet(21): error %v", err)
	}
	if _, err := NewWideResNet(27, 10, false, Config{}); err == nil || !strings.Contains(err.Error(), "6n+4") {
		t.Errorf("NewWideResNet(27, 10): error %v", err)
	}
}

func TestArchNames(t *testing.T) {
	want := []string{"preactresnet18", "resnet20", "resnet32", "resnet56", "resnet8", "smallcnn", "wrn-28-10", "wrn-28-10-swish"}
	if !slices.Equal(Archs(), want) {
		t.Errorf("Archs() = %v, want %v", Archs(), want)
	}
	for _, a := range want {
		if m := mustNew(t, a, Config{Width: 0.1}); m.(*Net).Arch() != a {
			t.Errorf("New(%q).Arch() = %q", a, m.(*Net).Arch())
		}
	}
}

func TestSwishVariant(t *testing.T) {
	cfg := Config{Width: 0.1, Seed: 4}
	r, s := mustNew(t, "wrn-28-10", cfg), mustNew(t, "wrn-28-10-swish", cfg)
	for i, e := range StateDict(r) {
		if !slices.Equal(e.T.Data(), StateDict(s)[i].T.Data()) {
			t.Fatalf("%s differs between the ReLU and Swish models of one seed", e.Name)
		}
	}
	x := randInput(1, 2, 3, 16)
	if slices.Equal(evalLogits(r, x), evalLogits(s, x)) {
		t.Error("wrn-28-10-swish computes the same logits as wrn-28-10")
	}
}
