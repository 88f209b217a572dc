// Package tensor holds bulwark's dense float32 tensors and the ops on them
// that the layers above (autograd, nn, attacks) are built from.
//
// Start with New and the ops on *Tensor (MatMul, Conv2d, Softmax, ...).
//
// # Tensors
//
// A Tensor is a shape plus a contiguous float32 slice in row-major order.
// Reshape returns a view sharing the storage; there are no strided views,
// so every op can treat its operands as flat runs and hand them to the
// SIMD routines of package kernels.
//
// # Ops
//
//   - Elementwise, with NumPy broadcasting: Add, Sub, Mul, Div, Maximum,
//     Minimum; and AddScalar, MulScalar, Neg, Exp, Log, Sqrt, Abs, Sign,
//     Clamp, Relu.
//   - Reductions over axes, with keepDims: Sum, Mean, Max, Min; over
//     everything: SumAll, MeanAll, MaxAll, MinAll; and SumTo, which sums a
//     broadcast result back to an input's shape (the gradient of a
//     broadcasting op).
//   - Products: MatMul (2-D, optionally transposed operands) and
//     BatchedMatMul (3-D, or 3-D by a shared 2-D matrix).
//   - Convolution (NCHW, via im2col and Sgemm): Conv2d with stride,
//     padding, dilation and groups, and its gradients Conv2dBackwardInput,
//     Conv2dBackwardWeight (or ...Acc to accumulate) and Conv2dBackwardBias.
//   - Pooling: MaxPool2d, AvgPool2d, GlobalAvgPool2d and their backwards.
//   - Along an axis: Softmax, LogSoftmax (both stable for large inputs)
//     and Argmax; on one row of logits: LogSumExpRow (the stable
//     log-partition the losses share) and ArgmaxRow.
//   - Random numbers: RNG, a seedable generator whose state can be saved,
//     with Rand and Randn.
//   - Scratch memory: Arena, which lets a training step reuse its buffers.
//
// Ops split large tensors over the kernels worker pool. Each output
// element is computed the same way however the work is split, so results
// do not depend on the thread count. MatMul and BatchedMatMul inherit the
// guarantee of kernels.Sgemm instead: bitwise reproducible for a fixed
// thread count.
//
// # Output convention
//
// Every op takes an optional output as its first argument, out. If out is
// nil the op allocates the result. Otherwise out must already have exactly
// the result shape, and the op overwrites it and returns it; reusing
// outputs (or taking them from an Arena) keeps training steps free of
// allocations:
//
//	y := tensor.Add(nil, a, b)     // allocates
//	tensor.Add(y, a, b)            // reuses y
//	tensor.Relu(y, y)              // in place
//
// Outputs may alias inputs where that is safe:
//
//   - Elementwise ops and Softmax/LogSoftmax: out may be an input tensor,
//     or share exactly its storage (a Reshape view of it).
//   - Reductions, SumTo, MatMul, BatchedMatMul, convolutions and pooling:
//     out must not share storage with an input.
//
// Storage that overlaps an input only partly is never supported.
//
// # Misuse convention
//
// Shape errors inside the engine are programming errors: ops panic with a
// message that names the op and the shapes involved, such as
//
//	tensor.Add: shapes [2 3] and [4 3] do not broadcast
//	tensor.MatMul: out has shape [3 3], want [2 3]
//	tensor.Sum: axis 2 out of range for shape [4 5]
//
// Functions fed from outside the engine (files, user data, checkpoints),
// such as FromSlice and RNG.SetState, return errors instead.
//
// Broadcasting ops merge adjacent dimensions that they can walk as one; a
// pattern that still needs more than 16 dimensions after merging panics.
// Reductions handle tensors of rank at most 64.
package tensor
