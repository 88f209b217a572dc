// Package kernels holds bulwark's numerical inner loops: a BLIS-style
// blocked, packed and multithreaded Sgemm, vector kernels (axpy, dot, scale,
// add, mul, ReLU, sum, max, scale-shift) and Im2col/Col2im for convolutions.
//
// Each kernel has one exported Go entry point. Behind it sit several
// implementations: AVX2+FMA assembly on amd64, NEON assembly on arm64 and a
// portable Go fallback. The fastest one the CPU supports is chosen once at
// init from golang.org/x/sys/cpu; the build tag purego forces the fallback.
// Implementations lists what this CPU supports and Use switches between
// them, so tests and benchmarks can exercise every one.
//
// Arguments are checked at the entry points: a negative size, a too-short
// slice or a too-small leading dimension panics with a message naming the
// kernel and the argument. Kernels never write outside the ranges their
// arguments describe.
//
// Work is split across one persistent worker pool (see SetThreads). The
// split depends only on the problem shape and the thread count, so results
// are bitwise reproducible for a fixed thread count.
package kernels
