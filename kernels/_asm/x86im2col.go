package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The row loops of im2col_amd64.s: Im2col's and Col2im's inner loops for
// horizontal stride 1, and CopyRows.

const im2colSig = "(%s, %s *float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int)"

// im2colArgs loads the arguments shared by im2colRowsS1Asm and
// col2imRowsS1Asm: DI the column matrix (first), SI the image (second),
// then R8 w, R9 h, R10 oh, R11 ow, R12 iy0, R13 lo, R14 hi, R15 xoff; sh
// is read from memory on each row.
func (a *x86) im2colArgs(first, second string) {
	a.MOVQ(a.arg(first), reg.RDI)
	a.MOVQ(a.arg(second), reg.RSI)
	a.loadArgs("w", reg.R8, "h", reg.R9, "oh", reg.R10, "ow", reg.R11, "iy0", reg.R12,
		"lo", reg.R13, "hi", reg.R14, "xoff", reg.R15)
}

// imageRow starts output row AX (oy): it ends at done after the last row,
// sets BX = iy = iy0 + oy·sh, calls clear (if not nil), and goes to
// outside if iy is not in [0, h). Inside, it sets DX = &image[iy·w + xoff].
func (a *x86) imageRow(clear func(), outside string) {
	a.Label("row")
	a.CMPQ(reg.RAX, reg.R10)
	a.JGE(operand.LabelRef("done"))
	a.Comment("BX = iy = iy0 + oy*sh")
	a.MOVQ(a.arg("sh"), reg.RBX)
	a.IMULQ(reg.RAX, reg.RBX)
	a.ADDQ(reg.R12, reg.RBX)
	if clear != nil {
		clear()
	}
	a.CMPQ(reg.RBX, imm(0))
	a.JLT(operand.LabelRef(outside))
	a.CMPQ(reg.RBX, reg.R9)
	a.JGE(operand.LabelRef(outside))

	a.Comment("DX = &image[iy*w + xoff]")
	a.MOVQ(reg.RBX, reg.RDX)
	a.IMULQ(reg.R8, reg.RDX)
	a.ADDQ(reg.R15, reg.RDX)
	a.LEAQ(mem(0, reg.RSI, reg.RDX, 4), reg.RDX)
}

// nextRow moves DI to the next row of the column matrix and loops.
func (a *x86) nextRow() {
	a.Label("next")
	a.LEAQ(mem(0, reg.RDI, reg.R11, 4), reg.RDI)
	a.INCQ(reg.RAX)
	a.JMP(operand.LabelRef("row"))

	a.Label("done")
	a.exit()
}

// span runs over element CX up to limit, eight at a time with vec while
// eight remain, then one at a time with scalar; then it goes to exit.
// Labels name8 and name1 start the two loops.
func (a *x86) span(name8, name1 string, limit reg.Register, exit string, vec, scalar func()) {
	a.Label(name8)
	a.LEAQ(mem(8, reg.RCX, nil, 0), reg.RBX)
	a.CMPQ(reg.RBX, limit)
	a.JGT(operand.LabelRef(name1))
	vec()
	a.MOVQ(reg.RBX, reg.RCX)
	a.JMP(operand.LabelRef(name8))

	a.Label(name1)
	a.CMPQ(reg.RCX, limit)
	a.JGE(operand.LabelRef(exit))
	scalar()
	a.INCQ(reg.RCX)
	a.JMP(operand.LabelRef(name1))
}

// zeroTo stores +0 (X0) at DI[CX] for CX up to limit, then goes to exit.
func (a *x86) zeroTo(name string, limit reg.Register, exit string) {
	a.Label(name)
	a.CMPQ(reg.RCX, limit)
	a.JGE(operand.LabelRef(exit))
	a.MOVSS(xmm(0), mem(0, reg.RDI, reg.RCX, 4))
	a.INCQ(reg.RCX)
	a.JMP(operand.LabelRef(name))
}

// elem is element CX of the array at base.
func elem(base reg.Register) operand.Mem { return mem(0, base, reg.RCX, 4) }

