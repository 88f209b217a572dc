package nn

import (
	"math"

	"github.com/bulwark-ml/bulwark/tensor"
)

// KaimingNormalFanOut fills w, a convolution weight [cout, cin/groups, kh,
// kw] (or a Linear weight [out, in]), from N(0, 2/fan_out) with fan_out =
// cout·kh·kw: PyTorch's kaiming_normal_(mode="fan_out",
// nonlinearity="relu"), as torchvision's ResNets initialise convolutions.
func KaimingNormalFanOut(rng *tensor.RNG, w *tensor.Tensor) *tensor.Tensor {
	fanOut := w.Len() / w.Dim(1)
	return rng.Normal(w, 0, float32(math.Sqrt(2/float64(fanOut))))
}

// UniformFanIn fills t from U(−1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's
// default initialisation of Linear weights (kaiming_uniform_ with
// a=sqrt(5) reduces to this bound) and of Linear and Conv2d biases.
func UniformFanIn(rng *tensor.RNG, t *tensor.Tensor, fanIn int) *tensor.Tensor {
	bound := float32(1 / math.Sqrt(float64(fanIn)))
	return rng.Uniform(t, -bound, bound)
}
