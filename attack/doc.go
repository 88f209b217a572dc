// Package attack makes adversarial inputs and measures robust accuracy:
// FGSM, PGD in L∞ and L2 (random start, restarts, per-sample early stop,
// CE, CW-margin and DLR losses, targeted mode), APGD-CE and APGD-DLR
// (Croce & Hein 2020; with EOT for randomized models), the components of
// AutoAttack (Croce & Hein 2020) — APGD-T, FAB-T (Croce & Hein 2020) and
// the gradient-free Square Attack (Andriushchenko et al. 2020) — and
// AutoAttack itself, the per-sample worst case over several attacks, and
// Evaluate, which reports clean, per-attack and worst-case robust accuracy
// over a dataset (optionally as AutoAttack's cascade, each attack running
// on the samples the earlier ones left).
//
// Start with PGD (or APGD) and Evaluate, which reports clean, per-attack and
// worst-case robust accuracy.
//
// Everything happens in input space: images are float32 NCHW in [0,1]
// (normalization, if any, lives inside the model), and every adversarial
// input x' satisfies x' ∈ [0,1] and ‖x' − x‖ ≤ ε exactly, in float64
// arithmetic on the float32 values.
//
// An attack is a struct of settings whose zero fields take the defaults
// documented on them, plus reused scratch; it is not safe for concurrent
// use, and neither is running two attacks on one model at once. A typical
// evaluation:
//
//	pgd := &attack.PGD{Eps: 8.0 / 255, Alpha: 2.0 / 255, Steps: 20}
//	apgd := attack.NewAPGDWorstCase(attack.LInf, 8.0/255)
//	res, err := attack.Evaluate(model, testSet, attack.EvalOptions{BatchSize: 256}, pgd, apgd)
//	fmt.Print(res)
//
// AutoAttack, standard version, with its sanity warnings:
//
//	aa := &attack.AutoAttack{Norm: attack.LInf, Eps: 8.0 / 255}
//	res, err := aa.Evaluate(model, testSet, attack.EvalOptions{BatchSize: 256})
//	fmt.Print(res) // robust accuracy after each attack, then any warnings
//
// and inside an adversarial-training step:
//
//	pgd := &attack.PGD{Eps: 8.0 / 255, Alpha: 2.0 / 255, Steps: 10, BN: attack.BNTrain}
//	xadv, err := pgd.Perturb(model, batch.X, batch.Labels)
//
// While an attack runs, the model's parameters are frozen (they take no
// gradient, so the attack neither pays for weight gradients nor disturbs
// the gradients a training step has accumulated) and the model is in the
// mode the attack's BN field asks for; both are restored when Perturb
// returns. Gradients flow only to the input. A step reuses one tape, one
// input leaf and the attack's buffers, so after the first batch of a given
// shape an attack step allocates nothing.
//
// Random starts are reproducible per sample: each sample's start comes from
// a stream seeded by the attack's Seed, the sample's key and the restart.
// Under Evaluate the key is the sample's dataset index, so an evaluation cut
// into shards (bulwark-cluster evaluate) attacks every sample from the same
// starts as the whole one; called directly, Perturb keys samples by their
// position among all the samples the attack value has perturbed.
package attack
