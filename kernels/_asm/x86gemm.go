package main

import (
	"fmt"
	"strings"

	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The GEMM microkernels of gemm_amd64.s and gemm_avx512_amd64.s, and the
// loops that pack A and B for them.

// isa is a vector instruction set for the GEMM microkernels.
type isa struct {
	name  string                 // as the kernels' names spell it
	reg   string                 // the registers' name in comments: YMM, ZMM
	bytes int                    // bytes per vector register
	regs  int                    // vector registers
	vec   func(int) reg.Register // vector register i
	zero  func(a *x86, r reg.Register)
}

var (
	avx2 = isa{name: "AVX2", reg: "YMM", bytes: 32, regs: 16, vec: ymm,
		zero: func(a *x86, r reg.Register) { a.VXORPS(r, r, r) }}
	avx512 = isa{name: "AVX512", reg: "ZMM", bytes: 64, regs: 32, vec: zmm,
		zero: func(a *x86, r reg.Register) { a.VPXORD(r, r, r) }}
)

// lanes is the number of float32 in a vector.
func (s isa) lanes() int { return s.bytes / 4 }

// bRows is how a microkernel finds row p of B, and what it prefetches.
type bRows int

const (
	// packedB: rows ldb apart in a packed micro-panel (ldb = nr); each
	// step prefetches the row eight rows ahead.
	packedB bRows = iota
	// stridedB: rows ldb apart, B read in place; each step prefetches the
	// same row of the next micro-panel (nr floats on), which the next call
	// reads.
	stridedB
	// indexedB: row p at b + rows[p] floats; prefetched as stridedB.
	indexedB
)

// gemmSpec is one GEMM microkernel: the mr×nr tile of C, nr = nv·lanes,
// lives in mr·nv accumulators; each step over p loads nv vectors of a row
// of B, broadcasts the mr packed A values in turn into two alternating
// registers and issues mr·nv FMAs. The loop over p is unrolled four times.
type gemmSpec struct {
	name string
	isa  isa
	mr   int // rows of the tile
	nv   int // vectors per row of the tile
	b    bRows
	note string // how it reads B, for its doc
}

func (g gemmSpec) nr() int { return g.nv * g.isa.lanes() }

// Register use: accumulators 0 .. mr·nv-1 (row i in i·nv .. i·nv+nv-1),
// then nv for the row of B, then two for the broadcast A values.
func (g gemmSpec) acc(i, j int) reg.Register { return g.isa.vec(i*g.nv + j) }
func (g gemmSpec) bvec(j int) reg.Register   { return g.isa.vec(g.mr*g.nv + j) }
func (g gemmSpec) bcast(i int) reg.Register  { return g.isa.vec(g.mr*g.nv + g.nv + i%2) }

var avx2GEMM = []gemmSpec{
	{name: "gemm6x16AVX2", isa: avx2, mr: 6, nv: 2, b: packedB,
		note: "It reads a packed B micro-panel (ldb=16) and prefetches eight rows ahead in it."},
	{name: "gemm6x16StridedAVX2", isa: avx2, mr: 6, nv: 2, b: stridedB,
		note: "It reads B in place (rows ldb apart) and prefetches the same row of " +
			"the next micro-panel, which the following call will read."},
	{name: "gemm6x16RowsAVX2", isa: avx2, mr: 6, nv: 2, b: indexedB,
		note: "It reads row p of B at b + rows[p] floats (the shifted image windows " +
			"of implicit-GEMM convolution), and prefetches like gemm6x16StridedAVX2."},
}

// avx512GEMM are the AVX-512 microkernels: the 12×32 tile for products of
// many rows, and the 8×32 tile for the 16, 32 or 64 rows (output channels)
// of small convolutions, which 12-row tiles pad by up to 50%.
var avx512GEMM = []gemmSpec{
	{name: "gemm12x32AVX512", isa: avx512, mr: 12, nv: 2, b: stridedB,
		note: "It reads B at stride ldb and prefetches the same row of the next micro-panel."},
	{name: "gemm12x32RowsAVX512", isa: avx512, mr: 12, nv: 2, b: indexedB,
		note: "It reads row p of B at b + rows[p] floats (implicit-GEMM convolution) " +
			"and prefetches like gemm12x32AVX512."},
	{name: "gemm8x32AVX512", isa: avx512, mr: 8, nv: 2, b: packedB,
		note: "It reads a packed B micro-panel (ldb=32) and prefetches eight rows ahead in it."},
	{name: "gemm8x32StridedAVX512", isa: avx512, mr: 8, nv: 2, b: stridedB,
		note: "It reads B in place (rows ldb apart) and prefetches the same row of " +
			"the next micro-panel, which the following call will read."},
	{name: "gemm8x32RowsAVX512", isa: avx512, mr: 8, nv: 2, b: indexedB,
		note: "It reads row p of B at b + rows[p] floats (implicit-GEMM convolution) " +
			"and prefetches like gemm8x32StridedAVX512."},
}

// gemmDoc is the doc comment of microkernel g: the Go loop it computes and
// how it computes it.
func gemmDoc(g gemmSpec) string {
	brow := "p*ldb"
	if g.b == indexedB {
		brow = "rows[p]"
	}
	return fmt.Sprintf(`%s computes
%s
%s

%s`, g.name, gemmLoop(g.mr, g.nr(), brow), wrap("With beta == 0 it does not read C. "+g.note), wrap(fmt.Sprintf(
		"%d %s accumulators hold the C tile (row i in %s). Each step over p loads "+
			"one %d-wide row of B into %s, broadcasts the %d packed A values in turn into %s/%s "+
			"and issues %d VFMADD231PS. The loop over p is unrolled four times.",
		g.mr*g.nv, g.isa.reg, regRange(g.isa.vec(0), g.nv, "i"),
		g.nr(), regList(g.bvec, g.nv, "/"), g.mr, g.bcast(0).Asm(), g.bcast(1).Asm(), g.mr*g.nv)))
}

// gemmLoop is the Go loop of an mr×nr GEMM microkernel whose row p of B
// starts at b[brow], between blank comment lines.
func gemmLoop(mr, nr int, brow string) string {
	return fmt.Sprintf(`
	for i := 0; i < %d; i++ {
		for j := 0; j < %d; j++ {
			var s float32
			for p := 0; p < k; p++ { s += a[p*%d+i] * b[%s+j] }
			if beta == 0 { c[i*ldc+j] = alpha * s } else { c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] }
		}
	}
`, mr, nr, mr, brow)
}

// wrap fills text into lines of at most 76 characters.
func wrap(text string) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len(w) > 76:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// regRange describes the nv registers of row i of the tile, e.g.
// "Y(2i) and Y(2i+1)".
func regRange(r0 reg.Register, nv int, i string) string {
	p := r0.Asm()[:1]
	var s []string
	for j := 0; j < nv; j++ {
		if j == 0 {
			s = append(s, fmt.Sprintf("%s(%d%s)", p, nv, i))
		} else {
			s = append(s, fmt.Sprintf("%s(%d%s+%d)", p, nv, i, j))
		}
	}
	return strings.Join(s, " and ")
}

func regList(r func(int) reg.Register, n int, sep string) string {
	s := make([]string, n)
	for j := range s {
		s[j] = r(j).Asm()
	}
	return strings.Join(s, sep)
}

// gemmKernel writes microkernel g.
//
// Registers: CX k, SI a, DI b, R10 ldb in bytes (indexedB: rows), R11 and
// R12 3·ldb and 4·ldb in bytes, R13 the prefetch row (packedB), BX rows[p]
// (indexedB), DX c, R8 ldc in bytes, R9 the C rows being prefetched.
func (a *x86) gemmKernel(g gemmSpec) {
	if n := g.mr*g.nv + g.nv + 2; n > g.isa.regs {
		panic(fmt.Sprintf("%s needs %d vector registers", g.name, n))
	}
	nr := g.nr()
	ldb := "ldb int"
	if g.b == indexedB {
		ldb = "rows *int"
	}
	a.text(g.name, "func(k int, a, b *float32, "+ldb+", c *float32, ldc int, alpha, beta float32)", gemmDoc(g))

	a.MOVQ(a.arg("k"), reg.RCX)
	a.MOVQ(a.arg("a"), reg.RSI)
	a.MOVQ(a.arg("b"), reg.RDI)
	if g.b == indexedB {
		a.MOVQ(a.arg("rows"), reg.R10)
	} else {
		a.MOVQ(a.arg("ldb"), reg.R10)
		a.SHLQ(imm(2), reg.R10)
		a.LEAQ(mem(0, reg.R10, reg.R10, 2), reg.R11)
		a.LEAQ(mem(0, reg.R10, reg.R10, 1), reg.R12)
		a.SHLQ(imm(1), reg.R12)
	}
	a.MOVQ(a.arg("c"), reg.RDX)
	a.MOVQ(a.arg("ldc"), reg.R8)
	a.SHLQ(imm(2), reg.R8)

	a.Comment("Touch the C tile early so the epilogue does not stall on it.")
	a.MOVQ(reg.RDX, reg.R9)
	for i := 0; i < g.mr; i++ {
		if i > 0 {
			a.ADDQ(reg.R8, reg.R9)
		}
		a.PREFETCHT0(mem(0, reg.R9, nil, 0))
		a.PREFETCHT0(mem(4*nr-4, reg.R9, nil, 0))
	}

	for i := 0; i < g.mr; i++ {
		for j := 0; j < g.nv; j++ {
			g.isa.zero(a, g.acc(i, j))
		}
	}

	a.CMPQ(reg.RCX, imm(4))
	a.JLT(operand.LabelRef("tail"))

	a.Label("loop4")
	for u := 0; u < 4; u++ {
		a.gemmStep(g, u)
	}
	a.ADDQ(imm(4*4*g.mr), reg.RSI)
	if g.b == indexedB {
		a.ADDQ(imm(4*8), reg.R10)
	} else {
		a.ADDQ(reg.R12, reg.RDI)
	}
	a.SUBQ(imm(4), reg.RCX)
	a.CMPQ(reg.RCX, imm(4))
	a.JGE(operand.LabelRef("loop4"))

	a.Label("tail")
	a.TESTQ(reg.RCX, reg.RCX)
	a.JEQ(operand.LabelRef("store"))

	a.Label("loop1")
	a.gemmStep(g, 0)
	a.ADDQ(imm(4*g.mr), reg.RSI)
	if g.b == indexedB {
		a.ADDQ(imm(8), reg.R10)
	} else {
		a.ADDQ(reg.R10, reg.RDI)
	}
	a.DECQ(reg.RCX)
	a.JNE(operand.LabelRef("loop1"))

	a.Label("store")
	alpha, beta := g.bcast(0), g.bcast(1)
	a.VBROADCASTSS(a.arg("alpha"), alpha)
	a.MOVL(a.arg("beta"), reg.EAX)
	a.ANDL(imm(0x7fffffff), reg.EAX)
	a.JEQ(operand.LabelRef("noBeta"))
	a.Comment("C = alpha·acc + beta·C")
	a.VBROADCASTSS(a.arg("beta"), beta)
	a.gemmStore(g, alpha, beta)

	a.Label("noBeta")
	a.Comment("C = alpha·acc, without reading C")
	a.gemmStore(g, alpha, nil)
}

// gemmStep is step u (0 to 3) of the unrolled loop over p: row p+u of B
// times the mr values of A for p+u.
func (a *x86) gemmStep(g gemmSpec, u int) {
	// Row u of B from DI: (DI), (DI)(R10*1), (DI)(R10*2), (DI)(R11*1).
	idx := []reg.Register{nil, reg.R10, reg.R10, reg.R11}[u]
	scale := []uint8{0, 1, 2, 1}[u]
	row := mem(0, reg.RDI, idx, scale)
	switch g.b {
	case packedB:
		if u == 0 {
			a.LEAQ(mem(0, reg.RDI, reg.R10, 8), reg.R13)
		}
		a.PREFETCHT0(mem(0, reg.R13, idx, scale))
	case stridedB:
		a.PREFETCHT0(row.Offset(4 * g.nr()))
	case indexedB:
		a.MOVQ(mem(8*u, reg.R10, nil, 0), reg.RBX)
		row = mem(0, reg.RDI, reg.RBX, 4)
		a.PREFETCHT0(row.Offset(4 * g.nr()))
	}
	for j := 0; j < g.nv; j++ {
		a.VMOVUPS(row.Offset(j*g.isa.bytes), g.bvec(j))
	}
	for i := 0; i < g.mr; i++ {
		a.VBROADCASTSS(mem(4*(u*g.mr+i), reg.RSI, nil, 0), g.bcast(i))
		for j := 0; j < g.nv; j++ {
			a.VFMADD231PS(g.bvec(j), g.bcast(i), g.acc(i, j))
		}
	}
}

// gemmStore writes the tile to C, row by row from DX: alpha·acc +
// beta·C, or alpha·acc without reading C when beta is nil.
func (a *x86) gemmStore(g gemmSpec, alpha, beta reg.Register) {
	for i := 0; i < g.mr; i++ {
		if i > 0 {
			a.ADDQ(reg.R8, reg.RDX)
		}
		for j := 0; j < g.nv; j++ {
			a.VMULPS(alpha, g.acc(i, j), g.acc(i, j))
		}
		if beta != nil {
			for j := 0; j < g.nv; j++ {
				a.VFMADD231PS(mem(j*g.isa.bytes, reg.RDX, nil, 0), beta, g.acc(i, j))
			}
		}
		for j := 0; j < g.nv; j++ {
			a.VMOVUPS(g.acc(i, j), mem(j*g.isa.bytes, reg.RDX, nil, 0))
		}
	}
	a.exit()
}

// packRow writes name, which copies panels chunks of nv vectors from src to
// dst, stride floats apart: one row of a non-transposed B into its packed
// micro-panels (the inner loop of packBRowGeneric).
func (a *x86) packRow(s isa, nv int, name string) {
	nr := nv * s.lanes()
	a.text(name, "func(dst *float32, stride int, src *float32, panels int)",
		fmt.Sprintf("%s computes, for t < panels,\n\n\tcopy(dst[t*stride:t*stride+%d], src[t*%d:t*%d+%d])", name, nr, nr, nr, nr))
	a.MOVQ(a.arg("dst"), reg.RDI)
	a.MOVQ(a.arg("stride"), reg.RDX)
	a.SHLQ(imm(2), reg.RDX)
	a.MOVQ(a.arg("src"), reg.RSI)
	a.MOVQ(a.arg("panels"), reg.RCX)
	a.TESTQ(reg.RCX, reg.RCX)
	a.JEQ(operand.LabelRef("done"))

	a.Label("loop")
	for j := 0; j < nv; j++ {
		a.VMOVUPS(mem(j*s.bytes, reg.RSI, nil, 0), s.vec(j))
	}
	for j := 0; j < nv; j++ {
		a.VMOVUPS(s.vec(j), mem(j*s.bytes, reg.RDI, nil, 0))
	}
	a.ADDQ(imm(nv*s.bytes), reg.RSI)
	a.ADDQ(reg.RDX, reg.RDI)
	a.DECQ(reg.RCX)
	a.JNE(operand.LabelRef("loop"))

	a.Label("done")
	a.exit()
}

// packA6x8 writes packA6x8AVX2, which packs blocks·8 columns of six rows
// into a 6-row A micro-panel.
func (a *x86) packA6x8() {
	a.text("packA6x8AVX2", "func(dst *float32, r0, r1, r2, r3, r4, r5 *float32, blocks int)",
		`packA6x8AVX2 computes, for p < 8·blocks,

	for r := 0; r < 6; r++ {
		dst[p*6+r] = row r[p]
	}

Each block of eight columns is an 8×8 transpose (rows 6 and 7 zero) whose
eight output vectors are stored 24 bytes apart, each overlapping the next;
the last store writes 8 bytes past the block, so dst needs 2 floats of
slack after the panel.`)
	rows := []reg.Register{reg.R8, reg.R9, reg.R10, reg.R11, reg.R12, reg.R13}
	a.MOVQ(a.arg("dst"), reg.RDI)
	for r, p := range rows {
		a.MOVQ(a.arg(fmt.Sprintf("r%d", r)), p)
	}
	a.MOVQ(a.arg("blocks"), reg.RCX)
	a.TESTQ(reg.RCX, reg.RCX)
	a.JEQ(operand.LabelRef("done"))

	a.Label("loop")
	for r, p := range rows {
		a.VMOVUPS(mem(0, p, nil, 0), ymm(r))
	}
	a.Comment(
		"Interleave row pairs (0,1), (2,3), (4,5) into Y6-Y11:",
		"Y6 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5],",
		"Y7 = r0[2] r1[2] r0[3] r1[3] | ...; Y12, Y13 are the zero rows 6, 7.")
	for q := 0; q < 3; q++ {
		a.VUNPCKLPS(ymm(2*q+1), ymm(2*q), ymm(6+2*q))
		a.VUNPCKHPS(ymm(2*q+1), ymm(2*q), ymm(7+2*q))
	}
	a.VXORPS(ymm(12), ymm(12), ymm(12))
	a.VXORPS(ymm(13), ymm(13), ymm(13))
	a.Comment(
		"Y0-Y3: columns p0-p3 of rows 0-3 (p4-p7 in the upper lanes);",
		"Y4-Y7: the same of rows 4-7.")
	for h := 0; h < 2; h++ {
		for s := 0; s < 2; s++ {
			lo, hi := ymm(6+4*h+s), ymm(8+4*h+s)
			a.VSHUFPS(imm(0x44), hi, lo, ymm(4*h+2*s))
			a.VSHUFPS(imm(0xEE), hi, lo, ymm(4*h+2*s+1))
		}
	}
	a.Comment("Column t (rows 0-7) into Y8-Y14 for t < 7, Y0 for t = 7;",
		"stored 24 bytes apart.")
	col := func(t int) reg.Register { return ymm((8 + t) % 15) }
	for t := 0; t < 8; t++ {
		sel := 0x20
		if t >= 4 {
			sel = 0x31
		}
		a.VPERM2F128(imm(sel), ymm(4+t%4), ymm(t%4), col(t))
	}
	for t := 0; t < 8; t++ {
		a.VMOVUPS(col(t), mem(24*t, reg.RDI, nil, 0))
	}
	for _, p := range rows {
		a.ADDQ(imm(32), p)
	}
	a.ADDQ(imm(8*24), reg.RDI)
	a.DECQ(reg.RCX)
	a.JNE(operand.LabelRef("loop"))

	a.Label("done")
	a.exit()
}

// packRowsx8 writes packA{n}x8AVX2, which packs blocks·8 columns of n = 4
// or 8 rows into an A micro-panel of any width (the 8×32 and 12×32 tiles'
// 8 and 12 rows take one or two calls).
func (a *x86) packRowsx8(n int) {
	name := fmt.Sprintf("packA%dx8AVX2", n)
	a.text(name, "func(dst *float32, stride int, rows *[8]*float32, blocks int)",
		fmt.Sprintf(`%s computes, for p < 8·blocks,

	for r := 0; r < %d; r++ {
		dst[p*stride+r] = rows[r][p]
	}

Each block of eight columns is a %d×8 transpose; column p's %d values are
stored at dst[p*stride:], and nothing else is written.`, name, n, n, n))
	ptrs := []reg.Register{reg.RAX, reg.RBX, reg.RDX, reg.RSI, reg.R8, reg.R9, reg.R10, reg.R11}[:n]
	a.MOVQ(a.arg("dst"), reg.RDI)
	a.MOVQ(a.arg("stride"), reg.R12)
	a.SHLQ(imm(2), reg.R12)
	a.MOVQ(a.arg("rows"), reg.R13)
	for r, p := range ptrs {
		a.MOVQ(mem(8*r, reg.R13, nil, 0), p)
	}
	a.MOVQ(a.arg("blocks"), reg.RCX)
	a.TESTQ(reg.RCX, reg.RCX)
	a.JEQ(operand.LabelRef("done"))

	a.Label("loop")
	for r, p := range ptrs {
		a.VMOVUPS(mem(0, p, nil, 0), ymm(r))
	}
	a.Comment("Interleave row pairs (0,1), (2,3), ... into Y8, Y9, Y10, ...:",
		"Y8 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5], Y9 the same of p2, p3, p6, p7.")
	for q := 0; q < n/2; q++ {
		a.VUNPCKLPS(ymm(2*q+1), ymm(2*q), ymm(8+2*q))
		a.VUNPCKHPS(ymm(2*q+1), ymm(2*q), ymm(9+2*q))
	}
	a.Comment("Y0-Y3: columns p0-p3 of rows 0-3 (p4-p7 in the upper lanes);",
		"Y4-Y7: the same of rows 4-7.")
	for h := 0; h < n/4; h++ {
		for s := 0; s < 2; s++ {
			lo, hi := ymm(8+4*h+s), ymm(10+4*h+s)
			a.VSHUFPS(imm(0x44), hi, lo, ymm(4*h+2*s))
			a.VSHUFPS(imm(0xEE), hi, lo, ymm(4*h+2*s+1))
		}
	}
	if n == 8 {
		a.Comment("Column t (rows 0-7) into Y8+t, stored stride floats apart.")
		for t := 0; t < 8; t++ {
			sel := 0x20
			if t >= 4 {
				sel = 0x31
			}
			a.VPERM2F128(imm(sel), ymm(4+t%4), ymm(t%4), ymm(8+t))
		}
		for t := 0; t < 8; t++ {
			a.VMOVUPS(ymm(8+t), mem(0, reg.RDI, nil, 0))
			a.ADDQ(reg.R12, reg.RDI)
		}
	} else {
		a.Comment("Column t (rows 0-3) is the lower lane of Yt for t < 4, the upper",
			"lane of Y(t-4) after; stored stride floats apart.")
		for t := 4; t < 8; t++ {
			a.VEXTRACTF128(imm(1), ymm(t-4), xmm(t))
		}
		for t := 0; t < 8; t++ {
			a.VMOVUPS(xmm(t), mem(0, reg.RDI, nil, 0))
			a.ADDQ(reg.R12, reg.RDI)
		}
	}
	for _, p := range ptrs {
		a.ADDQ(imm(32), p)
	}
	a.DECQ(reg.RCX)
	a.JNE(operand.LabelRef("loop"))

	a.Label("done")
	a.exit()
}

func gemmAVX2File() ([]byte, error) {
	a := newX86(`The 6×16 AVX2+FMA GEMM microkernel, in three variants that differ only in
how they find the rows of B and what they prefetch, and the loops that pack
A and B for it. gemm_amd64.go declares them.`)
	for _, g := range avx2GEMM {
		a.gemmKernel(g)
	}
	a.packRow(avx2, 2, "packRow16AVX2")
	a.packA6x8()
	a.packRowsx8(8)
	a.packRowsx8(4)
	return a.print()
}

func gemmAVX512File() ([]byte, error) {
	a := newX86(`The AVX-512 GEMM microkernels, 12×32 and 8×32, in variants that differ only
in how they find the rows of B and what they prefetch, and the loop that
packs B for them. avx512_amd64.go declares them.`)
	for _, g := range avx512GEMM {
		a.gemmKernel(g)
	}
	a.packRow(avx512, 2, "packRow32AVX512")
	return a.print()
}
