// Package data reads image-classification datasets and turns them into
// training batches.
//
// Start with Open(spec) for a dataset and NewBatcher to turn it into batches.
//
// # Datasets
//
// A Dataset is a random-access collection of labelled images. Samples are
// decoded on demand into float32 CHW in [0, 1], so a set may live in
// memory as bytes (MNIST, Fashion-MNIST, CIFAR: tens of MB) or stay in a
// file and be read sample by sample (a multi-GB .npz of generated images).
//
// Readers, each returning errors that name the file and the problem:
//
//   - ReadIDX and ReadMNIST: MNIST / Fashion-MNIST IDX files, raw or gzip.
//   - ReadCIFAR10 and ReadCIFAR100: the CIFAR binary versions.
//   - OpenNpz: an .npz with members image (uint8 N×H×W×C or N×C×H×W, or
//     float N×C×H×W) and label (integer N), as in the generated CIFAR-10
//     sets of Wang et al. (2023). A member stored uncompressed (np.savez)
//     is read lazily at computed offsets, never loaded whole; a compressed
//     member (np.savez_compressed) is inflated into memory if it is at most
//     MaxInflate bytes and is an error otherwise, suggesting np.savez.
//   - OpenNpy: a pair of .npy files X (images) and Y (labels), read lazily.
//   - Open: a spec string naming any of the above.
//   - FromTensor and Subset build sets in memory and views of sets.
//
// Float pixels from .npz and .npy files are used as they are (values
// outside [0, 1] are not clamped), but a NaN or infinite pixel is an
// error when its sample is read, naming the file, the sample and the
// pixel, so a corrupt file cannot silently train.
//
// # Arrays
//
// Stages exchange arrays as .npy files. WriteNpy writes one atomically and
// ReadNpy reads one whole; both handle float32, float64, int32, int64 and
// uint8 elements.
//
// # Batches
//
// A Batcher cuts a Dataset (or a list of its indices) into batches of
// [B, C, H, W] tensors with labels and dataset indices. The order is
// shuffled per epoch, deterministically for (Config.Seed, epoch); samples
// are decoded by a few worker goroutines (by default as many as
// kernels.Threads allows, at most 8); random crop and horizontal flip
// use a per-(seed, epoch, index) random stream, so batches are identical
// whatever the worker count or scheduling. Buffers are reused, so steady
// state does not allocate, and Config.Prefetch prepares the next batch
// while the current one trains.
package data