func (a *x86) im2colRows() {
	a.text("im2colRowsS1Asm", "func"+fmt.Sprintf(im2colSig, "dst", "src"),
		`im2colRowsS1Asm computes im2colRowsS1Go on raw pointers: one row of a
column matrix for a stride-1 (in x) convolution tap. For each output row
oy, with iy = iy0 + oy*sh,

	seg := dst[oy*ow : (oy+1)*ow]
	if iy < 0 || iy >= h { clear(seg) } else {
		clear(seg[:lo]); clear(seg[hi:])
		copy(seg[lo:hi], src[iy*w+lo+xoff : iy*w+hi+xoff])
	}`)
	a.im2colArgs("dst", "src")
	a.VXORPS(ymm(0), ymm(0), ymm(0))
	a.Comment("AX = oy")
	a.XORQ(reg.RAX, reg.RAX)
	a.imageRow(func() {
		a.Comment("CX = ox")
		a.XORQ(reg.RCX, reg.RCX)
	}, "zerorest")
	a.zeroTo("zerohead", reg.R13, "copy8")
	a.span("copy8", "copy1", reg.R14, "zerorest", func() {
		a.VMOVUPS(elem(reg.RDX), ymm(1))
		a.VMOVUPS(ymm(1), elem(reg.RDI))
	}, func() {
		a.MOVSS(elem(reg.RDX), xmm(1))
		a.MOVSS(xmm(1), elem(reg.RDI))
	})
	a.zeroTo("zerorest", reg.R11, "next")
	a.nextRow()
}

func (a *x86) col2imRows() {
	a.text("col2imRowsS1Asm", "func"+fmt.Sprintf(im2colSig, "src", "x"),
		`col2imRowsS1Asm computes col2imRowsS1Go on raw pointers, the adjoint of
im2colRowsS1Asm: for each output row oy with iy = iy0 + oy*sh inside the
image,

	for ox := lo; ox < hi; ox++ { x[iy*w+ox+xoff] += src[oy*ow+ox] }`)
	a.im2colArgs("src", "x")
	a.Comment("AX = oy")
	a.XORQ(reg.RAX, reg.RAX)
	a.imageRow(nil, "next")
	a.Comment("CX = ox = lo")
	a.MOVQ(reg.R13, reg.RCX)
	a.span("add8", "add1", reg.R14, "next", func() {
		a.VMOVUPS(elem(reg.RDX), ymm(1))
		a.VADDPS(elem(reg.RDI), ymm(1), ymm(1))
		a.VMOVUPS(ymm(1), elem(reg.RDX))
	}, func() {
		a.MOVSS(elem(reg.RDX), xmm(1))
		a.ADDSS(elem(reg.RDI), xmm(1))
		a.MOVSS(xmm(1), elem(reg.RDX))
	})
	a.nextRow()
}

func (a *x86) copyRows() {
	a.text("copyRowsAsm", "func(dst *float32, dstStride int, src *float32, srcStride, rows, width int)",
		`copyRowsAsm computes copyRowsGo on raw pointers:

	for r := 0; r < rows; r++ {
		copy(dst[r*dstStride:r*dstStride+width], src[r*srcStride:r*srcStride+width])
	}`)
	a.MOVQ(a.arg("dst"), reg.RDI)
	a.MOVQ(a.arg("dstStride"), reg.R8)
	a.SHLQ(imm(2), reg.R8)
	a.MOVQ(a.arg("src"), reg.RSI)
	a.MOVQ(a.arg("srcStride"), reg.R9)
	a.SHLQ(imm(2), reg.R9)
	a.loadArgs("rows", reg.R10, "width", reg.R11)

	a.Label("row")
	a.TESTQ(reg.R10, reg.R10)
	a.JEQ(operand.LabelRef("done"))
	a.XORQ(reg.RCX, reg.RCX)
	a.span("copy8", "copy1", reg.R11, "next", func() {
		a.VMOVUPS(elem(reg.RSI), ymm(0))
		a.VMOVUPS(ymm(0), elem(reg.RDI))
	}, func() {
		a.MOVSS(elem(reg.RSI), xmm(0))
		a.MOVSS(xmm(0), elem(reg.RDI))
	})

	a.Label("next")
	a.ADDQ(reg.R8, reg.RDI)
	a.ADDQ(reg.R9, reg.RSI)
	a.DECQ(reg.R10)
	a.JMP(operand.LabelRef("row"))

	a.Label("done")
	a.exit()
}

func im2colFile() ([]byte, error) {
	a := newX86(`Row loops in AVX2: the inner loops of Im2col and Col2im for horizontal
stride 1, and CopyRows. gemm_amd64.go declares them; the Go callers have
checked the geometry against the slices.`)
	a.im2colRows()
	a.col2imRows()
	a.copyRows()
	return a.print()
}
