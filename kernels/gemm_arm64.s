//go:build !purego

#include "textflag.h"

// The 8×8 NEON GEMM microkernel, and packRow8NEON (the inner loop of packing
// B). See gemmKernel in dispatch.go for the loop the microkernel
// computes, and neon_arm64.go for the Go declarations.
//
// Registers:
//	R0 k, R1 a (packed A micro-panel, 8 floats per p), R2 b (row p of
//	the B micro-panel, 8 floats, rows ldb floats apart), R7 ldb in bytes,
//	R3 c, R4 ldc in bytes, R5 k/4, R6 k%4.
//	V16..V31 accumulators: row i of the tile is V(16+2i) (columns 0-3)
//	and V(17+2i) (columns 4-7).
//	V0..V15 hold the A and B values of up to four values of p.
//
// For each p, the row of B (two vectors) is multiplied by each of the
// eight A values with FMLA (by element), 16 FMLAs in all. Go's assembler
// has no by-element FMLA or FMUL, so they are WORD-encoded; the comment
// on each gives the instruction in GNU syntax.

// func gemmNEON8x8(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
TEXT ·gemmNEON8x8(SB), NOSPLIT, $0-56
	MOVD	k+0(FP), R0
	MOVD	a+8(FP), R1
	MOVD	b+16(FP), R2
	MOVD	ldb+24(FP), R7
	MOVD	c+32(FP), R3
	MOVD	ldc+40(FP), R4
	LSL	$2, R7, R7
	LSL	$2, R4, R4
	LSR	$2, R0, R5
	AND	$3, R0, R6

	VEOR	V16.B16, V16.B16, V16.B16
	VEOR	V17.B16, V17.B16, V17.B16
	VEOR	V18.B16, V18.B16, V18.B16
	VEOR	V19.B16, V19.B16, V19.B16
	VEOR	V20.B16, V20.B16, V20.B16
	VEOR	V21.B16, V21.B16, V21.B16
	VEOR	V22.B16, V22.B16, V22.B16
	VEOR	V23.B16, V23.B16, V23.B16
	VEOR	V24.B16, V24.B16, V24.B16
	VEOR	V25.B16, V25.B16, V25.B16
	VEOR	V26.B16, V26.B16, V26.B16
	VEOR	V27.B16, V27.B16, V27.B16
	VEOR	V28.B16, V28.B16, V28.B16
	VEOR	V29.B16, V29.B16, V29.B16
	VEOR	V30.B16, V30.B16, V30.B16
	VEOR	V31.B16, V31.B16, V31.B16

	CBZ	R5, tail

