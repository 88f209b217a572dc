// Package optim holds bulwark's optimizers (SGD with momentum and Nesterov,
// Adam and AdamW), learning-rate schedules and an exponential moving
// average of the weights.
//
// Start with NewSGD over a model's Params(), and NewEMA for the weight
// average.
//
// Optimizers work on named parameters, []Param, which the nn package
// provides with PyTorch state-dict names; Named makes index-named ones from
// bare Vars. Each Step updates every parameter's Value in place from its
// Grad, skipping parameters whose Grad is nil, and follows PyTorch's
// update rules to the operation, so hyperparameters carry over from PyTorch
// recipes. Weight decay can exempt some parameters (biases and
// normalization scales, with NoDecay: BiasAndNorm).
//
// A training loop drives the learning rate from a Schedule, by step so a
// schedule can change mid-epoch:
//
//	opt, err := optim.NewSGD(model.Params(), optim.SGDConfig{LR: 0.1, Momentum: 0.9,
//		Nesterov: true, WeightDecay: 5e-4, NoDecay: optim.BiasAndNorm})
//	sched := optim.Cosine{Base: 0.1, Total: epochs * stepsPerEpoch}
//	for step := 0; ...; step++ {
//		opt.SetLR(sched.LR(step))
//		opt.ZeroGrad()
//		... forward, Backward ...
//		opt.Step()
//		ema.Update()
//	}
//
// Updates run on the SIMD vector kernels, split into fixed chunks across
// the kernels worker pool; each element's arithmetic does not depend on
// the split, so results are identical for any thread count. A Step does not
// allocate once the optimizer is built.
//
// State and LoadState snapshot and restore the optimizer (momentum buffers
// or moments, per-parameter step counts, the global step) as a flat map of
// tensors keyed by parameter name, ready for a safetensors checkpoint.
package optim
