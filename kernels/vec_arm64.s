//go:build !purego

#include "textflag.h"

// NEON vector kernels; neon_arm64.go declares them and shows the plain Go
// loop each computes. Each runs a 16-float main loop (four vectors), a
// 4-float loop and a scalar tail, and touches only the first n elements.
// Go's assembler lacks the vector FADD, FMUL, FMAX, FADDP, FMAXV and
// FCMGT mnemonics, so they are WORD-encoded; the comment on each gives
// the instruction in GNU syntax.

// func axpyNEON(alpha float32, x, y []float32)
TEXT ·axpyNEON(SB), NOSPLIT, $0-56
	FMOVS	alpha+0(FP), F0
	MOVD	x_base+8(FP), R0
	MOVD	x_len+16(FP), R1
	MOVD	y_base+32(FP), R2
	VDUP	V0.S[0], V0.S4

axpy16:
	CMP	$16, R1
	BLT	axpy4
	VLD1.P	64(R0), [V1.S4, V2.S4, V3.S4, V4.S4]
	VLD1	(R2), [V5.S4, V6.S4, V7.S4, V8.S4]
	VFMLA	V0.S4, V1.S4, V5.S4
	VFMLA	V0.S4, V2.S4, V6.S4
	VFMLA	V0.S4, V3.S4, V7.S4
	VFMLA	V0.S4, V4.S4, V8.S4
	VST1.P	[V5.S4, V6.S4, V7.S4, V8.S4], 64(R2)
	SUB	$16, R1, R1
	B	axpy16

axpy4:
	CMP	$4, R1
	BLT	axpy1
	VLD1.P	16(R0), [V1.S4]
	VLD1	(R2), [V5.S4]
	VFMLA	V0.S4, V1.S4, V5.S4
	VST1.P	[V5.S4], 16(R2)
	SUB	$4, R1, R1
	B	axpy4

axpy1:
	// Scalar loads clear lanes 1-3, so the vector FMLA works on lane 0.
	CBZ	R1, axpydone
	FMOVS.P	4(R0), F1
	FMOVS	(R2), F5
	VFMLA	V0.S4, V1.S4, V5.S4
	FMOVS.P	F5, 4(R2)
	SUB	$1, R1, R1
	B	axpy1

axpydone:
	RET

// func dotNEON(x, y []float32) float32
TEXT ·dotNEON(SB), NOSPLIT, $0-52
	MOVD	x_base+0(FP), R0
	MOVD	x_len+8(FP), R1
	MOVD	y_base+24(FP), R2
	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16

dot16:
	CMP	$16, R1
	BLT	dot4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA	V0.S4, V4.S4, V16.S4
	VFMLA	V1.S4, V5.S4, V17.S4
	VFMLA	V2.S4, V6.S4, V18.S4
	VFMLA	V3.S4, V7.S4, V19.S4
	SUB	$16, R1, R1
	B	dot16

dot4:
	CMP	$4, R1
	BLT	dotreduce
	VLD1.P	16(R0), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	VFMLA	V0.S4, V4.S4, V16.S4
	SUB	$4, R1, R1
	B	dot4

dotreduce:
	WORD	$0x4e31d610 // fadd v16.4s, v16.4s, v17.4s
	WORD	$0x4e33d652 // fadd v18.4s, v18.4s, v19.4s
	WORD	$0x4e32d610 // fadd v16.4s, v16.4s, v18.4s
	WORD	$0x6e30d610 // faddp v16.4s, v16.4s, v16.4s
	WORD	$0x7e30da10 // faddp s16, v16.2s

dot1:
	// The scalar FADDP cleared lanes 1-3 of V16, and so do the scalar
	// loads of V0 and V4: the vector FMLA works on lane 0.
	CBZ	R1, dotdone
	FMOVS.P	4(R0), F0
	FMOVS.P	4(R2), F4
	VFMLA	V0.S4, V4.S4, V16.S4
	SUB	$1, R1, R1
	B	dot1

dotdone:
	FMOVS	F16, ret+48(FP)
	RET

// func scaleNEON(alpha float32, x []float32)
TEXT ·scaleNEON(SB), NOSPLIT, $0-32
	FMOVS	alpha+0(FP), F0
	MOVD	x_base+8(FP), R0
	MOVD	x_len+16(FP), R1
	VDUP	V0.S[0], V0.S4