loop4:
	// Four values of p per iteration: A and B for p, p+1 in V0-V7.
	VLD1.P	64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P	(R2)(R7), [V4.S4, V5.S4]
	VLD1.P	(R2)(R7), [V6.S4, V7.S4]
	// p
	WORD	$0x4f801090 // fmla v16.4s, v4.4s, v0.s[0]
	WORD	$0x4f8010b1 // fmla v17.4s, v5.4s, v0.s[0]
	WORD	$0x4fa01092 // fmla v18.4s, v4.4s, v0.s[1]
	WORD	$0x4fa010b3 // fmla v19.4s, v5.4s, v0.s[1]
	WORD	$0x4f801894 // fmla v20.4s, v4.4s, v0.s[2]
	WORD	$0x4f8018b5 // fmla v21.4s, v5.4s, v0.s[2]
	WORD	$0x4fa01896 // fmla v22.4s, v4.4s, v0.s[3]
	WORD	$0x4fa018b7 // fmla v23.4s, v5.4s, v0.s[3]
	WORD	$0x4f811098 // fmla v24.4s, v4.4s, v1.s[0]
	WORD	$0x4f8110b9 // fmla v25.4s, v5.4s, v1.s[0]
	WORD	$0x4fa1109a // fmla v26.4s, v4.4s, v1.s[1]
	WORD	$0x4fa110bb // fmla v27.4s, v5.4s, v1.s[1]
	WORD	$0x4f81189c // fmla v28.4s, v4.4s, v1.s[2]
	WORD	$0x4f8118bd // fmla v29.4s, v5.4s, v1.s[2]
	WORD	$0x4fa1189e // fmla v30.4s, v4.4s, v1.s[3]
	WORD	$0x4fa118bf // fmla v31.4s, v5.4s, v1.s[3]
	// A and B for p+2, p+3 in V8-V15.
	VLD1.P	64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P	(R2)(R7), [V12.S4, V13.S4]
	VLD1.P	(R2)(R7), [V14.S4, V15.S4]
	// p+1
	WORD	$0x4f8210d0 // fmla v16.4s, v6.4s, v2.s[0]
	WORD	$0x4f8210f1 // fmla v17.4s, v7.4s, v2.s[0]
	WORD	$0x4fa210d2 // fmla v18.4s, v6.4s, v2.s[1]
	WORD	$0x4fa210f3 // fmla v19.4s, v7.4s, v2.s[1]
	WORD	$0x4f8218d4 // fmla v20.4s, v6.4s, v2.s[2]
	WORD	$0x4f8218f5 // fmla v21.4s, v7.4s, v2.s[2]
	WORD	$0x4fa218d6 // fmla v22.4s, v6.4s, v2.s[3]
	WORD	$0x4fa218f7 // fmla v23.4s, v7.4s, v2.s[3]
	WORD	$0x4f8310d8 // fmla v24.4s, v6.4s, v3.s[0]
	WORD	$0x4f8310f9 // fmla v25.4s, v7.4s, v3.s[0]
	WORD	$0x4fa310da // fmla v26.4s, v6.4s, v3.s[1]
	WORD	$0x4fa310fb // fmla v27.4s, v7.4s, v3.s[1]
	WORD	$0x4f8318dc // fmla v28.4s, v6.4s, v3.s[2]
	WORD	$0x4f8318fd // fmla v29.4s, v7.4s, v3.s[2]
	WORD	$0x4fa318de // fmla v30.4s, v6.4s, v3.s[3]
	WORD	$0x4fa318ff // fmla v31.4s, v7.4s, v3.s[3]
	// p+2
	WORD	$0x4f881190 // fmla v16.4s, v12.4s, v8.s[0]
	WORD	$0x4f8811b1 // fmla v17.4s, v13.4s, v8.s[0]
	WORD	$0x4fa81192 // fmla v18.4s, v12.4s, v8.s[1]
	WORD	$0x4fa811b3 // fmla v19.4s, v13.4s, v8.s[1]
	WORD	$0x4f881994 // fmla v20.4s, v12.4s, v8.s[2]
	WORD	$0x4f8819b5 // fmla v21.4s, v13.4s, v8.s[2]
	WORD	$0x4fa81996 // fmla v22.4s, v12.4s, v8.s[3]
	WORD	$0x4fa819b7 // fmla v23.4s, v13.4s, v8.s[3]
	WORD	$0x4f891198 // fmla v24.4s, v12.4s, v9.s[0]
	WORD	$0x4f8911b9 // fmla v25.4s, v13.4s, v9.s[0]
	WORD	$0x4fa9119a // fmla v26.4s, v12.4s, v9.s[1]
	WORD	$0x4fa911bb // fmla v27.4s, v13.4s, v9.s[1]
	WORD	$0x4f89199c // fmla v28.4s, v12.4s, v9.s[2]
	WORD	$0x4f8919bd // fmla v29.4s, v13.4s, v9.s[2]
	WORD	$0x4fa9199e // fmla v30.4s, v12.4s, v9.s[3]
	WORD	$0x4fa919bf // fmla v31.4s, v13.4s, v9.s[3]
	// p+3
	WORD	$0x4f8a11d0 // fmla v16.4s, v14.4s, v10.s[0]
	WORD	$0x4f8a11f1 // fmla v17.4s, v15.4s, v10.s[0]
	WORD	$0x4faa11d2 // fmla v18.4s, v14.4s, v10.s[1]
	WORD	$0x4faa11f3 // fmla v19.4s, v15.4s, v10.s[1]
	WORD	$0x4f8a19d4 // fmla v20.4s, v14.4s, v10.s[2]
	WORD	$0x4f8a19f5 // fmla v21.4s, v15.4s, v10.s[2]
	WORD	$0x4faa19d6 // fmla v22.4s, v14.4s, v10.s[3]
	WORD	$0x4faa19f7 // fmla v23.4s, v15.4s, v10.s[3]
	WORD	$0x4f8b11d8 // fmla v24.4s, v14.4s, v11.s[0]
	WORD	$0x4f8b11f9 // fmla v25.4s, v15.4s, v11.s[0]
	WORD	$0x4fab11da // fmla v26.4s, v14.4s, v11.s[1]
	WORD	$0x4fab11fb // fmla v27.4s, v15.4s, v11.s[1]
	WORD	$0x4f8b19dc // fmla v28.4s, v14.4s, v11.s[2]
	WORD	$0x4f8b19fd // fmla v29.4s, v15.4s, v11.s[2]
	WORD	$0x4fab19de // fmla v30.4s, v14.4s, v11.s[3]
	WORD	$0x4fab19ff // fmla v31.4s, v15.4s, v11.s[3]
	SUBS	$1, R5, R5
	BNE	loop4

