package main

import "fmt"

// The NEON GEMM microkernel of gemm_arm64.s, and the loop that packs B for
// it.

// neonTile is the shape of the NEON microkernel: an mr×(4·nv) tile of C in
// mr·nv accumulators from V16 on (row i in V(16+i·nv) .. V(16+i·nv+nv-1));
// A's mr values of one p are mr/4 vectors, B's row nv vectors.
type neonTile struct{ mr, nv int }

func (t neonTile) acc(i, j int) int { return 16 + i*t.nv + j }

// fmlaBlock is one step over p: the row of B (vectors b, b+1, ...) times
// each of the mr A values (lanes of vectors a, a+1, ...), by element.
func (t neonTile) fmlaBlock(f *arm64, a, b int) {
	for i := 0; i < t.mr; i++ {
		for j := 0; j < t.nv; j++ {
			f.word(byElem(fmlaElem, t.acc(i, j), b+j, a+i/4, i%4))
		}
	}
}

func gemmNEONFile() ([]byte, error) {
	t := neonTile{mr: 8, nv: 2}
	if t.mr*t.nv > 16 || 2*(t.mr/4+t.nv) > 8 {
		panic("the tile does not fit the registers")
	}
	nr := 4 * t.nv
	aVecs := t.mr / 4 // vectors of A per p
	f := newARM64(`The 8×8 NEON GEMM microkernel, and packRow8NEON (the inner loop of packing
B). neon_arm64.go declares them.`)

	name := fmt.Sprintf("gemmNEON%dx%d", t.mr, nr)
	f.text(name, "func(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)",
		name+" computes\n"+gemmLoop(t.mr, nr, "p*ldb")+
			`
With beta == 0 it does not read C.

Registers:
	R0 k, R1 a (packed A micro-panel, 8 floats per p), R2 b (row p of
	the B micro-panel, 8 floats, rows ldb floats apart), R7 ldb in bytes,
	R3 c, R4 ldc in bytes, R5 k/4, R6 k%4.
	V16..V31 accumulators: row i of the tile is V(16+2i) (columns 0-3)
	and V(17+2i) (columns 4-7).
	V0..V15 hold the A and B values of up to four values of p.

For each p, the row of B (two vectors) is multiplied by each of the
eight A values with FMLA (by element), 16 FMLAs in all. Go's assembler
has no by-element FMLA or FMUL, so they are WORD-encoded; the comment
on each gives the instruction in GNU syntax.`)
	f.ins("MOVD", f.arg("k"), "R0")
	f.ins("MOVD", f.arg("a"), "R1")
	f.ins("MOVD", f.arg("b"), "R2")
	f.ins("MOVD", f.arg("ldb"), "R7")
	f.ins("MOVD", f.arg("c"), "R3")
	f.ins("MOVD", f.arg("ldc"), "R4")
	f.ins("LSL", "$2", "R7", "R7")
	f.ins("LSL", "$2", "R4", "R4")
	f.ins("LSR", "$2", "R0", "R5")
	f.ins("AND", "$3", "R0", "R6")
	f.gap()
	for i := 0; i < t.mr; i++ {
		for j := 0; j < t.nv; j++ {
			r := v(t.acc(i, j), "B16")
			f.ins("VEOR", r, r, r)
		}
	}
	f.gap()
	f.ins("CBZ", "R5", "tail")

	// Four values of p per iteration, in two halves of two: half h loads
	// A into V(8h) .. and B into V(8h+2·aVecs) ..; step q of the four
	// uses the part of half q/2 for p+q. Half 1 is loaded after step 0,
	// so its loads overlap the FMAs.
	f.label("loop4")
	load := func(h int) {
		base := 8 * h
		f.ins("VLD1.P", fmt.Sprintf("%d(R1)", 2*aVecs*16), vlist(base, 2*aVecs))
		for s := 0; s < 2; s++ {
			f.ins("VLD1.P", "(R2)(R7)", vlist(base+2*aVecs+s*t.nv, t.nv))
		}
	}
	steps := []string{"p", "p+1", "p+2", "p+3"}
	for q := 0; q < 4; q++ {
		h, s := q/2, q%2
		if q < 2 {
			f.comment(fmt.Sprintf("A and B for %s, %s in V%d-V%d.", steps[2*q], steps[2*q+1],
				8*q, 8*q+2*aVecs+2*t.nv-1))
			load(q)
		}
		f.comment(steps[q])
		t.fmlaBlock(f, 8*h+s*aVecs, 8*h+2*aVecs+s*t.nv)
	}
	f.ins("SUBS", "$1", "R5", "R5")
	f.ins("BNE", "loop4")

	f.label("tail")
	f.ins("CBZ", "R6", "store")

	f.label("tail1")
	f.ins("VLD1.P", fmt.Sprintf("%d(R1)", aVecs*16), vlist(0, aVecs))
	f.ins("VLD1.P", "(R2)(R7)", vlist(2*aVecs, t.nv))
	f.comment("one value of p")
	t.fmlaBlock(f, 0, 2*aVecs)
	f.ins("SUBS", "$1", "R6", "R6")
	f.ins("BNE", "tail1")

	f.label("store")
	f.ins("FMOVS", f.arg("alpha"), "F0")
	f.ins("FMOVS", f.arg("beta"), "F1")
	f.ins("FCMPS", "$(0.0)", "F1")
	f.ins("BEQ", "store0")
	f.gap()
	f.comment("C = alpha*acc + beta*C, row by row.")
	for i := 0; i < t.mr; i++ {
		f.ins("VLD1", "(R3)", vlist(2, t.nv))
		for j := 0; j < t.nv; j++ {
			f.word(byElem(fmulElem, 2+j, 2+j, 1, 0))
		}
		for j := 0; j < t.nv; j++ {
			f.word(byElem(fmlaElem, 2+j, t.acc(i, j), 0, 0))
		}
		f.ins("VST1.P", vlist(2, t.nv), "(R3)(R4)")
	}
	f.ins("RET")

	f.label("store0")
	f.comment("beta == 0: C = alpha*acc, without reading C.")
	for i := 0; i < t.mr; i++ {
		for j := 0; j < t.nv; j++ {
			f.word(byElem(fmulElem, t.acc(i, j), t.acc(i, j), 0, 0))
		}
		f.ins("VST1.P", vlist(t.acc(i, 0), t.nv), "(R3)(R4)")
	}
	f.ins("RET")

	f.text("packRow8NEON", "func(dst *float32, stride int, src *float32, panels int)",
		"packRow8NEON computes, for t < panels,\n\n\tcopy(dst[t*stride:t*stride+8], src[t*8:t*8+8])")
	f.ins("MOVD", f.arg("dst"), "R0")
	f.ins("MOVD", f.arg("stride"), "R1")
	f.ins("MOVD", f.arg("src"), "R2")
	f.ins("MOVD", f.arg("panels"), "R3")
	f.ins("LSL", "$2", "R1", "R1")
	f.ins("CBZ", "R3", "done")

	f.label("loop")
	f.ins("VLD1.P", "32(R2)", vlist(0, 2))
	f.ins("VST1.P", vlist(0, 2), "(R0)(R1)")
	f.ins("SUBS", "$1", "R3", "R3")
	f.ins("BNE", "loop")

	f.label("done")
	f.ins("RET")
	return f.bytes(), nil
}
