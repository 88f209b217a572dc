package nn

import (
	"fmt"
	"strconv"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Conv2d is a 2-D convolution over NCHW input, as torch.nn.Conv2d; its
// state is "weight" [cout, cin/groups, k, k] and, if it has one, "bias"
// [cout].
type Conv2d struct {
	base
	Weight *autograd.Var
	Bias   *autograd.Var // nil without bias
	P      tensor.ConvParams
}

// NewConv2d returns a k×k convolution from cin to cout channels with the
// given stride, padding, dilation and groups, initialised as the package
// doc describes. It panics if cin or cout is not a positive multiple of the
// group count.
func NewConv2d(rng *tensor.RNG, cin, cout, k int, p tensor.ConvParams, bias bool) *Conv2d {
	g := max(p.Groups, 1)
	if cin < 1 || cout < 1 || k < 1 || cin%g != 0 || cout%g != 0 {
		panic(fmt.Sprintf("nn.NewConv2d: invalid cin %d, cout %d, kernel %d for %d groups", cin, cout, k, g))
	}
	c := &Conv2d{P: p}
	c.Weight = c.param("weight", KaimingNormalFanOut(rng, tensor.New(cout, cin/g, k, k)))
	if bias {
		c.Bias = c.param("bias", UniformFanIn(rng, tensor.New(cout), cin/g*k*k))
	}
	return c
}

// conv3x3 is the padded 3×3 convolution without bias of the ResNets.
func conv3x3(rng *tensor.RNG, cin, cout, stride int) *Conv2d {
	return NewConv2d(rng, cin, cout, 3, tensor.ConvParams{StrideH: stride, StrideW: stride, PadH: 1, PadW: 1}, false)
}

// conv1x1 is the 1×1 projection convolution without bias of the ResNets.
func conv1x1(rng *tensor.RNG, cin, cout, stride int) *Conv2d {
	return NewConv2d(rng, cin, cout, 1, tensor.ConvParams{StrideH: stride, StrideW: stride}, false)
}

// Forward convolves x [N, cin, H, W].
func (c *Conv2d) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Conv2d(x, c.Weight, c.Bias, c.P)
}

// BatchNorm2d normalizes each channel of NCHW input, as
// torch.nn.BatchNorm2d with affine weights and running statistics; its
// state is "weight", "bias", "running_mean", "running_var" (all [C]) and
// "num_batches_tracked" ([1], see the package doc).
type BatchNorm2d struct {
	base
	Weight, Bias *autograd.Var
	State        autograd.BatchNormState
	// NumBatchesTracked counts the forward passes in training mode.
	NumBatchesTracked *tensor.Tensor
}

// NewBatchNorm2d returns a BatchNorm2d over c channels with PyTorch's
// defaults: momentum 0.1, eps 1e-5, weight 1, bias 0, running mean 0 and
// running variance 1.
func NewBatchNorm2d(c int) *BatchNorm2d {
	b := &BatchNorm2d{}
	b.Weight = b.param("weight", tensor.New(c).Fill(1))
	b.Bias = b.param("bias", tensor.New(c))
	b.State = autograd.BatchNormState{
		RunningMean: b.buffer("running_mean", tensor.New(c)),
		RunningVar:  b.buffer("running_var", tensor.New(c).Fill(1)),
		Momentum:    0.1,
		Eps:         1e-5,
	}
	b.NumBatchesTracked = b.buffer(numBatchesTracked, tensor.New(1))
	return b
}

// Forward normalizes x [N, C, H, W]: with batch statistics, updating the
// running ones, in training mode; with the running statistics in
// evaluation mode.
func (b *BatchNorm2d) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return b.forward(tp, x, false)
}

// forward is Forward, followed by a ReLU (fused) if relu.
func (b *BatchNorm2d) forward(tp *autograd.Tape, x *autograd.Var, relu bool) *autograd.Var {
	if b.Training() {
		b.NumBatchesTracked.Data()[0]++
	}
	if relu {
		return tp.BatchNorm2dReLU(x, b.Weight, b.Bias, &b.State, b.Training())
	}
	return tp.BatchNorm2d(x, b.Weight, b.Bias, &b.State, b.Training())
}

// Linear is a fully connected layer y = x·Wᵀ + b, as torch.nn.Linear; its
// state is "weight" [out, in] and, if it has one, "bias" [out].
type Linear struct {
	base
	Weight *autograd.Var
	Bias   *autograd.Var // nil without bias
}

// NewLinear returns a Linear layer from in to out features with PyTorch's
// default initialisation.
func NewLinear(rng *tensor.RNG, in, out int, bias bool) *Linear {
	if in < 1 || out < 1 {
		panic(fmt.Sprintf("nn.NewLinear: invalid sizes in %d, out %d", in, out))
	}
	l := &Linear{}
	l.Weight = l.param("weight", UniformFanIn(rng, tensor.New(out, in), in))
	if bias {
		l.Bias = l.param("bias", UniformFanIn(rng, tensor.New(out), in))
	}
	return l
}

