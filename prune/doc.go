// Package prune decides which training samples to keep: it scores samples
// by how their predictions move during training, extrapolates the scores
// of a small scored seed subset to a whole dataset by nearest neighbours
// in embedding space, and prunes the lowest-scoring samples.
//
// Start with Recorder (trajectories from a training run), then
// DynamicUncertainty or FrequencyScore, Extrapolate and SelectBy; Example
// shows the chain.
//
// # Pipeline
//
//  1. Train on a seed subset for K epochs, recording after each epoch the
//     true-class probability of every seed sample: a K×N Trajectories.
//  2. Score the seeds: DynamicUncertainty (He et al. 2023) or
//     FrequencyScore, the FP score (Nieth et al. 2024); EL2N, Forgetting
//     and RandomScores are the usual comparisons. Higher means more
//     important: kept. Confidence (the mean probability) marks the hard
//     samples; Truncate scores from fewer epochs.
//  3. Embed every sample with the seed-trained model (or, model-free,
//     PixelEmbedding: a PCA of the pixels) and Extrapolate: each unscored
//     sample gets the mean score of its k nearest seeds (exact search;
//     the distances are GEMMs over cache-sized tiles).
//  4. Select: remove the fraction p of samples with the lowest scores,
//     overall or per class, optionally only from a prunable (synthetic)
//     pool. SelectBy keeps the same number by another Rule: the lowest
//     scores (ablation), CCS's score strata (Zheng et al. 2023), random
//     after dropping the lowest-confidence tail, or uniformly at random
//     with or without replacement.
//
// Where true scores exist for held-out samples, MeasureQuality reports the
// Pearson and Spearman correlation of the extrapolated scores with them,
// next to a class-mean baseline and kNN on shuffled embeddings.
//
// # Errors
//
// Everything here takes data that came from files, so invalid input (NaN
// probabilities, ragged matrices, mismatched lengths, k out of range)
// returns an error naming what is wrong and where, never garbage or a
// panic. Callers add the file names.
//
// # References
//
//   - M. He, S. Yang, T. Huang, B. Zhao. Large-scale Dataset Pruning with
//     Dynamic Uncertainty. arXiv:2306.05175, 2023 (CVPR Workshops 2024).
//   - B. Nieth, T. Altstidl, L. Schwinn, B. Eskofier. Large-Scale Dataset
//     Pruning in Adversarial Training through Data Importance
//     Extrapolation. arXiv:2406.13283, 2024.
//   - M. Paul, S. Ganguli, G. K. Dziugaite. Deep Learning on a Data Diet:
//     Finding Important Examples Early in Training. NeurIPS 2021 (EL2N).
//   - H. Zheng, R. Liu, F. Lai, A. Prakash. Coverage-centric Coreset
//     Selection for High Pruning Rates. ICLR 2023 (CCS).
//   - M. Toneva et al. An Empirical Study of Example Forgetting during
//     Deep Neural Network Learning. ICLR 2019 (forgetting events).
package prune