tail:
	CBZ	R6, store

tail1:
	VLD1.P	32(R1), [V0.S4, V1.S4]
	VLD1.P	(R2)(R7), [V4.S4, V5.S4]
	// one value of p
	WORD	$0x4f801090 // fmla v16.4s, v4.4s, v0.s[0]
	WORD	$0x4f8010b1 // fmla v17.4s, v5.4s, v0.s[0]
	WORD	$0x4fa01092 // fmla v18.4s, v4.4s, v0.s[1]
	WORD	$0x4fa010b3 // fmla v19.4s, v5.4s, v0.s[1]
	WORD	$0x4f801894 // fmla v20.4s, v4.4s, v0.s[2]
	WORD	$0x4f8018b5 // fmla v21.4s, v5.4s, v0.s[2]
	WORD	$0x4fa01896 // fmla v22.4s, v4.4s, v0.s[3]
	WORD	$0x4fa018b7 // fmla v23.4s, v5.4s, v0.s[3]
	WORD	$0x4f811098 // fmla v24.4s, v4.4s, v1.s[0]
	WORD	$0x4f8110b9 // fmla v25.4s, v5.4s, v1.s[0]
	WORD	$0x4fa1109a // fmla v26.4s, v4.4s, v1.s[1]
	WORD	$0x4fa110bb // fmla v27.4s, v5.4s, v1.s[1]
	WORD	$0x4f81189c // fmla v28.4s, v4.4s, v1.s[2]
	WORD	$0x4f8118bd // fmla v29.4s, v5.4s, v1.s[2]
	WORD	$0x4fa1189e // fmla v30.4s, v4.4s, v1.s[3]
	WORD	$0x4fa118bf // fmla v31.4s, v5.4s, v1.s[3]
	SUBS	$1, R6, R6
	BNE	tail1

