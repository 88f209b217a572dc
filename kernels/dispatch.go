package kernels

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// impl is one complete set of kernels for an instruction set.
type impl struct {
	name string
	// rank orders implementations: the highest-ranked one the CPU supports
	// is the default. It reflects measured speed, not instruction-set age.
	rank int
	// why, if not empty, says why it ranks where it does on this CPU.
	why string

	// gemm is the GEMM microkernel; gemmSmall, if not nil, a shorter tile
	// for products of few rows, and gemmNarrow one for products of at most
	// narrowMaxCols columns (see gemmFor).
	gemm, gemmSmall, gemmNarrow *gemmKernel

	axpy         func(alpha float32, x, y []float32)
	dot          func(x, y []float32) float32
	scale        func(alpha float32, x []float32)
	add          func(dst, x, y []float32)
	mul          func(dst, x, y []float32)
	relu         func(dst, x []float32)
	reluBackward func(dx, dy, x []float32)
	sum          func(x []float32) float32
	max          func(x []float32) float32
	scaleShift   func(dst, x []float32, a, b float32)

	// im2colRowsS1 is the inner loop of Im2col for horizontal stride 1;
	// see im2colRowsS1Go.
	im2colRowsS1 func(dst, src []float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int)
	// col2imRowsS1 is its adjoint, the inner loop of Col2im; see
	// col2imRowsS1Go.
	col2imRowsS1 func(src, x []float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int)
	// copyRows copies rows of width floats between strided layouts; see
	// CopyRows.
	copyRows func(dst []float32, dstStride int, src []float32, srcStride, rows, width int)
	// deinterleave and interleave split a row into its even and odd
	// elements and back; see Deinterleave.
	deinterleave func(even, odd, src []float32)
	interleave   func(dst, even, odd []float32)
	// maxPool2x2Row is one output row of 2×2 stride-2 max pooling; see
	// MaxPool2x2Row.
	maxPool2x2Row func(y []float32, idx []int32, r0, r1 []float32, at0, w int)
}

// impls lists the implementations this CPU supports, highest rank first.
// Per-ISA files add to it in init through registerImpl.
var impls = []*impl{&genericImpl}

// active is the implementation in use.
var active = &genericImpl

// EnvVar names the environment variable that overrides the default
// implementation for a whole process (for example BULWARK_KERNELS=avx2), so
// that benchmarks and programs can be compared across implementations
// without code.
const EnvVar = "BULWARK_KERNELS"

func registerImpl(im *impl) {
	impls = append(impls, im)
	slices.SortStableFunc(impls, func(a, b *impl) int { return b.rank - a.rank })
	active = impls[0]
	// Every registration re-applies the override, so it holds whatever
	// order the per-ISA init functions run in.
	if want := os.Getenv(EnvVar); want != "" {
		for _, im := range impls {
			if im.name == want {
				active = im
			}
		}
	}
}

// EnvError reports an EnvVar that names no implementation this CPU
// supports; the default is then in use. Programs should check it at start.
func EnvError() error {
	if want := os.Getenv(EnvVar); want != "" && !slices.Contains(Implementations(), want) {
		return fmt.Errorf("%s=%s: implementation not supported here (have %s)", EnvVar, want, strings.Join(Implementations(), ", "))
	}
	return nil
}

// Implementations returns the names of the kernel implementations this CPU
// supports, the default first; "generic" (pure Go) is always present.
func Implementations() []string {
	names := make([]string, len(impls))
	for i, im := range impls {
		names[i] = im.name
	}
	return names
}

// Implementation returns the name of the implementation in use.
func Implementation() string { return active.name }

// Use switches every kernel to the named implementation and returns a
// function that restores the previous one. It is meant for tests and
// benchmarks; it must not race with running kernels.
func Use(name string) (restore func(), err error) {
	for _, im := range impls {
		if im.name == name {
			prev := active
			active = im
			return func() { active = prev }, nil
		}
	}
	return nil, fmt.Errorf("kernels: implementation %q not supported here (have %s)",
		name, strings.Join(Implementations(), ", "))
}

