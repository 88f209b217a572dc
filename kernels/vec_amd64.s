//go:build !purego

#include "textflag.h"

// AVX2+FMA vector kernels. See vec_amd64.go for the Go loop each computes.
//
// Register use common to all kernels:
//	AX  element index i
//	BX  end of the current loop (n rounded down to 32, then to 8)
//	CX  n
//	SI, DX, R8  input base pointers; DI output base pointer
//
// Each kernel runs a main loop of 32 floats (four YMM registers) per
// iteration, then an 8-float loop, then a scalar loop for the last n%8
// elements, so it neither reads nor writes past element n-1 and needs no
// alignment. Operands are in Go order: the reverse of Intel's, so
// "VFMADD231PS m, Y0, Y1" is Y1 += Y0*m and "VMAXPS Y2, Y1, Y0" is
// Y0 = max(Y1, Y2) with Intel's src1=Y1, src2=Y2.

// func axpyAVX2(alpha float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         y_base+32(FP), DI
	VBROADCASTSS alpha+0(FP), Y0
	XORQ         AX, AX
	MOVQ         CX, BX
	ANDQ         $~31, BX
	JZ           tail8

loop32:
	VMOVUPS     (DI)(AX*4), Y1
	VMOVUPS     32(DI)(AX*4), Y2
	VMOVUPS     64(DI)(AX*4), Y3
	VMOVUPS     96(DI)(AX*4), Y4
	VFMADD231PS (SI)(AX*4), Y0, Y1
	VFMADD231PS 32(SI)(AX*4), Y0, Y2
	VFMADD231PS 64(SI)(AX*4), Y0, Y3
	VFMADD231PS 96(SI)(AX*4), Y0, Y4
	VMOVUPS     Y1, (DI)(AX*4)
	VMOVUPS     Y2, 32(DI)(AX*4)
	VMOVUPS     Y3, 64(DI)(AX*4)
	VMOVUPS     Y4, 96(DI)(AX*4)
	ADDQ        $32, AX
	CMPQ        AX, BX
	JB          loop32

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  tail1

loop8:
	VMOVUPS     (DI)(AX*4), Y1
	VFMADD231PS (SI)(AX*4), Y0, Y1
	VMOVUPS     Y1, (DI)(AX*4)
	ADDQ        $8, AX
	CMPQ        AX, BX
	JB          loop8

tail1:
	CMPQ AX, CX
	JAE  done

loop1:
	VMOVSS      (DI)(AX*4), X1
	VFMADD231SS (SI)(AX*4), X0, X1
	VMOVSS      X1, (DI)(AX*4)
	INCQ        AX
	CMPQ        AX, CX
	JB          loop1

done:
	VZEROUPPER
	RET

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   y_base+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $~31, BX
	JZ     tail8

	// Four independent accumulators hide the FMA latency.
loop32:
	VMOVUPS     (SI)(AX*4), Y4
	VMOVUPS     32(SI)(AX*4), Y5
	VMOVUPS     64(SI)(AX*4), Y6
	VMOVUPS     96(SI)(AX*4), Y7
	VFMADD231PS (DX)(AX*4), Y4, Y0
	VFMADD231PS 32(DX)(AX*4), Y5, Y1
	VFMADD231PS 64(DX)(AX*4), Y6, Y2
	VFMADD231PS 96(DX)(AX*4), Y7, Y3
	ADDQ        $32, AX
	CMPQ        AX, BX
	JB          loop32

	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  reduce

loop8:
	VMOVUPS     (SI)(AX*4), Y4
	VFMADD231PS (DX)(AX*4), Y4, Y0
	ADDQ        $8, AX
	CMPQ        AX, BX
	JB          loop8

	// Horizontal sum of the eight lanes of Y0 into X0[0].
reduce:
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	CMPQ         AX, CX
	JAE          done

loop1:
	VMOVSS      (SI)(AX*4), X1
	VFMADD231SS (DX)(AX*4), X1, X0
	INCQ        AX
	CMPQ        AX, CX
	JB          loop1

