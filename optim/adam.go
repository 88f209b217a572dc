package optim

import (
	"fmt"
	"math"
)

// AdamConfig configures Adam; the fields mean what they do in
// torch.optim.Adam and torch.optim.AdamW.
type AdamConfig struct {
	LR float32 // learning rate, ≥ 0
	// Beta1 and Beta2 are the moment decay rates, in [0, 1). Both zero
	// means PyTorch's defaults, 0.9 and 0.999.
	Beta1, Beta2 float32
	Eps          float32 // added to the denominator; 0 means 1e-8
	WeightDecay  float32 // ≥ 0; an L2 term in the gradient, or decoupled
	// Decoupled applies weight decay directly to the weights, as AdamW
	// does: p = p·(1 - lr·wd) before the Adam update.
	Decoupled bool
	// NoDecay, if set, exempts the parameters it returns true for from
	// weight decay, e.g. BiasAndNorm.
	NoDecay func(Param) bool
}

// Adam is the Adam optimizer (AdamW with Decoupled), as torch.optim.Adam
// computes it without amsgrad. For a parameter p at its step t (counting
// from 1) with gradient ∇p:
//
//	g = ∇p + wd·p              (or p = p·(1 - lr·wd) when Decoupled)
//	m = m + (1-β1)·(g - m)
//	v = β2·v + (1-β2)·g²
//	p = p - lr/(1-β1^t) · m / (√v/√(1-β2^t) + eps)
//
// The update is one fused pass per chunk: the vector kernels have no
// square root or division, and one pass reads each array once.
type Adam struct {
	paramSet
	beta1, beta2, eps float32
	decoupled         bool
	stepSize, bc2Sqrt []float32 // per parameter, for this step
}

var _ Optimizer = (*Adam)(nil)

// NewAdam returns an Adam optimizer over params. It fails, naming the
// problem, if the configuration is invalid or a parameter has no value or
// a duplicate name.
func NewAdam(params []Param, cfg AdamConfig) (*Adam, error) {
	if cfg.Beta1 == 0 && cfg.Beta2 == 0 {
		cfg.Beta1, cfg.Beta2 = 0.9, 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	switch {
	case !(cfg.Beta1 >= 0 && cfg.Beta1 < 1), !(cfg.Beta2 >= 0 && cfg.Beta2 < 1):
		return nil, fmt.Errorf("optim: Adam betas (%g, %g) are not both in [0, 1)", cfg.Beta1, cfg.Beta2)
	case !(cfg.Eps > 0):
		return nil, fmt.Errorf("optim: Adam eps %g is not positive", cfg.Eps)
	}
	o := &Adam{beta1: cfg.Beta1, beta2: cfg.Beta2, eps: cfg.Eps, decoupled: cfg.Decoupled}
	if err := o.init("Adam", params, cfg.LR, cfg.WeightDecay, cfg.NoDecay, o.update, "exp_avg", "exp_avg_sq"); err != nil {
		return nil, err
	}
	o.stepSize = make([]float32, len(params))
	o.bc2Sqrt = make([]float32, len(params))
	return o, nil
}

// Step updates every parameter that has a gradient.
func (o *Adam) Step() {
	o.begin()
	for i, t := range o.count {
		if o.active[i] {
			bc1 := 1 - math.Pow(float64(o.beta1), float64(t))
			bc2 := 1 - math.Pow(float64(o.beta2), float64(t))
			o.stepSize[i] = float32(float64(o.lr) / bc1)
			o.bc2Sqrt[i] = float32(math.Sqrt(bc2))
		}
	}
	o.run.run()
}

// update applies the Adam rule to one chunk of one parameter.
func (o *Adam) update(c chunk, p, g []float32) {
	m, s := o.slot(0, c), o.slot(1, c)
	g, m, s = g[:len(p)], m[:len(p)], s[:len(p)]
	wd, b1, b2, eps := o.decay[c.t], o.beta1, o.beta2, o.eps
	shrink := float32(1)
	if o.decoupled {
		shrink, wd = 1-o.lr*wd, 0
	}
	step, bc2 := o.stepSize[c.t], o.bc2Sqrt[c.t]
	for i, pi := range p {
		pi *= shrink
		gi := g[i] + wd*pi
		mi := m[i] + (1-b1)*(gi-m[i])
		si := b2*s[i] + (1-b2)*gi*gi
		m[i], s[i] = mi, si
		p[i] = pi - step*mi/(float32(math.Sqrt(float64(si)))/bc2+eps)
	}
}