scale16:
	CMP	$16, R1
	BLT	scale4
	VLD1	(R0), [V1.S4, V2.S4, V3.S4, V4.S4]
	WORD	$0x6e20dc21 // fmul v1.4s, v1.4s, v0.4s
	WORD	$0x6e20dc42 // fmul v2.4s, v2.4s, v0.4s
	WORD	$0x6e20dc63 // fmul v3.4s, v3.4s, v0.4s
	WORD	$0x6e20dc84 // fmul v4.4s, v4.4s, v0.4s
	VST1.P	[V1.S4, V2.S4, V3.S4, V4.S4], 64(R0)
	SUB	$16, R1, R1
	B	scale16

scale4:
	CMP	$4, R1
	BLT	scale1
	VLD1	(R0), [V1.S4]
	WORD	$0x6e20dc21 // fmul v1.4s, v1.4s, v0.4s
	VST1.P	[V1.S4], 16(R0)
	SUB	$4, R1, R1
	B	scale4

scale1:
	CBZ	R1, scaledone
	FMOVS	(R0), F1
	FMULS	F0, F1, F1
	FMOVS.P	F1, 4(R0)
	SUB	$1, R1, R1
	B	scale1

scaledone:
	RET

// func addNEON(dst, x, y []float32)
TEXT ·addNEON(SB), NOSPLIT, $0-72
	MOVD	dst_base+0(FP), R3
	MOVD	dst_len+8(FP), R1
	MOVD	x_base+24(FP), R0
	MOVD	y_base+48(FP), R2

add16:
	CMP	$16, R1
	BLT	add4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD	$0x4e24d400 // fadd v0.4s, v0.4s, v4.4s
	WORD	$0x4e25d421 // fadd v1.4s, v1.4s, v5.4s
	WORD	$0x4e26d442 // fadd v2.4s, v2.4s, v6.4s
	WORD	$0x4e27d463 // fadd v3.4s, v3.4s, v7.4s
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R3)
	SUB	$16, R1, R1
	B	add16

add4:
	CMP	$4, R1
	BLT	add1
	VLD1.P	16(R0), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	WORD	$0x4e24d400 // fadd v0.4s, v0.4s, v4.4s
	VST1.P	[V0.S4], 16(R3)
	SUB	$4, R1, R1
	B	add4

add1:
	CBZ	R1, adddone
	FMOVS.P	4(R0), F0
	FMOVS.P	4(R2), F4
	FADDS	F4, F0, F0
	FMOVS.P	F0, 4(R3)
	SUB	$1, R1, R1
	B	add1

adddone:
	RET

// func mulNEON(dst, x, y []float32)
TEXT ·mulNEON(SB), NOSPLIT, $0-72
	MOVD	dst_base+0(FP), R3
	MOVD	dst_len+8(FP), R1
	MOVD	x_base+24(FP), R0
	MOVD	y_base+48(FP), R2

mul16:
	CMP	$16, R1
	BLT	mul4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD	$0x6e24dc00 // fmul v0.4s, v0.4s, v4.4s
	WORD	$0x6e25dc21 // fmul v1.4s, v1.4s, v5.4s
	WORD	$0x6e26dc42 // fmul v2.4s, v2.4s, v6.4s
	WORD	$0x6e27dc63 // fmul v3.4s, v3.4s, v7.4s
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R3)
	SUB	$16, R1, R1
	B	mul16

mul4:
	CMP	$4, R1
	BLT	mul1
	VLD1.P	16(R0), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	WORD	$0x6e24dc00 // fmul v0.4s, v0.4s, v4.4s
	VST1.P	[V0.S4], 16(R3)
	SUB	$4, R1, R1
	B	mul4

mul1:
	CBZ	R1, muldone
	FMOVS.P	4(R0), F0
	FMOVS.P	4(R2), F4
	FMULS	F4, F0, F0
	FMOVS.P	F0, 4(R3)
	SUB	$1, R1, R1
	B	mul1

muldone:
	RET

// func reluNEON(dst, x []float32)
//
// dst = x AND (x > 0 ? all ones : 0): +0 wherever x <= 0 or x is NaN.
TEXT ·reluNEON(SB), NOSPLIT, $0-48
	MOVD	dst_base+0(FP), R3
	MOVD	dst_len+8(FP), R1
	MOVD	x_base+24(FP), R0

