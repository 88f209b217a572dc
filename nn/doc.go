// Package nn holds bulwark's neural-network modules, the models built from
// them, and their state dicts.
//
// Start with New(arch, Config) to build a model, or Load to read one from a
// weights file (bulwark's or PyTorch's); Save writes one.
//
// # Modules
//
// A Module maps a batch to a batch on an autograd.Tape:
//
//	model, err := nn.New("resnet20", nn.Config{NumClasses: 10, Seed: 1})
//	logits := model.Forward(tp, autograd.Leaf(images, false))
//
// Layers: Conv2d, BatchNorm2d, Linear, ReLU, SiLU, Flatten, MaxPool,
// GlobalAvgPool, Normalize and the container Sequential. Models: the CIFAR
// ResNets of He et al. (resnet8/20/32/56), PreActResNet-18, WideResNet-28-10
// with ReLU or Swish (SiLU), and the SmallCNN of TRADES; New builds them by
// name and every model is a FeatureModel, whose Features returns the
// penultimate feature vector used as the pruning embedding.
//
// SetTrain switches a module and all its children between training mode
// (BatchNorm normalizes with batch statistics and updates its running
// averages) and evaluation mode (running averages). New modules start in
// training mode, as in PyTorch. A module is not safe for concurrent
// Forward calls in training mode, since BatchNorm updates its buffers.
//
// # State dicts
//
// StateDict lists every parameter and buffer under the name PyTorch would
// give it, in PyTorch's order (each module's parameters, then its buffers,
// then its children, in registration order), so weights exchange with
// PyTorch through safetensors files. LoadStateDict checks names and shapes
// strictly and reports every problem in one *StateDictError.
// docs/models.md lists the names and shapes of every model.
//
// BatchNorm's num_batches_tracked, an int64 scalar (shape []) in PyTorch, is
// kept as a float32 tensor of shape [1] and exported that way; PyTorch's
// load_state_dict accepts a one-element tensor for a scalar buffer and casts
// it to int64. LoadStateDict accepts it with shape [] or [1].
//
// # Initialisation
//
// Constructors draw from a tensor.RNG, so a seed fixes every weight:
// convolution weights are Kaiming-normal with fan_out and ReLU gain
// (std = sqrt(2/(cout·kh·kw))), as torchvision's ResNets do; convolution
// biases and Linear layers follow PyTorch's defaults, U(−1/sqrt(fan_in),
// 1/sqrt(fan_in)); BatchNorm starts with weight 1, bias 0, running mean 0
// and running variance 1.
package nn
