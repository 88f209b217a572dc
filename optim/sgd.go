package optim

import (
	"fmt"

	"github.com/bulwark-ml/bulwark/kernels"
)

// SGDConfig configures SGD; the fields mean what they do in torch.optim.SGD.
type SGDConfig struct {
	LR          float32 // learning rate, ≥ 0; usually driven by a Schedule through SetLR
	Momentum    float32 // ≥ 0; 0 is plain SGD
	Dampening   float32 // scales the new gradient in the momentum buffer by 1-Dampening
	WeightDecay float32 // L2 penalty coefficient, ≥ 0, added to the gradient
	Nesterov    bool    // Nesterov momentum; needs Momentum > 0 and Dampening 0
	// NoDecay, if set, exempts the parameters it returns true for from
	// weight decay, e.g. BiasAndNorm.
	NoDecay func(Param) bool
}

// SGD is stochastic gradient descent with momentum, as torch.optim.SGD
// computes it. For each parameter p with gradient ∇p and weight decay wd:
//
//	g = ∇p + wd·p
//	buf = g on the parameter's first step, else momentum·buf + (1-dampening)·g
//	g = g + momentum·buf if Nesterov, else buf   (only when momentum > 0)
//	p = p - lr·g
type SGD struct {
	paramSet
	momentum, dampening float32
	nesterov            bool
}

var _ Optimizer = (*SGD)(nil)

// NewSGD returns an SGD optimizer over params. It fails, naming the
// problem, if the configuration is invalid (it usually comes from flags)
// or a parameter has no value or a duplicate name.
func NewSGD(params []Param, cfg SGDConfig) (*SGD, error) {
	switch {
	case !(cfg.Momentum >= 0):
		return nil, fmt.Errorf("optim: SGD momentum %g is not a non-negative number", cfg.Momentum)
	case !(cfg.Dampening >= 0 && cfg.Dampening <= 1):
		return nil, fmt.Errorf("optim: SGD dampening %g is not in [0, 1]", cfg.Dampening)
	case cfg.Nesterov && (cfg.Momentum == 0 || cfg.Dampening != 0):
		return nil, fmt.Errorf("optim: SGD Nesterov momentum needs momentum > 0 and dampening 0, have %g and %g", cfg.Momentum, cfg.Dampening)
	}
	o := &SGD{momentum: cfg.Momentum, dampening: cfg.Dampening, nesterov: cfg.Nesterov}
	var slots []string
	if cfg.Momentum != 0 {
		slots = []string{"momentum_buffer"}
	}
	if err := o.init("SGD", params, cfg.LR, cfg.WeightDecay, cfg.NoDecay, o.update, slots...); err != nil {
		return nil, err
	}
	return o, nil
}

// Step updates every parameter that has a gradient.
func (o *SGD) Step() {
	o.begin()
	o.run.run()
}

// update applies the SGD rule to one chunk of one parameter.
func (o *SGD) update(c chunk, p, g []float32) {
	lr, wd, m := o.lr, o.decay[c.t], o.momentum
	if m == 0 {
		// p - lr·(g + wd·p) = (1 - lr·wd)·p - lr·g
		if wd != 0 {
			kernels.Scale(1-lr*wd, p)
		}
		kernels.Axpy(-lr, g, p)
		return
	}
	buf := o.slot(0, c)
	if o.count[c.t] == 1 {
		copy(buf, g)
		if wd != 0 {
			kernels.Axpy(wd, p, buf)
		}
	} else {
		kernels.Scale(m, buf)
		kernels.Axpy(1-o.dampening, g, buf)
		if wd != 0 {
			kernels.Axpy((1-o.dampening)*wd, p, buf)
		}
	}
	if !o.nesterov {
		kernels.Axpy(-lr, buf, p)
		return
	}
	// p - lr·(g + wd·p + m·buf), with the decay term on the old p.
	if wd != 0 {
		kernels.Scale(1-lr*wd, p)
	}
	kernels.Axpy(-lr, g, p)
	kernels.Axpy(-lr*m, buf, p)
}