relu16:
	CMP	$16, R1
	BLT	relu4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	WORD	$0x4ea0c804 // fcmgt v4.4s, v0.4s, #0.0
	WORD	$0x4ea0c825 // fcmgt v5.4s, v1.4s, #0.0
	WORD	$0x4ea0c846 // fcmgt v6.4s, v2.4s, #0.0
	WORD	$0x4ea0c867 // fcmgt v7.4s, v3.4s, #0.0
	VAND	V4.B16, V0.B16, V0.B16
	VAND	V5.B16, V1.B16, V1.B16
	VAND	V6.B16, V2.B16, V2.B16
	VAND	V7.B16, V3.B16, V3.B16
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R3)
	SUB	$16, R1, R1
	B	relu16

relu4:
	CMP	$4, R1
	BLT	relu1
	VLD1.P	16(R0), [V0.S4]
	WORD	$0x4ea0c804 // fcmgt v4.4s, v0.4s, #0.0
	VAND	V4.B16, V0.B16, V0.B16
	VST1.P	[V0.S4], 16(R3)
	SUB	$4, R1, R1
	B	relu4

relu1:
	CBZ	R1, reludone
	FMOVS.P	4(R0), F0
	WORD	$0x4ea0c804 // fcmgt v4.4s, v0.4s, #0.0
	VAND	V4.B16, V0.B16, V0.B16
	FMOVS.P	F0, 4(R3)
	SUB	$1, R1, R1
	B	relu1

reludone:
	RET

// func reluBackwardNEON(dx, dy, x []float32)
//
// dx = dy AND (x > 0 ? all ones : 0).
TEXT ·reluBackwardNEON(SB), NOSPLIT, $0-72
	MOVD	dx_base+0(FP), R3
	MOVD	dx_len+8(FP), R1
	MOVD	dy_base+24(FP), R2
	MOVD	x_base+48(FP), R0

reluback16:
	CMP	$16, R1
	BLT	reluback4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD	$0x4ea0c800 // fcmgt v0.4s, v0.4s, #0.0
	WORD	$0x4ea0c821 // fcmgt v1.4s, v1.4s, #0.0
	WORD	$0x4ea0c842 // fcmgt v2.4s, v2.4s, #0.0
	WORD	$0x4ea0c863 // fcmgt v3.4s, v3.4s, #0.0
	VAND	V0.B16, V4.B16, V4.B16
	VAND	V1.B16, V5.B16, V5.B16
	VAND	V2.B16, V6.B16, V6.B16
	VAND	V3.B16, V7.B16, V7.B16
	VST1.P	[V4.S4, V5.S4, V6.S4, V7.S4], 64(R3)
	SUB	$16, R1, R1
	B	reluback16

reluback4:
	CMP	$4, R1
	BLT	reluback1
	VLD1.P	16(R0), [V0.S4]
	VLD1.P	16(R2), [V4.S4]
	WORD	$0x4ea0c800 // fcmgt v0.4s, v0.4s, #0.0
	VAND	V0.B16, V4.B16, V4.B16
	VST1.P	[V4.S4], 16(R3)
	SUB	$4, R1, R1
	B	reluback4

reluback1:
	CBZ	R1, relubackdone
	FMOVS.P	4(R0), F0
	FMOVS.P	4(R2), F4
	WORD	$0x4ea0c800 // fcmgt v0.4s, v0.4s, #0.0
	VAND	V0.B16, V4.B16, V4.B16
	FMOVS.P	F4, 4(R3)
	SUB	$1, R1, R1
	B	reluback1

relubackdone:
	RET

// func sumNEON(x []float32) float32
TEXT ·sumNEON(SB), NOSPLIT, $0-28
	MOVD	x_base+0(FP), R0
	MOVD	x_len+8(FP), R1
	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16

sum16:
	CMP	$16, R1
	BLT	sum4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	WORD	$0x4e20d610 // fadd v16.4s, v16.4s, v0.4s
	WORD	$0x4e21d631 // fadd v17.4s, v17.4s, v1.4s
	WORD	$0x4e22d652 // fadd v18.4s, v18.4s, v2.4s
	WORD	$0x4e23d673 // fadd v19.4s, v19.4s, v3.4s
	SUB	$16, R1, R1
	B	sum16

sum4:
	CMP	$4, R1
	BLT	sumreduce
	VLD1.P	16(R0), [V0.S4]
	WORD	$0x4e20d610 // fadd v16.4s, v16.4s, v0.4s
	SUB	$4, R1, R1
	B	sum4

