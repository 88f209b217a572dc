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
	a := newX86(`Deinterleave and Interleave, eight pairs per block (blocks >= 1);
interleave_amd64.go declares them and does the rest in Go.`)

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
	return a.print()
}
