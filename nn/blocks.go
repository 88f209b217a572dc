package nn

import (
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/tensor"
)

// activation is the elementwise nonlinearity of a block.
type activation uint8

const (
	relu  activation = iota // (*autograd.Tape).Relu
	swish                   // (*autograd.Tape).SiLU
)

// afterNorm applies the activation to BatchNorm bn of x; a ReLU runs
// fused with the normalization (autograd's BatchNorm2dReLU: the same bits,
// one pass and one stored tensor fewer).
func (a activation) afterNorm(tp *autograd.Tape, bn *BatchNorm2d, x *autograd.Var) *autograd.Var {
	if a == relu {
		return bn.forward(tp, x, true)
	}
	return tp.SiLU(bn.Forward(tp, x))
}

// needsProjection reports whether a residual block from cin to cout
// channels at the given stride needs a 1×1 projection shortcut.
func needsProjection(cin, cout, stride int) bool { return stride != 1 || cin != cout }

// BasicBlock is the post-activation residual block of He et al. (2016) as
// torchvision builds it:
//
//	out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
//
// with 3×3 convolutions (conv1 carries the stride) and shortcut(x) = x, or
// the projection downsample = Sequential(1×1 conv, BatchNorm2d) where the
// shape changes. State: conv1.weight, bn1.*, conv2.weight, bn2.*, and
// downsample.0.weight, downsample.1.* if projecting.
type BasicBlock struct {
	base
	conv1, conv2 *Conv2d
	bn1, bn2     *BatchNorm2d
	downsample   *Sequential // nil for the identity shortcut
}

// NewBasicBlock returns a BasicBlock from cin to cout channels.
func NewBasicBlock(rng *tensor.RNG, cin, cout, stride int) *BasicBlock {
	b := &BasicBlock{
		conv1: conv3x3(rng, cin, cout, stride),
		bn1:   NewBatchNorm2d(cout),
		conv2: conv3x3(rng, cout, cout, 1),
		bn2:   NewBatchNorm2d(cout),
	}
	b.add("conv1", b.conv1)
	b.add("bn1", b.bn1)
	b.add("conv2", b.conv2)
	b.add("bn2", b.bn2)
	if needsProjection(cin, cout, stride) {
		b.downsample = NewSequential(conv1x1(rng, cin, cout, stride), NewBatchNorm2d(cout))
		b.add("downsample", b.downsample)
	}
	return b
}

// Forward applies the block to x [N, cin, H, W].
func (b *BasicBlock) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	out := relu.afterNorm(tp, b.bn1, b.conv1.Forward(tp, x))
	out = b.bn2.Forward(tp, b.conv2.Forward(tp, out))
	sc := x
	if b.downsample != nil {
		sc = b.downsample.Forward(tp, x)
	}
	return tp.AddReLU(out, sc)
}

// shortcutStyle names the projection shortcut of a PreActBlock the way a
// model family's public PyTorch code does.
type shortcutStyle int

const (
	// shortcutSeq is PreActResNet's "shortcut" = Sequential(conv):
	// shortcut.0.weight.
	shortcutSeq shortcutStyle = iota
	// shortcutConv is WideResNet's bare "convShortcut" conv:
	// convShortcut.weight.
	shortcutConv
)

// PreActBlock is the pre-activation residual block of He et al. (2016,
// "Identity mappings"), shared by PreActResNet and WideResNet:
//
//	a   = act(bn1(x))
//	out = conv2(act(bn2(conv1(a)))) + shortcut
//
// where shortcut is x itself, or a 1×1 convolution (stride as conv1) of a
// where the shape changes. State: bn1.*, conv1.weight, bn2.*,
// conv2.weight, then shortcut.0.weight (PreActResNet) or
// convShortcut.weight (WideResNet) if projecting.
type PreActBlock struct {
	base
	bn1, bn2     *BatchNorm2d
	conv1, conv2 *Conv2d
	shortcut     Module // nil for the identity
	act          activation
}

// newPreActBlock returns a PreActBlock from cin to cout channels.
func newPreActBlock(rng *tensor.RNG, cin, cout, stride int, act activation, style shortcutStyle) *PreActBlock {
	b := &PreActBlock{
		bn1:   NewBatchNorm2d(cin),
		conv1: conv3x3(rng, cin, cout, stride),
		bn2:   NewBatchNorm2d(cout),
		conv2: conv3x3(rng, cout, cout, 1),
		act:   act,
	}
	b.add("bn1", b.bn1)
	b.add("conv1", b.conv1)
	b.add("bn2", b.bn2)
	b.add("conv2", b.conv2)
	if needsProjection(cin, cout, stride) {
		proj := conv1x1(rng, cin, cout, stride)
		if style == shortcutSeq {
			b.shortcut = NewSequential(proj)
			b.add("shortcut", b.shortcut)
		} else {
			b.shortcut = proj
			b.add("convShortcut", b.shortcut)
		}
	}
	return b
}

// Forward applies the block to x [N, cin, H, W].
func (b *PreActBlock) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	a := b.act.afterNorm(tp, b.bn1, x)
	sc := x
	if b.shortcut != nil {
		sc = b.shortcut.Forward(tp, a)
	}
	out := b.act.afterNorm(tp, b.bn2, b.conv1.Forward(tp, a))
	return tp.Add(b.conv2.Forward(tp, out), sc)
}