sumreduce:
	WORD	$0x4e31d610 // fadd v16.4s, v16.4s, v17.4s
	WORD	$0x4e33d652 // fadd v18.4s, v18.4s, v19.4s
	WORD	$0x4e32d610 // fadd v16.4s, v16.4s, v18.4s
	WORD	$0x6e30d610 // faddp v16.4s, v16.4s, v16.4s
	WORD	$0x7e30da10 // faddp s16, v16.2s

sum1:
	CBZ	R1, sumdone
	FMOVS.P	4(R0), F0
	FADDS	F0, F16, F16
	SUB	$1, R1, R1
	B	sum1

sumdone:
	FMOVS	F16, ret+24(FP)
	RET

// func maxNEON(x []float32) float32
//
// FMAX, FMAXV and scalar FMAX return NaN when an operand is NaN, so a NaN
// anywhere in x reaches the result.
TEXT ·maxNEON(SB), NOSPLIT, $0-28
	MOVD	x_base+0(FP), R0
	MOVD	x_len+8(FP), R1
	MOVW	$0xff800000, R2 // -Inf
	VDUP	R2, V16.S4
	VDUP	R2, V17.S4
	VDUP	R2, V18.S4
	VDUP	R2, V19.S4

max16:
	CMP	$16, R1
	BLT	max4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	WORD	$0x4e20f610 // fmax v16.4s, v16.4s, v0.4s
	WORD	$0x4e21f631 // fmax v17.4s, v17.4s, v1.4s
	WORD	$0x4e22f652 // fmax v18.4s, v18.4s, v2.4s
	WORD	$0x4e23f673 // fmax v19.4s, v19.4s, v3.4s
	SUB	$16, R1, R1
	B	max16

max4:
	CMP	$4, R1
	BLT	maxreduce
	VLD1.P	16(R0), [V0.S4]
	WORD	$0x4e20f610 // fmax v16.4s, v16.4s, v0.4s
	SUB	$4, R1, R1
	B	max4

maxreduce:
	WORD	$0x4e31f610 // fmax v16.4s, v16.4s, v17.4s
	WORD	$0x4e33f652 // fmax v18.4s, v18.4s, v19.4s
	WORD	$0x4e32f610 // fmax v16.4s, v16.4s, v18.4s
	WORD	$0x6e30fa10 // fmaxv s16, v16.4s

max1:
	CBZ	R1, maxdone
	FMOVS.P	4(R0), F0
	FMAXS	F0, F16, F16
	SUB	$1, R1, R1
	B	max1

maxdone:
	FMOVS	F16, ret+24(FP)
	RET

// func scaleShiftNEON(dst, x []float32, a, b float32)
TEXT ·scaleShiftNEON(SB), NOSPLIT, $0-56
	MOVD	dst_base+0(FP), R3
	MOVD	dst_len+8(FP), R1
	MOVD	x_base+24(FP), R0
	FMOVS	a+48(FP), F16
	FMOVS	b+52(FP), F17
	VDUP	V16.S[0], V16.S4
	VDUP	V17.S[0], V17.S4

scaleshift16:
	CMP	$16, R1
	BLT	scaleshift4
	VLD1.P	64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VMOV	V17.B16, V4.B16
	VMOV	V17.B16, V5.B16
	VMOV	V17.B16, V6.B16
	VMOV	V17.B16, V7.B16
	VFMLA	V16.S4, V0.S4, V4.S4
	VFMLA	V16.S4, V1.S4, V5.S4
	VFMLA	V16.S4, V2.S4, V6.S4
	VFMLA	V16.S4, V3.S4, V7.S4
	VST1.P	[V4.S4, V5.S4, V6.S4, V7.S4], 64(R3)
	SUB	$16, R1, R1
	B	scaleshift16

scaleshift4:
	CMP	$4, R1
	BLT	scaleshift1
	VLD1.P	16(R0), [V0.S4]
	VMOV	V17.B16, V4.B16
	VFMLA	V16.S4, V0.S4, V4.S4
	VST1.P	[V4.S4], 16(R3)
	SUB	$4, R1, R1
	B	scaleshift4

scaleshift1:
	CBZ	R1, scaleshiftdone
	FMOVS.P	4(R0), F0
	VMOV	V17.B16, V4.B16
	VFMLA	V16.S4, V0.S4, V4.S4
	FMOVS.P	F4, 4(R3)
	SUB	$1, R1, R1
	B	scaleshift1

scaleshiftdone:
	RET
