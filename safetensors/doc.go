// Package safetensors reads and writes the safetensors format, the tensor
// file format of the Hugging Face ecosystem and of bulwark's model
// checkpoints, without cgo or outside libraries.
//
// Start with Read and Write.
//
// A file is
//
//	8 bytes   N, the header length, a little-endian uint64
//	N bytes   a JSON object: {"__metadata__": {string: string},
//	          "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...},
//	          optionally padded with spaces
//	rest      the byte buffer; [begin, end) is relative to its start and
//	          holds the tensor little-endian, row-major
//
// Write produces F32 tensors with names in sorted order, the header padded
// to 8-byte alignment, exactly as the reference implementation lays files
// out, so PyTorch and numpy load them with safetensors.torch.load_file or
// safetensors.numpy.load_file.
//
// Read and Decode accept every fixed-width dtype of the format and convert
// it to float32, since bulwark's tensors are float32:
//
//   - F32 is copied; F16, BF16, F8_E4M3 and F8_E5M2 widen exactly;
//   - F64 is rounded to nearest float32 (as torch's .float() does);
//   - BOOL, U8, I8, I16, U16, I32, U32, I64 and U64 are converted when every
//     value is exactly representable in float32 (|v| ≤ 2^24), which covers
//     BatchNorm's num_batches_tracked and label arrays; otherwise the read
//     fails naming the tensor, rather than silently lose precision.
//
// File.DTypes records each tensor's dtype on disk, so a caller can tell an
// integer buffer from a float one.
//
// Decoding validates as strictly as the reference implementation: the header
// length is at most 100 MB and within the file, the header is one JSON
// object with no duplicate names, every dtype is known, shapes are
// non-negative, each tensor's byte range matches its shape and dtype, and
// the tensors tile the byte buffer exactly, with no gaps, overlaps or
// trailing bytes. Every error is a *FormatError naming the file and, where
// there is one, the tensor.
package safetensors