// Forward maps x [N, in] to [N, out].
func (l *Linear) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Linear(x, l.Weight, l.Bias)
}

// ReLU is the elementwise max(x, 0).
type ReLU struct{ base }

// Forward applies ReLU.
func (*ReLU) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return tp.Relu(x) }

// SiLU is the elementwise x·sigmoid(x), also called Swish.
type SiLU struct{ base }

// Forward applies SiLU.
func (*SiLU) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return tp.SiLU(x) }

// Flatten reshapes [N, ...] to [N, rest].
type Flatten struct{ base }

// Forward flattens x.
func (*Flatten) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return tp.Flatten(x) }

// MaxPool is 2-D max pooling over NCHW input.
type MaxPool struct {
	base
	P tensor.PoolParams
}

// NewMaxPool returns k×k max pooling with stride k and no padding, as
// torch.nn.MaxPool2d(k).
func NewMaxPool(k int) *MaxPool {
	return &MaxPool{P: tensor.PoolParams{KernelH: k, KernelW: k}}
}

// Forward pools x.
func (p *MaxPool) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.MaxPool2d(x, p.P)
}

// GlobalAvgPool averages each channel plane: [N, C, H, W] to [N, C], the
// adaptive average pooling to 1×1 plus flatten of torchvision's heads.
type GlobalAvgPool struct{ base }

// Forward pools x.
func (*GlobalAvgPool) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.GlobalAvgPool2d(x)
}

// Normalize standardizes each input channel, (x − mean[c]) / std[c], so a
// model takes images in [0,1] and keeps its normalization inside. Mean and
// std are fixed constants, not state-dict entries. The division is done as
// a multiplication by 1/std, which may differ from PyTorch's division in the
// last bit.
type Normalize struct {
	base
	mean, invStd *autograd.Var // constants [1, C, 1, 1]
}

// NewNormalize returns a Normalize for len(mean) channels. mean and std
// usually come from a config, so it returns an error if their lengths
// differ or are zero, or if a std is not positive and finite.
func NewNormalize(mean, std []float32) (*Normalize, error) {
	if len(mean) == 0 || len(mean) != len(std) {
		return nil, fmt.Errorf("nn.NewNormalize: mean has %d values and std %d; want one per channel", len(mean), len(std))
	}
	c := len(mean)
	m, s := tensor.New(1, c, 1, 1), tensor.New(1, c, 1, 1)
	for i := range c {
		if !(std[i] > 0) || std[i] > 3.4e38 {
			return nil, fmt.Errorf("nn.NewNormalize: std[%d] = %v; want a positive finite value", i, std[i])
		}
		m.Data()[i], s.Data()[i] = mean[i], 1/std[i]
	}
	return &Normalize{mean: autograd.Leaf(m, false), invStd: autograd.Leaf(s, false)}, nil
}

// Channels returns the number of channels n normalizes.
func (n *Normalize) Channels() int { return n.mean.Value.Len() }

// Forward normalizes x [N, C, H, W].
func (n *Normalize) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Mul(tp.Sub(x, n.mean), n.invStd)
}

// Sequential applies its children in order, as torch.nn.Sequential.
type Sequential struct {
	base
	layers []Module
}

// NewSequential returns a Sequential of mods, named "0", "1", ... in the
// state dict, as torch.nn.Sequential(*mods).
func NewSequential(mods ...Module) *Sequential {
	s := &Sequential{}
	for _, m := range mods {
		s.Append(strconv.Itoa(len(s.layers)), m)
	}
	return s
}

// Append adds m as the last child, named name in the state dict (as in
// torch.nn.Sequential(OrderedDict(...))), and returns s. m takes s's
// mode.
func (s *Sequential) Append(name string, m Module) *Sequential {
	m.SetTrain(s.Training())
	s.add(name, m)
	s.layers = append(s.layers, m)
	return s
}

// Len returns the number of children.
func (s *Sequential) Len() int { return len(s.layers) }

// At returns the i-th child.
func (s *Sequential) At(i int) Module { return s.layers[i] }

// Forward applies the children in order.
func (s *Sequential) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return forwardAll(tp, x, s.layers)
}

// forwardAll applies mods to x in order. A Conv2d or BatchNorm2d
// directly followed by a ReLU runs as one op (autograd's Conv2dReLU,
// BatchNorm2dReLU), which saves a pass over memory and the unrectified
// output; values and gradients are the same bits.
func forwardAll(tp *autograd.Tape, x *autograd.Var, mods []Module) *autograd.Var {
	for i := 0; i < len(mods); i++ {
		if i+1 < len(mods) {
			if _, ok := mods[i+1].(*ReLU); ok {
				switch m := mods[i].(type) {
				case *Conv2d:
					x = tp.Conv2dReLU(x, m.Weight, m.Bias, m.P)
					i++
					continue
				case *BatchNorm2d:
					x = m.forward(tp, x, true)
					i++
					continue
				}
			}
		}
		x = mods[i].Forward(tp, x)
	}
	return x
}