store:
	FMOVS	alpha+48(FP), F0
	FMOVS	beta+52(FP), F1
	FCMPS	$(0.0), F1
	BEQ	store0

	// C = alpha*acc + beta*C, row by row.
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f801202 // fmla v2.4s, v16.4s, v0.s[0]
	WORD	$0x4f801223 // fmla v3.4s, v17.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f801242 // fmla v2.4s, v18.4s, v0.s[0]
	WORD	$0x4f801263 // fmla v3.4s, v19.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f801282 // fmla v2.4s, v20.4s, v0.s[0]
	WORD	$0x4f8012a3 // fmla v3.4s, v21.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f8012c2 // fmla v2.4s, v22.4s, v0.s[0]
	WORD	$0x4f8012e3 // fmla v3.4s, v23.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f801302 // fmla v2.4s, v24.4s, v0.s[0]
	WORD	$0x4f801323 // fmla v3.4s, v25.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f801342 // fmla v2.4s, v26.4s, v0.s[0]
	WORD	$0x4f801363 // fmla v3.4s, v27.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f801382 // fmla v2.4s, v28.4s, v0.s[0]
	WORD	$0x4f8013a3 // fmla v3.4s, v29.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	VLD1	(R3), [V2.S4, V3.S4]
	WORD	$0x4f819042 // fmul v2.4s, v2.4s, v1.s[0]
	WORD	$0x4f819063 // fmul v3.4s, v3.4s, v1.s[0]
	WORD	$0x4f8013c2 // fmla v2.4s, v30.4s, v0.s[0]
	WORD	$0x4f8013e3 // fmla v3.4s, v31.4s, v0.s[0]
	VST1.P	[V2.S4, V3.S4], (R3)(R4)
	RET

store0:
	// beta == 0: C = alpha*acc, without reading C.
	WORD	$0x4f809210 // fmul v16.4s, v16.4s, v0.s[0]
	WORD	$0x4f809231 // fmul v17.4s, v17.4s, v0.s[0]
	VST1.P	[V16.S4, V17.S4], (R3)(R4)
	WORD	$0x4f809252 // fmul v18.4s, v18.4s, v0.s[0]
	WORD	$0x4f809273 // fmul v19.4s, v19.4s, v0.s[0]
	VST1.P	[V18.S4, V19.S4], (R3)(R4)
	WORD	$0x4f809294 // fmul v20.4s, v20.4s, v0.s[0]
	WORD	$0x4f8092b5 // fmul v21.4s, v21.4s, v0.s[0]
	VST1.P	[V20.S4, V21.S4], (R3)(R4)
	WORD	$0x4f8092d6 // fmul v22.4s, v22.4s, v0.s[0]
	WORD	$0x4f8092f7 // fmul v23.4s, v23.4s, v0.s[0]
	VST1.P	[V22.S4, V23.S4], (R3)(R4)
	WORD	$0x4f809318 // fmul v24.4s, v24.4s, v0.s[0]
	WORD	$0x4f809339 // fmul v25.4s, v25.4s, v0.s[0]
	VST1.P	[V24.S4, V25.S4], (R3)(R4)
	WORD	$0x4f80935a // fmul v26.4s, v26.4s, v0.s[0]
	WORD	$0x4f80937b // fmul v27.4s, v27.4s, v0.s[0]
	VST1.P	[V26.S4, V27.S4], (R3)(R4)
	WORD	$0x4f80939c // fmul v28.4s, v28.4s, v0.s[0]
	WORD	$0x4f8093bd // fmul v29.4s, v29.4s, v0.s[0]
	VST1.P	[V28.S4, V29.S4], (R3)(R4)
	WORD	$0x4f8093de // fmul v30.4s, v30.4s, v0.s[0]
	WORD	$0x4f8093ff // fmul v31.4s, v31.4s, v0.s[0]
	VST1.P	[V30.S4, V31.S4], (R3)(R4)
	RET

// func packRow8NEON(dst *float32, stride int, src *float32, panels int)
TEXT ·packRow8NEON(SB), NOSPLIT, $0-32
	MOVD	dst+0(FP), R0
	MOVD	stride+8(FP), R1
	MOVD	src+16(FP), R2
	MOVD	panels+24(FP), R3
	LSL	$2, R1, R1
	CBZ	R3, packdone

pack8:
	VLD1.P	32(R2), [V0.S4, V1.S4]
	VST1.P	[V0.S4, V1.S4], (R0)(R1)
	SUBS	$1, R3, R3
	BNE	pack8

packdone:
	RET

