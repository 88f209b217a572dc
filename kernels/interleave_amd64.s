//go:build !purego

#include "textflag.h"

// func deinterleave8Asm(even, odd, src *float32, blocks int)
//
// Per block: VSHUFPS picks the even (0x88) and odd (0xDD) elements of two
// vectors within each 128-bit lane, giving [a0 a2 a8 a10 | a4 a6 a12 a14];
// VPERMPD 0xD8 (quadwords 0, 2, 1, 3) puts them in order.
TEXT ·deinterleave8Asm(SB), NOSPLIT, $0-32
	MOVQ even+0(FP), DI
	MOVQ odd+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ blocks+24(FP), CX

dloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VPERMPD $0xD8, Y2, Y2
	VPERMPD $0xD8, Y3, Y3
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, (DX)
	ADDQ $64, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNZ  dloop
	VZEROUPPER
	RET

// func interleave8Asm(dst, even, odd *float32, blocks int)
//
// Per block: VPERMPD 0xD8 turns [e0..e7] into [e0 e1 e4 e5 | e2 e3 e6 e7]
// (likewise odd), then VUNPCKLPS/VUNPCKHPS interleave within lanes:
// [e0 o0 e1 o1 | e2 o2 e3 o3] and [e4 o4 e5 o5 | e6 o6 e7 o7].
TEXT ·interleave8Asm(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ even+8(FP), SI
	MOVQ odd+16(FP), DX
	MOVQ blocks+24(FP), CX

iloop:
	VPERMPD   $0xD8, (SI), Y0
	VPERMPD   $0xD8, (DX), Y1
	VUNPCKLPS Y1, Y0, Y2
	VUNPCKHPS Y1, Y0, Y3
	VMOVUPS   Y2, (DI)
	VMOVUPS   Y3, 32(DI)
	ADDQ      $32, SI
	ADDQ      $32, DX
	ADDQ      $64, DI
	DECQ      CX
	JNZ       iloop
	VZEROUPPER
	RET
