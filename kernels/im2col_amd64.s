//go:build !purego

#include "textflag.h"

// func im2colRowsS1Asm(dst, src *float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int)
//
// One row of a column matrix for a stride-1 (in x) convolution tap: for
// each output row oy, with iy = iy0 + oy·sh, segment dst[oy·ow : (oy+1)·ow]
// gets zeros where the tap falls outside the image and
// src[iy·w + ox + xoff] for ox in [lo, hi) otherwise. See im2colRowsS1Go.
TEXT ·im2colRowsS1Asm(SB), NOSPLIT, $0-88
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ w+16(FP), R8
	MOVQ h+24(FP), R9
	MOVQ oh+32(FP), R10
	MOVQ ow+40(FP), R11
	MOVQ iy0+48(FP), R12
	MOVQ lo+64(FP), R13
	MOVQ hi+72(FP), R14
	MOVQ xoff+80(FP), R15
	VXORPS Y0, Y0, Y0
	XORQ AX, AX // oy

rowloop:
	CMPQ AX, R10
	JGE done
	// BX = iy = iy0 + oy*sh
	MOVQ sh+56(FP), BX
	IMULQ AX, BX
	ADDQ R12, BX
	XORQ CX, CX // ox
	CMPQ BX, $0
	JLT zerorest
	CMPQ BX, R9
	JGE zerorest

	// DX = &src[iy*w + xoff]
	MOVQ BX, DX
	IMULQ R8, DX
	ADDQ R15, DX
	LEAQ (SI)(DX*4), DX

zerohead:
	CMPQ CX, R13
	JGE copy8
	MOVSS X0, (DI)(CX*4)
	INCQ CX
	JMP zerohead

copy8:
	LEAQ 8(CX), BX
	CMPQ BX, R14
	JGT copy1
	VMOVUPS (DX)(CX*4), Y1
	VMOVUPS Y1, (DI)(CX*4)
	MOVQ BX, CX
	JMP copy8

copy1:
	CMPQ CX, R14
	JGE zerorest
	MOVSS (DX)(CX*4), X1
	MOVSS X1, (DI)(CX*4)
	INCQ CX
	JMP copy1

zerorest:
	CMPQ CX, R11
	JGE nextrow
	MOVSS X0, (DI)(CX*4)
	INCQ CX
	JMP zerorest

nextrow:
	LEAQ (DI)(R11*4), DI
	INCQ AX
	JMP rowloop

done:
	VZEROUPPER
	RET

// func col2imRowsS1Asm(src, x *float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int)
//
// The adjoint of im2colRowsS1Asm: for each output row oy whose input row
// iy = iy0 + oy·sh lies inside the image, x[iy·w + ox + xoff] +=
// src[oy·ow + ox] for ox in [lo, hi). See col2imRowsS1Go.
TEXT ·col2imRowsS1Asm(SB), NOSPLIT, $0-88
	MOVQ src+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), R8
	MOVQ h+24(FP), R9
	MOVQ oh+32(FP), R10
	MOVQ ow+40(FP), R11
	MOVQ iy0+48(FP), R12
	MOVQ lo+64(FP), R13
	MOVQ hi+72(FP), R14
	MOVQ xoff+80(FP), R15
	XORQ AX, AX // oy

crowloop:
	CMPQ AX, R10
	JGE cdone
	MOVQ sh+56(FP), BX
	IMULQ AX, BX
	ADDQ R12, BX
	CMPQ BX, $0
	JLT cnextrow
	CMPQ BX, R9
	JGE cnextrow

	// DX = &x[iy*w + xoff]
	MOVQ BX, DX
	IMULQ R8, DX
	ADDQ R15, DX
	LEAQ (SI)(DX*4), DX
	MOVQ R13, CX // ox = lo

cadd8:
	LEAQ 8(CX), BX
	CMPQ BX, R14
	JGT cadd1
	VMOVUPS (DX)(CX*4), Y1
	VADDPS (DI)(CX*4), Y1, Y1
	VMOVUPS Y1, (DX)(CX*4)
	MOVQ BX, CX
	JMP cadd8

cadd1:
	CMPQ CX, R14
	JGE cnextrow
	MOVSS (DX)(CX*4), X1
	ADDSS (DI)(CX*4), X1
	MOVSS X1, (DX)(CX*4)
	INCQ CX
	JMP cadd1

cnextrow:
	LEAQ (DI)(R11*4), DI
	INCQ AX
	JMP crowloop

cdone:
	VZEROUPPER
	RET

// func copyRowsAsm(dst *float32, dstStride int, src *float32, srcStride, rows, width int)
//
// for r := 0; r < rows; r++ {
//	copy(dst[r*dstStride:r*dstStride+width], src[r*srcStride:r*srcStride+width])
// }
TEXT ·copyRowsAsm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), R10
	MOVQ width+40(FP), R11

crrow:
	TESTQ R10, R10
	JEQ crdone
	XORQ CX, CX

cr8:
	LEAQ 8(CX), BX
	CMPQ BX, R11
	JGT cr1
	VMOVUPS (SI)(CX*4), Y0
	VMOVUPS Y0, (DI)(CX*4)
	MOVQ BX, CX
	JMP cr8

cr1:
	CMPQ CX, R11
	JGE crnext
	MOVSS (SI)(CX*4), X0
	MOVSS X0, (DI)(CX*4)
	INCQ CX
	JMP cr1

crnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R10
	JMP crrow

crdone:
	VZEROUPPER
	RET
