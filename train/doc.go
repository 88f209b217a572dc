// Package train runs training: standard and adversarial (PGD-AT, TRADES,
// FGSM-RS), with SGD, learning-rate schedules, EMA weights, per-epoch
// evaluation and robust validation that keeps the best checkpoint, atomic
// checkpoints with exact resume, and a stop with a message naming the
// epoch and batch when the loss turns NaN.
//
// Start with Run: it takes a Config (and optionally your model and data in
// Options) and returns a Result with the trained model.
//
// # Adversarial training
//
//   - PGD-AT (Madry et al. 2018): minimise the cross-entropy on PGD inputs
//     (Steps steps of StepSize, default 10 of ε/4, from a random start).
//   - TRADES (Zhang et al. 2019): cross-entropy on clean inputs plus
//     β·KL(f(x) ‖ f(x')), x' from sign steps on the KL from x + 0.001·N(0, I).
//   - FGSM-RS (Wong et al. 2020): one step of 1.25ε from a uniform start,
//     with a per-epoch check for catastrophic overfitting.
//
// A synthetic pool can be mixed into every batch (Config.Synthetic or
// Options.Synthetic, a share SyntheticFrac of each batch, 0.8 by
// default): an epoch is then a pass over the real set, so the pool's size
// does not change the number of steps, as in Nieth et al. (2024).
//
// # Hooks
//
// Options.OnBatch sees every step's logits and Options.OnEpochEnd the
// model after every epoch: package prune's Recorder plugs in there to
// record each sample's true-class probability for pruning scores
// (Config.RecordAttack is the seed paper's recording attack).
//
// Config holds every setting (stored in each checkpoint), Options what is
// not a setting (the model and data when the caller has them, hooks,
// output); Run trains and returns a Result, and New, Trainer.Run and
// Close split it for callers that need the Trainer in between.
package train
