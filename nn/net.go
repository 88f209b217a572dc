package nn

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/tensor"
)

// FeatureModel is a classifier whose penultimate features can be read out:
// Forward(x) is a linear head applied to Features(x).
type FeatureModel interface {
	Module
	// Features returns the penultimate feature vectors [N, FeatureDim()]
	// (the global-average-pooled activations for the ResNets), the
	// embedding of the pruning pipeline.
	Features(tp *autograd.Tape, x *autograd.Var) *autograd.Var
	// FeatureDim returns the length of a feature vector.
	FeatureDim() int
}

// Net is a model built by this package: an optional input Normalize, a
// feature extractor giving one vector per sample, and a linear head.
type Net struct {
	base
	arch       string
	norm       *Normalize // nil without input normalization
	body       []Module   // the feature extractor, applied in order
	head       *Linear
	featureDim int
}

// Arch returns the registry name of the model, e.g. "resnet20".
func (n *Net) Arch() string { return n.arch }

// FeatureDim returns the length of a feature vector.
func (n *Net) FeatureDim() int { return n.featureDim }

// NumClasses returns the number of logits per sample.
func (n *Net) NumClasses() int { return n.head.Weight.Value.Dim(0) }

// Features returns the penultimate features of x [N, C, H, W].
func (n *Net) Features(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if n.norm != nil {
		x = n.norm.Forward(tp, x)
	}
	return forwardAll(tp, x, n.body)
}

// Forward returns the logits [N, NumClasses()] of x [N, C, H, W].
func (n *Net) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return n.head.Forward(tp, n.Features(tp, x))
}

// Config configures a model. Zero fields take the defaults noted.
type Config struct {
	// InChannels is the number of input channels: 3 by default (1 for
	// smallcnn).
	InChannels int
	// NumClasses is the number of logits: 10 by default.
	NumClasses int
	// Width multiplies the channel count of every convolution (rounded,
	// at least 1): 1 by default.
	Width float64
	// ImageSize is the side of the square input images. Only smallcnn
	// depends on it (its first Linear layer's fan-in): 28 by default;
	// the ResNets pool globally and take any size.
	ImageSize int
	// Mean and Std, if set, add a Normalize of the input with one value
	// per input channel in front of the model. It is not part of the
	// state dict.
	Mean, Std []float32
	// Seed seeds the initialisation.
	Seed uint64
}

// resolved is a checked Config with defaults filled in.
type resolved struct {
	Config
	rng  *tensor.RNG
	norm *Normalize
}