// gemmKernel is one register-tiled GEMM microkernel. kernel computes, for a
// packed A micro-panel a (k×mr, p-major) and k rows of B of nr values each,
// ldb apart (ldb = nr for a packed B micro-panel),
//
//	for i := 0; i < mr; i++ {
//		for j := 0; j < nr; j++ {
//			var s float32
//			for p := 0; p < k; p++ { s += a[p*mr+i] * b[p*ldb+j] }
//			if beta == 0 { c[i*ldc+j] = alpha * s } else { c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] }
//		}
//	}
//
// When beta is 0, c is not read, so NaNs in c do not propagate. The driver
// guarantees the slices are long enough; assembly kernels do not check.
type gemmKernel struct {
	name   string // the tile, e.g. "6x16"
	mr, nr int
	kernel func(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
	// strided is kernel tuned for B read in place, far from a packed panel
	// (for example with different prefetching); nil means use kernel.
	strided func(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
	// rows, if not nil, is kernel reading row p of B at b[rows[p]:], so
	// SgemmRows can read scattered rows in place; nil means pack them.
	rows func(k int, a, b []float32, rows []int, c []float32, ldc int, alpha, beta float32)
	// packA6, if not nil, is packA6Go for 6-row tiles in assembly.
	packA6 func(dst, r0, r1, r2, r3, r4, r5 []float32, kc int)
	// packRows, if not nil, is packRowsGo in assembly, for the other tiles.
	packRows func(dst []float32, stride int, rows [8][]float32, n, kc int)
	// packBRow copies the nr-float chunks of src to dst, stride floats
	// apart (see packBRowGeneric): the inner loop of packing B.
	packBRow func(dst []float32, stride int, src []float32)
}

// smallTileMaxRows is the most rows of C for which gemmFor considers the
// narrower tile: beyond it the padding of the wider one is small.
const smallTileMaxRows = 96

// narrowMaxCols is the most columns of C for which gemmFor takes the
// narrow tile: a convolution's weight gradient with 16 output channels is
// a product of 16 columns, which a 32-wide tile would pad to twice its work.
const narrowMaxCols = 16

// gemmFor returns the microkernel for a product with m rows and n columns
// of C: the narrow tile for n ≤ narrowMaxCols where there is one; the
// shorter tile where it pads m less, for m < smallTileMaxRows (the 16, 32
// and 64 output channels of small convolutions); else the default one.
// The choice depends only on the shape, so results stay the same from run
// to run.
func (im *impl) gemmFor(m, n int) *gemmKernel {
	if im.gemmNarrow != nil && n <= narrowMaxCols {
		return im.gemmNarrow
	}
	s := im.gemmSmall
	if s == nil || m >= smallTileMaxRows || roundUp(m, s.mr) >= roundUp(m, im.gemm.mr) {
		return im.gemm
	}
	return s
}

// Describe returns one line per implementation this CPU supports, the
// default first: its name, GEMM tiles, why it ranks where it does, and
// which one is in use, for benchmark tables and bug reports.
func Describe() string {
	var b strings.Builder
	for i, im := range impls {
		tiles := im.gemm.name
		if im.gemmSmall != nil {
			tiles += fmt.Sprintf(", %s below %d rows", im.gemmSmall.name, smallTileMaxRows)
		}
		if im.gemmNarrow != nil {
			tiles += fmt.Sprintf(", %s up to %d columns", im.gemmNarrow.name, narrowMaxCols)
		}
		fmt.Fprintf(&b, "%s (GEMM %s)", im.name, tiles)
		if i == 0 {
			b.WriteString(", default")
		}
		if im == active {
			b.WriteString(", in use")
		}
		if im.why != "" {
			fmt.Fprintf(&b, ": %s", im.why)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TileSize returns the register tile (rows × columns of C) of the active
// GEMM microkernel.
func TileSize() (mr, nr int) { return active.gemm.mr, active.gemm.nr }