done:
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func scaleAVX2(alpha float32, x []float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-32
	MOVQ         x_base+8(FP), DI
	MOVQ         x_len+16(FP), CX
	VBROADCASTSS alpha+0(FP), Y0
	XORQ         AX, AX
	MOVQ         CX, BX
	ANDQ         $~31, BX
	JZ           tail8

loop32:
	VMULPS  (DI)(AX*4), Y0, Y1
	VMULPS  32(DI)(AX*4), Y0, Y2
	VMULPS  64(DI)(AX*4), Y0, Y3
	VMULPS  96(DI)(AX*4), Y0, Y4
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	VMOVUPS Y3, 64(DI)(AX*4)
	VMOVUPS Y4, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, BX
	JB      loop32

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  tail1

loop8:
	VMULPS  (DI)(AX*4), Y0, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, BX
	JB      loop8

tail1:
	CMPQ AX, CX
	JAE  done

loop1:
	VMULSS (DI)(AX*4), X0, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ   AX
	CMPQ   AX, CX
	JB     loop1

done:
	VZEROUPPER
	RET

// func addAVX2(dst, x, y []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ y_base+48(FP), DX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $~31, BX
	JZ   tail8

loop32:
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VADDPS  (DX)(AX*4), Y0, Y0
	VADDPS  32(DX)(AX*4), Y1, Y1
	VADDPS  64(DX)(AX*4), Y2, Y2
	VADDPS  96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, BX
	JB      loop32

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  tail1

loop8:
	VMOVUPS (SI)(AX*4), Y0
	VADDPS  (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, BX
	JB      loop8

tail1:
	CMPQ AX, CX
	JAE  done

loop1:
	VMOVSS (SI)(AX*4), X0
	VADDSS (DX)(AX*4), X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ   AX
	CMPQ   AX, CX
	JB     loop1

done:
	VZEROUPPER
	RET

// func mulAVX2(dst, x, y []float32)
TEXT ·mulAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ y_base+48(FP), DX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $~31, BX
	JZ   tail8

loop32:
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VMULPS  (DX)(AX*4), Y0, Y0
	VMULPS  32(DX)(AX*4), Y1, Y1
	VMULPS  64(DX)(AX*4), Y2, Y2
	VMULPS  96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, BX
	JB      loop32

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  tail1

loop8:
	VMOVUPS (SI)(AX*4), Y0
	VMULPS  (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, BX
	JB      loop8

tail1:
	CMPQ AX, CX
	JAE  done

loop1:
	VMOVSS (SI)(AX*4), X0
	VMULSS (DX)(AX*4), X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ   AX
	CMPQ   AX, CX
	JB     loop1

done:
	VZEROUPPER
	RET

// func reluAVX2(dst, x []float32)
//
// VMAXPS returns its second source operand (Intel's src2, the first operand
// here) when the inputs compare equal or either is NaN. With x as src1 and
// +0 as src2 it computes exactly "if x > 0 { x } else { +0 }": -0 and NaN
// both give +0, like reluGeneric.
TEXT ·reluAVX2(SB), NOSPLIT, $0-48
	MOVQ   dst_base+0(FP), DI
	MOVQ   dst_len+8(FP), CX
	MOVQ   x_base+24(FP), SI
	VXORPS Y8, Y8, Y8 // +0
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $~31, BX
	JZ     tail8

loop32:
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VMAXPS  Y8, Y0, Y0
	VMAXPS  Y8, Y1, Y1
	VMAXPS  Y8, Y2, Y2
	VMAXPS  Y8, Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, BX
	JB      loop32

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  tail1

loop8:
	VMOVUPS (SI)(AX*4), Y0
	VMAXPS  Y8, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, BX
	JB      loop8

tail1:
	CMPQ AX, CX
	JAE  done

loop1:
	VMOVSS (SI)(AX*4), X0
	VMAXSS X8, X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ   AX
	CMPQ   AX, CX
	JB     loop1

done:
	VZEROUPPER
	RET

// func reluBackwardAVX2(dx, dy, x []float32)
//
// The mask is 0 < x[i], an ordered quiet compare (predicate LT_OQ, 0x11),
// so it is false for a NaN x[i] and dx[i] becomes +0.
TEXT ·reluBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ   dx_base+0(FP), DI
	MOVQ   dx_len+8(FP), CX
	MOVQ   dy_base+24(FP), DX
	MOVQ   x_base+48(FP), SI
	VXORPS Y8, Y8, Y8 // +0
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $~31, BX
	JZ     tail8

loop32:
	VCMPPS  $0x11, (SI)(AX*4), Y8, Y0
	VCMPPS  $0x11, 32(SI)(AX*4), Y8, Y1
	VCMPPS  $0x11, 64(SI)(AX*4), Y8, Y2
	VCMPPS  $0x11, 96(SI)(AX*4), Y8, Y3
	VANDPS  (DX)(AX*4), Y0, Y0
	VANDPS  32(DX)(AX*4), Y1, Y1
	VANDPS  64(DX)(AX*4), Y2, Y2
	VANDPS  96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, BX
	JB      loop32

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  tail1

loop8:
	VCMPPS  $0x11, (SI)(AX*4), Y8, Y0
	VANDPS  (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, BX
	JB      loop8

tail1:
	CMPQ AX, CX
	JAE  done

loop1:
	VCMPSS $0x11, (SI)(AX*4), X8, X0
	VMOVSS (DX)(AX*4), X1
	VANDPS X1, X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ   AX
	CMPQ   AX, CX
	JB     loop1

done:
	VZEROUPPER
	RET

// func sumAVX2(x []float32) float32
TEXT ·sumAVX2(SB), NOSPLIT, $0-28
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $~31, BX
	JZ     tail8

	// Four independent accumulators hide the add latency.
loop32:
	VADDPS (SI)(AX*4), Y0, Y0
	VADDPS 32(SI)(AX*4), Y1, Y1
	VADDPS 64(SI)(AX*4), Y2, Y2
	VADDPS 96(SI)(AX*4), Y3, Y3
	ADDQ   $32, AX
	CMPQ   AX, BX
	JB     loop32

	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  reduce

loop8:
	VADDPS (SI)(AX*4), Y0, Y0
	ADDQ   $8, AX
	CMPQ   AX, BX
	JB     loop8

	// Horizontal sum of the eight lanes of Y0 into X0[0].
reduce:
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	CMPQ         AX, CX
	JAE          done

loop1:
	VADDSS (SI)(AX*4), X0, X0
	INCQ   AX
	CMPQ   AX, CX
	JB     loop1

done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func maxAVX2(x []float32) float32
//
// The running maxima are VMAXPS with the new elements as src1 and the
// maxima as src2, so a NaN element never enters them (VMAXPS returns src2
// when either is NaN). NaNs are tracked separately: Y8 ORs together
// unordered compares (predicate UNORD_Q, 3) of the elements, and if any
// lane is set the result is NaN. An empty x gives -Inf.
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ     x_base+0(FP), SI
	MOVQ     x_len+8(FP), CX
	VPCMPEQD Y0, Y0, Y0
	VPSLLD   $23, Y0, Y0 // 0xff800000 = -Inf in every lane
	VMOVAPS  Y0, Y1
	VMOVAPS  Y0, Y2
	VMOVAPS  Y0, Y3
	VXORPS   Y8, Y8, Y8 // NaN seen
	XORQ     AX, AX
	MOVQ     CX, BX
	ANDQ     $~31, BX
	JZ       tail8

loop32:
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS 64(SI)(AX*4), Y6
	VMOVUPS 96(SI)(AX*4), Y7
	VMAXPS  Y0, Y4, Y0
	VMAXPS  Y1, Y5, Y1
	VMAXPS  Y2, Y6, Y2
	VMAXPS  Y3, Y7, Y3
	VCMPPS  $3, Y5, Y4, Y4 // Y4 or Y5 is NaN
	VCMPPS  $3, Y7, Y6, Y6 // Y6 or Y7 is NaN
	VORPS   Y4, Y8, Y8
	VORPS   Y6, Y8, Y8
	ADDQ    $32, AX
	CMPQ    AX, BX
	JB      loop32

	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  reduce

loop8:
	VMOVUPS (SI)(AX*4), Y4
	VMAXPS  Y0, Y4, Y0
	VCMPPS  $3, Y4, Y4, Y4
	VORPS   Y4, Y8, Y8
	ADDQ    $8, AX
	CMPQ    AX, BX
	JB      loop8

reduce:
	VMOVMSKPS Y8, DX
	TESTL     DX, DX
	JNZ       nan

	// Horizontal max of the eight lanes of Y0 into X0[0].
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VMAXSS       X1, X0, X0
	CMPQ         AX, CX
	JAE          done

loop1:
	VMOVSS   (SI)(AX*4), X1
	VUCOMISS X1, X1
	JPS      nan           // unordered: X1 is NaN
	VMAXSS   X0, X1, X0
	INCQ     AX
	CMPQ     AX, CX
	JB       loop1

done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

nan:
	MOVL $0x7fc00000, ret+24(FP)
	VZEROUPPER
	RET

// func scaleShiftAVX2(dst, x []float32, a, b float32)
TEXT ·scaleShiftAVX2(SB), NOSPLIT, $0-56
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS a+48(FP), Y0
	VBROADCASTSS b+52(FP), Y1
	XORQ         AX, AX
	MOVQ         CX, BX
	ANDQ         $~31, BX
	JZ           tail8

loop32:
	VMOVUPS     (SI)(AX*4), Y2
	VMOVUPS     32(SI)(AX*4), Y3
	VMOVUPS     64(SI)(AX*4), Y4
	VMOVUPS     96(SI)(AX*4), Y5
	VFMADD213PS Y1, Y0, Y2 // Y2 = Y2*a + b
	VFMADD213PS Y1, Y0, Y3
	VFMADD213PS Y1, Y0, Y4
	VFMADD213PS Y1, Y0, Y5
	VMOVUPS     Y2, (DI)(AX*4)
	VMOVUPS     Y3, 32(DI)(AX*4)
	VMOVUPS     Y4, 64(DI)(AX*4)
	VMOVUPS     Y5, 96(DI)(AX*4)
	ADDQ        $32, AX
	CMPQ        AX, BX
	JB          loop32

tail8:
	MOVQ CX, BX
	ANDQ $~7, BX
	CMPQ AX, BX
	JAE  tail1

loop8:
	VMOVUPS     (SI)(AX*4), Y2
	VFMADD213PS Y1, Y0, Y2
	VMOVUPS     Y2, (DI)(AX*4)
	ADDQ        $8, AX
	CMPQ        AX, BX
	JB          loop8

tail1:
	CMPQ AX, CX
	JAE  done

loop1:
	VMOVSS      (SI)(AX*4), X2
	VFMADD213SS X1, X0, X2
	VMOVSS      X2, (DI)(AX*4)
	INCQ        AX
	CMPQ        AX, CX
	JB          loop1

done:
	VZEROUPPER
	RET
