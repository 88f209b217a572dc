package main

import (
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The even/odd split of interleave_amd64.s, eight pairs at a time.

// interleaveLoop is the loop of both kernels: blocks (CX) times, body then
// the pointer increments (register, bytes).
func (a *x86) interleaveLoop(body func(), incs ...any) {
	a.Label("loop")
	body()
	for i := 0; i < len(incs); i += 2 {
		a.ADDQ(imm(incs[i+1].(int)), incs[i].(reg.Register))
	}
	a.DECQ(reg.RCX)
	a.JNZ(operand.LabelRef("loop"))
	a.exit()
}

func interleaveFile() ([]byte, error) {
	a := newX86(`Deinterleave and Interleave, eight pairs per block (blocks >= 1), and
the row of a 2×2 max pooling built on the same split; interleave_amd64.go
declares them and does the rest in Go.`)

	a.text("deinterleave8Asm", "func(even, odd, src *float32, blocks int)",
		`deinterleave8Asm computes, for i < 8·blocks,

	even[i], odd[i] = src[2*i], src[2*i+1]

Per block: VSHUFPS picks the even (0x88) and odd (0xDD) elements of two
vectors within each 128-bit lane, giving [a0 a2 a8 a10 | a4 a6 a12 a14];
VPERMPD 0xD8 (quadwords 0, 2, 1, 3) puts them in order.`)
	a.loadArgs("even", reg.RDI, "odd", reg.RDX, "src", reg.RSI, "blocks", reg.RCX)
	a.interleaveLoop(func() {
		a.VMOVUPS(mem(0, reg.RSI, nil, 0), ymm(0))
		a.VMOVUPS(mem(32, reg.RSI, nil, 0), ymm(1))
		a.VSHUFPS(imm(0x88), ymm(1), ymm(0), ymm(2))
		a.VSHUFPS(imm(0xDD), ymm(1), ymm(0), ymm(3))
		a.VPERMPD(imm(0xD8), ymm(2), ymm(2))
		a.VPERMPD(imm(0xD8), ymm(3), ymm(3))
		a.VMOVUPS(ymm(2), mem(0, reg.RDI, nil, 0))
		a.VMOVUPS(ymm(3), mem(0, reg.RDX, nil, 0))
	}, reg.RSI, 64, reg.RDI, 32, reg.RDX, 32)

	a.text("interleave8Asm", "func(dst, even, odd *float32, blocks int)",
		`interleave8Asm computes, for i < 8·blocks,

	dst[2*i], dst[2*i+1] = even[i], odd[i]

Per block: VPERMPD 0xD8 turns [e0..e7] into [e0 e1 e4 e5 | e2 e3 e6 e7]
(likewise odd), then VUNPCKLPS/VUNPCKHPS interleave within lanes:
[e0 o0 e1 o1 | e2 o2 e3 o3] and [e4 o4 e5 o5 | e6 o6 e7 o7].`)
	a.loadArgs("dst", reg.RDI, "even", reg.RSI, "odd", reg.RDX, "blocks", reg.RCX)
	a.interleaveLoop(func() {
		a.VPERMPD(imm(0xD8), mem(0, reg.RSI, nil, 0), ymm(0))
		a.VPERMPD(imm(0xD8), mem(0, reg.RDX, nil, 0), ymm(1))
		a.VUNPCKLPS(ymm(1), ymm(0), ymm(2))
		a.VUNPCKHPS(ymm(1), ymm(0), ymm(3))
		a.VMOVUPS(ymm(2), mem(0, reg.RDI, nil, 0))
		a.VMOVUPS(ymm(3), mem(32, reg.RDI, nil, 0))
	}, reg.RSI, 32, reg.RDX, 32, reg.RDI, 64)
	a.maxPool2x2Row()
	return a.print()
}

// maxPool2x2Row writes maxPool2x2Row8Asm: one output row of a 2×2 stride-2
// max pooling, eight outputs per block, with the deinterleave above.
func (a *x86) maxPool2x2Row() {
	a.text("maxPool2x2Row8Asm", "func(y *float32, idx *int32, r0, r1 *float32, pos *[8]int32, w int32, blocks int)",
		`maxPool2x2Row8Asm computes, for o < 8·blocks, with a, b = r0[2o], r0[2o+1]
and c, d = r1[2o], r1[2o+1],

	best, at := a, 0
	for k, v := range [3]float32{b, c, d} {
		if v > best || v != v {
			best, at = v, [3]int32{1, w, w + 1}[k]
		}
	}
	y[o], idx[o] = best, pos[o%8]+16*(o/8)+at

which is the scan of maxPlane2x2 (a NaN wins and a later NaN wins over an
earlier one; ties keep the first). pos holds the index of a for the
block's eight outputs (the row's start plus 0, 2, ..., 14).`)
	a.loadArgs("y", reg.RDI, "idx", reg.RDX, "r0", reg.RSI, "r1", reg.R8, "pos", reg.R9, "blocks", reg.RCX)
	a.VMOVDQU(mem(0, reg.R9, nil, 0), ymm(12))
	a.Comment("Y13, Y14, Y15: the offsets of b, c and d; Y11: 16, the step of pos.")
	a.MOVL(operand.U32(1), reg.EAX)
	a.VMOVD(reg.EAX, xmm(13))
	a.VPBROADCASTD(xmm(13), ymm(13))
	a.MOVL(a.arg("w"), reg.EAX)
	a.VMOVD(reg.EAX, xmm(14))
	a.VPBROADCASTD(xmm(14), ymm(14))
	a.VPADDD(ymm(13), ymm(14), ymm(15))
	a.MOVL(operand.U32(16), reg.EAX)
	a.VMOVD(reg.EAX, xmm(11))
	a.VPBROADCASTD(xmm(11), ymm(11))
	split := func(src reg.Register, even, odd int) {
		a.VMOVUPS(mem(0, src, nil, 0), ymm(8))
		a.VMOVUPS(mem(32, src, nil, 0), ymm(9))
		a.VSHUFPS(imm(0x88), ymm(9), ymm(8), ymm(even))
		a.VSHUFPS(imm(0xDD), ymm(9), ymm(8), ymm(odd))
		a.VPERMPD(imm(0xD8), ymm(even), ymm(even))
		a.VPERMPD(imm(0xD8), ymm(odd), ymm(odd))
	}
	a.interleaveLoop(func() {
		a.Comment("Y0 = a, Y1 = b, Y2 = c, Y3 = d; Y4 = best, Y5 = its offset.")
		split(reg.RSI, 0, 1)
		split(reg.R8, 2, 3)
		a.VMOVAPS(ymm(0), ymm(4))
		a.VPXOR(ymm(5), ymm(5), ymm(5))
		for k, v := range []int{1, 2, 3} {
			a.VCMPPS(imm(0x1E), ymm(4), ymm(v), ymm(6)) // v > best (ordered)
			a.VCMPPS(imm(0x03), ymm(v), ymm(v), ymm(7)) // v is NaN
			a.VORPS(ymm(7), ymm(6), ymm(6))
			a.VBLENDVPS(ymm(6), ymm(v), ymm(4), ymm(4))
			a.VBLENDVPS(ymm(6), ymm(13+k), ymm(5), ymm(5))
		}
		a.VPADDD(ymm(12), ymm(5), ymm(5))
		a.VPADDD(ymm(11), ymm(12), ymm(12))
		a.VMOVUPS(ymm(4), mem(0, reg.RDI, nil, 0))
		a.VMOVDQU(ymm(5), mem(0, reg.RDX, nil, 0))
	}, reg.RSI, 64, reg.R8, 64, reg.RDI, 32, reg.RDX, 32)
}
