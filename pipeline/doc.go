// Package pipeline runs the pruning experiment of Nieth et al. (2024,
// "Large-Scale Dataset Pruning in Adversarial Training through Data
// Importance Extrapolation") as resumable stages over plain files, and
// reports it against random pruning, the full pool and the base set alone.
//
// Start with Run(ctx, Config, Options), the whole experiment; the stages are
// exported for the CLI's single-stage commands. Prepare, RunArm (for each
// of ArmJobs) and Run split one run directory's work into jobs that
// separate processes or machines run at once.
//
// For every repetition (seed):
//
//  1. Draw the seed subset of the pool.
//  2. Train adversarially on it (in the seed paper's setting, Config.Base:
//     on the never-pruned base set with the seed subset mixed into every
//     batch), recording every trained sample's true-class probability
//     after each epoch.
//  3. Score the recorded samples: Dynamic Uncertainty, FP, EL2N,
//     forgetting, and the confidence (mean true-class probability) that
//     the stratified and drop-tail rules cut by.
//  4. Embed every sample (the scoring model's features, a model trained
//     without attacks, or a PCA of the pixels) and measure how well kNN
//     extrapolates the scores in each embedding on held-out scored samples,
//     against a class-mean and a shuffled-embedding baseline.
//  5. Extrapolate the scores to the whole pool by k-nearest neighbours,
//     with everything scored as the reference set.
//  6. Select the kept part of the pool by each rule at each prune ratio
//     (top, keep-low, stratified, drop-tail, random with and without
//     replacement), class-balanced if asked.
//  7. Train on each kept set (with the base set), on the full pool and on
//     the base set alone, all for the same number of steps, and evaluate
//     the best validation checkpoint under PGD and APGD on test samples
//     apart from the validation ones.
//
// Every stage writes its result into the run directory and is skipped
// when that result is there, so Run can be called again to finish a run,
// to add arms, ratios, scores or seeds to it, or from another machine
// sharing the directory. The report pairs the arms seed by seed with 95%
// t-intervals, gives each arm's time to robustness, what its kept set is
// made of, the wall time and peak memory of every stage, and plots.
package pipeline