// resolve checks cfg for arch and fills in the defaults; smallCNN selects
// that model's defaults.
func (cfg Config) resolve(arch string, smallCNN bool) (*resolved, error) {
	fail := func(format string, args ...any) (*resolved, error) {
		return nil, fmt.Errorf("nn: config for %s: %s", arch, fmt.Sprintf(format, args...))
	}
	def := func(v *int, d int, name string) error {
		if *v < 0 {
			return fmt.Errorf("nn: config for %s: %s = %d, want > 0 (or 0 for the default %d)", arch, name, *v, d)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	inDefault := 3
	if smallCNN {
		inDefault = 1
	}
	for _, f := range []struct {
		v    *int
		d    int
		name string
	}{{&cfg.InChannels, inDefault, "InChannels"}, {&cfg.NumClasses, 10, "NumClasses"}, {&cfg.ImageSize, 28, "ImageSize"}} {
		if err := def(f.v, f.d, f.name); err != nil {
			return nil, err
		}
	}
	if math.IsNaN(cfg.Width) || math.IsInf(cfg.Width, 0) || cfg.Width < 0 {
		return fail("Width = %v, want > 0 (or 0 for the default 1)", cfg.Width)
	}
	if cfg.Width == 0 {
		cfg.Width = 1
	}
	r := &resolved{Config: cfg, rng: tensor.NewRNG(cfg.Seed)}
	if cfg.Mean != nil || cfg.Std != nil {
		if len(cfg.Mean) != cfg.InChannels || len(cfg.Std) != cfg.InChannels {
			return fail("Mean has %d values and Std %d, want one per input channel (%d)", len(cfg.Mean), len(cfg.Std), cfg.InChannels)
		}
		norm, err := NewNormalize(cfg.Mean, cfg.Std)
		if err != nil {
			return fail("%v", err)
		}
		r.norm = norm
	}
	return r, nil
}

// ch scales a base channel count by the width multiplier.
func (r *resolved) ch(c int) int { return max(1, int(math.Round(float64(c)*r.Width))) }

// newNet starts a Net for arch with r's normalization.
func (r *resolved) newNet(arch string) *Net { return &Net{arch: arch, norm: r.norm} }

// stage registers m under name and appends it to the feature extractor.
func (n *Net) stage(name string, m Module) {
	n.add(name, m)
	n.body = append(n.body, m)
}

// op appends a parameterless m to the feature extractor without a
// state-dict name.
func (n *Net) op(m Module) { n.body = append(n.body, m) }

// setHead registers the classifier under name (unless it is registered
// already, as inside SmallCNN's classifier).
func (n *Net) setHead(name string, features, classes int, r *resolved) {
	n.head = NewLinear(r.rng, features, classes, true)
	n.featureDim = features
	if name != "" {
		n.add(name, n.head)
	}
}

// NewCIFARResNet returns the CIFAR ResNet of He et al. (2016, section 4.2)
// of the given depth (6n+2: 8, 20, 32, 56, ...): a 3×3 conv stem of 16
// channels with BatchNorm and ReLU, three stages (layer1..layer3) of n
// BasicBlocks with 16, 32 and 64 channels (times Width), the first block
// of layer2 and layer3 with stride 2 and a projection shortcut, global
// average pooling and a Linear head (fc). State-dict names follow
// torchvision's ResNet.
func NewCIFARResNet(depth int, cfg Config) (*Net, error) {
	arch := fmt.Sprintf("resnet%d", depth)
	if depth < 8 || (depth-2)%6 != 0 {
		return nil, fmt.Errorf("nn: %s: depth %d, want 6n+2 with n ≥ 1", arch, depth)
	}
	n, r, c, err := newResNet(arch, cfg, 16)
	if err != nil {
		return nil, err
	}
	n.stage("bn1", NewBatchNorm2d(c))
	n.op(&ReLU{})
	c = n.resStages(r, c, []int{16, 32, 64}, (depth-2)/6, "layer%d",
		func(cin, cout, stride int) Module { return NewBasicBlock(r.rng, cin, cout, stride) }, nil)
	n.op(&GlobalAvgPool{})
	n.setHead("fc", c, r.NumClasses, r)
	return n, nil
}

// newResNet resolves cfg for the ResNet arch and starts its Net with the
// stem the ResNets share: a 3×3 conv (conv1) of width channels (times
// Width), whose channel count it returns as c.
func newResNet(arch string, cfg Config, width int) (n *Net, r *resolved, c int, err error) {
	if r, err = cfg.resolve(arch, false); err != nil {
		return nil, nil, 0, err
	}
	n, c = r.newNet(arch), r.ch(width)
	n.stage("conv1", conv3x3(r.rng, r.InChannels, c, 1))
	return n, r, c, nil
}

// resStages appends to n the residual stages the ResNets share: for each
// width w (times Width), a Sequential of blocks blocks made by block, the
// first of them with stride 2 in every stage but the first, named by the
// format name with the stage's number from 1 and, if wrap is not nil,
// wrapped by it. It returns the final channel count.
func (n *Net) resStages(r *resolved, cin int, widths []int, blocks int, name string,
	block func(cin, cout, stride int) Module, wrap func(*Sequential) Module) int {
	for s, w := range widths {
		cout, layer := r.ch(w), NewSequential()
		for i := range blocks {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			layer.Append(fmt.Sprint(i), block(cin, cout, stride))
			cin = cout
		}
		var m Module = layer
		if wrap != nil {
			m = wrap(layer)
		}
		n.stage(fmt.Sprintf(name, s+1), m)
	}
	return cin
}

// NewPreActResNet18 returns PreActResNet-18 (He et al. 2016, "Identity
// mappings") as the adversarial-training literature uses it for CIFAR
// (e.g. Rice et al. 2020): a 3×3 conv stem of 64 channels (conv1), four
// stages layer1..layer4 of two PreActBlocks with 64, 128, 256 and 512
// channels (times Width; stride 2 at the first block of stages 2-4), a
// final BatchNorm (bn) and ReLU, global average pooling and a Linear head
// (linear).
func NewPreActResNet18(cfg Config) (*Net, error) {
	const arch = "preactresnet18"
	n, r, c, err := newResNet(arch, cfg, 64)
	if err != nil {
		return nil, err
	}
	c = n.resStages(r, c, []int{64, 128, 256, 512}, 2, "layer%d",
		func(cin, cout, stride int) Module { return newPreActBlock(r.rng, cin, cout, stride, relu, shortcutSeq) }, nil)
	n.stage("bn", NewBatchNorm2d(c))
	n.op(&ReLU{})
	n.op(&GlobalAvgPool{})
	n.setHead("linear", c, r.NumClasses, r)
	return n, nil
}

// NewWideResNet returns WideResNet-depth-widen (Zagoruyko & Komodakis
// 2016) without dropout, with ReLU or, if swish, SiLU activations (the
// variant of Wang et al. 2023): a 3×3 conv stem of 16 channels (conv1),
// three groups block1..block3 of (depth−4)/6 PreActBlocks with 16·widen,
// 32·widen and 64·widen channels (times Width; stride 2 at the first block
// of groups 2 and 3), a final BatchNorm (bn1) and activation, global
// average pooling and a Linear head (fc). Names follow the common PyTorch
// WideResNet of the TRADES and robust-overfitting code: each group's
// blocks sit in blockK.layer.
func NewWideResNet(depth, widen int, swishAct bool, cfg Config) (*Net, error) {
	arch := fmt.Sprintf("wrn-%d-%d", depth, widen)
	act := relu
	if swishAct {
		arch += "-swish"
		act = swish
	}
	if depth < 10 || (depth-4)%6 != 0 || widen < 1 {
		return nil, fmt.Errorf("nn: %s: depth %d and widen factor %d, want depth 6n+4 with n ≥ 1 and widen ≥ 1", arch, depth, widen)
	}
	n, r, c, err := newResNet(arch, cfg, 16)
	if err != nil {
		return nil, err
	}
	c = n.resStages(r, c, []int{16 * widen, 32 * widen, 64 * widen}, (depth-4)/6, "block%d",
		func(cin, cout, stride int) Module { return newPreActBlock(r.rng, cin, cout, stride, act, shortcutConv) },
		func(s *Sequential) Module { return NewSequential().Append("layer", s) })
	n.stage("bn1", NewBatchNorm2d(c))
	if swishAct {
		n.op(&SiLU{})
	} else {
		n.op(&ReLU{})
	}
	n.op(&GlobalAvgPool{})
	n.setHead("fc", c, r.NumClasses, r)
	return n, nil
}

// NewSmallCNN returns the small CNN of TRADES (Zhang et al. 2019) for
// MNIST, without its dropout (identity at evaluation):
//
//	feature_extractor: conv1 3×3 32, ReLU, conv2 3×3 32, ReLU, maxpool 2,
//	                   conv3 3×3 64, ReLU, conv4 3×3 64, ReLU, maxpool 2
//	classifier:        fc1 200, ReLU, fc2 200, ReLU, fc3 NumClasses
//
// The convolutions are unpadded and have biases; Width scales their
// channels. For 28×28 input the flattened features are 64·4·4 = 1024.
// Features returns the 200 activations after fc2's ReLU.
func NewSmallCNN(cfg Config) (*Net, error) {
	const arch = "smallcnn"
	r, err := cfg.resolve(arch, true)
	if err != nil {
		return nil, err
	}
	side := ((r.ImageSize-4)/2 - 4) / 2
	if side < 1 {
		return nil, fmt.Errorf("nn: config for %s: ImageSize = %d, want ≥ 16", arch, r.ImageSize)
	}
	n := r.newNet(arch)
	c1, c2 := r.ch(32), r.ch(64)
	conv := func(cin, cout int) *Conv2d { return NewConv2d(r.rng, cin, cout, 3, tensor.ConvParams{}, true) }
	fe := NewSequential().
		Append("conv1", conv(r.InChannels, c1)).Append("relu1", &ReLU{}).
		Append("conv2", conv(c1, c1)).Append("relu2", &ReLU{}).
		Append("maxpool1", NewMaxPool(2)).
		Append("conv3", conv(c1, c2)).Append("relu3", &ReLU{}).
		Append("conv4", conv(c2, c2)).Append("relu4", &ReLU{}).
		Append("maxpool2", NewMaxPool(2))
	n.stage("feature_extractor", fe)
	n.op(&Flatten{})
	fc1 := NewLinear(r.rng, c2*side*side, 200, true)
	fc2 := NewLinear(r.rng, 200, 200, true)
	n.setHead("", 200, r.NumClasses, r)
	cls := NewSequential().
		Append("fc1", fc1).Append("relu1", &ReLU{}).
		Append("fc2", fc2).Append("relu2", &ReLU{}).
		Append("fc3", n.head)
	n.add("classifier", cls)
	n.body = append(n.body, fc1, &ReLU{}, fc2, &ReLU{})
	return n, nil
}

// builders maps each registry name to its constructor.
var builders = map[string]func(Config) (*Net, error){
	"resnet8":         func(c Config) (*Net, error) { return NewCIFARResNet(8, c) },
	"resnet20":        func(c Config) (*Net, error) { return NewCIFARResNet(20, c) },
	"resnet32":        func(c Config) (*Net, error) { return NewCIFARResNet(32, c) },
	"resnet56":        func(c Config) (*Net, error) { return NewCIFARResNet(56, c) },
	"preactresnet18":  NewPreActResNet18,
	"wrn-28-10":       func(c Config) (*Net, error) { return NewWideResNet(28, 10, false, c) },
	"wrn-28-10-swish": func(c Config) (*Net, error) { return NewWideResNet(28, 10, true, c) },
	"smallcnn":        NewSmallCNN,
}

// Archs returns the names New knows, sorted.
func Archs() []string {
	names := make([]string, 0, len(builders))
	for k := range builders {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// New builds the model named arch (one of Archs()) from cfg. arch and cfg
// usually come from flags or config files, so an unknown name or an
// invalid config is an error naming it.
func New(arch string, cfg Config) (FeatureModel, error) {
	b, ok := builders[arch]
	if !ok {
		return nil, fmt.Errorf("nn.New: unknown architecture %q; known: %s", arch, strings.Join(Archs(), ", "))
	}
	n, err := b(cfg)
	if err != nil {
		return nil, err
	}
	return n, nil
}
