package main

import "fmt"

// The NEON vector kernels of vec_arm64.s.

// neonVec is one vector kernel over n elements (R1 counts them down). Every
// kernel has the same loop structure; the parts are what differs.
type neonVec struct {
	name  string
	notes []string // paragraphs of the doc after the Go loop

	// setup loads the arguments (n into R1) and sets up constants and
	// accumulators.
	setup func(f *arm64)
	// body handles u vectors of four floats: u = 4 in the main loop, 1 in
	// the 4-float loop.
	body func(f *arm64, u int)
	// reduce, if not nil, reduces the accumulators to S16 after the
	// 4-float loop.
	reduce func(f *arm64)
	// scalar handles one element, after the comment scalarNote.
	scalarNote []string
	scalar     func(f *arm64)
	// result, if not nil, stores the result at the end.
	result func(f *arm64)
}

// vecKernel writes kernel k: a 16-float main loop (four vectors), a 4-float
// loop and a scalar tail, touching only the first n elements.
func (f *arm64) vecKernel(k neonVec) {
	f.text(k.name+"NEON", vecSigs[k.name], vecDoc(k.name, "NEON", k.notes...))
	k.setup(f)

	f.label("loop16")
	f.ins("CMP", "$16", "R1")
	f.ins("BLT", "loop4")
	k.body(f, 4)
	f.ins("SUB", "$16", "R1", "R1")
	f.ins("B", "loop16")

	next := "loop1"
	if k.reduce != nil {
		next = "reduce"
	}
	f.label("loop4")
	f.ins("CMP", "$4", "R1")
	f.ins("BLT", next)
	k.body(f, 1)
	f.ins("SUB", "$4", "R1", "R1")
	f.ins("B", "loop4")

	if k.reduce != nil {
		f.label("reduce")
		k.reduce(f)
	}

	f.label("loop1")
	f.comment(k.scalarNote...)
	f.ins("CBZ", "R1", "done")
	k.scalar(f)
	f.ins("SUB", "$1", "R1", "R1")
	f.ins("B", "loop1")

	f.label("done")
	if k.result != nil {
		k.result(f)
	}
	f.ins("RET")
}

// post is the post-incremented address of u vectors at base.
func post(u int, base string) string { return fmt.Sprintf("%d(%s)", 16*u, base) }

// movArgs moves the named arguments into registers, in order.
func (f *arm64) movArgs(args ...string) {
	for i := 0; i < len(args); i += 2 {
		f.ins("MOVD", f.arg(args[i]), args[i+1])
	}
}

// zeroAcc clears the accumulators V16-V19.
func zeroAcc(f *arm64) {
	each(4, func(i int) {
		r := v(16+i, "B16")
		f.ins("VEOR", r, r, r)
	})
}

// fold4 combines the accumulators V16-V19 into V16 with op.
func fold4(f *arm64, op neonOp) {
	f.word(vec3(op, 16, 16, 17))
	f.word(vec3(op, 18, 18, 19))
	f.word(vec3(op, 16, 16, 18))
}

// sumReduce sums the lanes of V16-V19 into S16 (lanes 1-3 of V16 become
// zero).
func sumReduce(f *arm64) {
	fold4(f, faddVec)
	f.word(vec3(faddpVec, 16, 16, 16))
	f.word(vec2(faddpPair, 16, 16))
}

// neonBinary is dst = x op y (add, mul).
func neonBinary(name string, op neonOp, scalarOp string) neonVec {
	return neonVec{
		name:  name,
		setup: func(f *arm64) { f.movArgs("dst.base", "R3", "dst.len", "R1", "x.base", "R0", "y.base", "R2") },
		body: func(f *arm64, u int) {
			f.ins("VLD1.P", post(u, "R0"), vlist(0, u))
			f.ins("VLD1.P", post(u, "R2"), vlist(4, u))
			each(u, func(i int) { f.word(vec3(op, i, i, 4+i)) })
			f.ins("VST1.P", vlist(0, u), post(u, "R3"))
		},
		scalar: func(f *arm64) {
			f.ins("FMOVS.P", "4(R0)", "F0")
			f.ins("FMOVS.P", "4(R2)", "F4")
			f.ins(scalarOp, "F4", "F0", "F0")
			f.ins("FMOVS.P", "F0", "4(R3)")
		},
	}
}

func vecNEONFile() ([]byte, error) {
	f := newARM64(`NEON vector kernels; neon_arm64.go declares them. Each runs a 16-float
main loop (four vectors), a 4-float loop and a scalar tail, and touches
only the first n elements. Go's assembler lacks the vector FADD, FMUL,
FMAX, FADDP, FMAXV, FCMGT, FCMLT and BIC mnemonics, so they are
WORD-encoded; the comment on each gives the instruction in GNU syntax.`)

	kernels := []neonVec{
		{
			name: "axpy",
			setup: func(f *arm64) {
				f.ins("FMOVS", f.arg("alpha"), "F0")
				f.movArgs("x.base", "R0", "x.len", "R1", "y.base", "R2")
				f.ins("VDUP", "V0.S[0]", "V0.S4")
			},
			body: func(f *arm64, u int) {
				f.ins("VLD1.P", post(u, "R0"), vlist(1, u))
				f.ins("VLD1", "(R2)", vlist(5, u))
				each(u, func(i int) { f.ins("VFMLA", v(0, "S4"), v(1+i, "S4"), v(5+i, "S4")) })
				f.ins("VST1.P", vlist(5, u), post(u, "R2"))
			},
			scalarNote: []string{"Scalar loads clear lanes 1-3, so the vector FMLA works on lane 0."},
			scalar: func(f *arm64) {
				f.ins("FMOVS.P", "4(R0)", "F1")
				f.ins("FMOVS", "(R2)", "F5")
				f.ins("VFMLA", "V0.S4", "V1.S4", "V5.S4")
				f.ins("FMOVS.P", "F5", "4(R2)")
			},
		},
		{
			name:  "dot",
			notes: []string{"It computes with four vector accumulators, so the rounding differs from that loop."},
			setup: func(f *arm64) {
				f.movArgs("x.base", "R0", "x.len", "R1", "y.base", "R2")
				zeroAcc(f)
			},
			body: func(f *arm64, u int) {
				f.ins("VLD1.P", post(u, "R0"), vlist(0, u))
				f.ins("VLD1.P", post(u, "R2"), vlist(4, u))
				each(u, func(i int) { f.ins("VFMLA", v(i, "S4"), v(4+i, "S4"), v(16+i, "S4")) })
			},
			reduce: sumReduce,
			scalarNote: []string{"The scalar FADDP cleared lanes 1-3 of V16, and so do the scalar",
				"loads of V0 and V4: the vector FMLA works on lane 0."},
			scalar: func(f *arm64) {
				f.ins("FMOVS.P", "4(R0)", "F0")
				f.ins("FMOVS.P", "4(R2)", "F4")
				f.ins("VFMLA", "V0.S4", "V4.S4", "V16.S4")
			},
			result: func(f *arm64) { f.ins("FMOVS", "F16", f.arg("ret")) },
		},
		{
			name: "scale",
			setup: func(f *arm64) {
				f.ins("FMOVS", f.arg("alpha"), "F0")
				f.movArgs("x.base", "R0", "x.len", "R1")
				f.ins("VDUP", "V0.S[0]", "V0.S4")
			},
			body: func(f *arm64, u int) {
				f.ins("VLD1", "(R0)", vlist(1, u))
				each(u, func(i int) { f.word(vec3(fmulVec, 1+i, 1+i, 0)) })
				f.ins("VST1.P", vlist(1, u), post(u, "R0"))
			},
			scalar: func(f *arm64) {
				f.ins("FMOVS", "(R0)", "F1")
				f.ins("FMULS", "F0", "F1", "F1")
				f.ins("FMOVS.P", "F1", "4(R0)")
			},
		},
		neonBinary("add", faddVec, "FADDS"),
		neonBinary("mul", fmulVec, "FMULS"),
		{
			name: "relu",
			notes: []string{"dst = x AND NOT (x < 0 ? all ones : 0), with FCMLT (zero) and BIC: " +
				"+0 wherever x < 0 (-Inf too). The compare is false for -0 and for a NaN, " +
				"so those pass through bit for bit (a NaN keeps its payload and sign), like " +
				"reluGeneric."},
			setup: func(f *arm64) { f.movArgs("dst.base", "R3", "dst.len", "R1", "x.base", "R0") },
			body: func(f *arm64, u int) {
				f.ins("VLD1.P", post(u, "R0"), vlist(0, u))
				each(u, func(i int) { f.word(vec2(fcmltZero, 4+i, i)) })
				each(u, func(i int) { f.word(vec3(bicVec, i, i, 4+i)) })
				f.ins("VST1.P", vlist(0, u), post(u, "R3"))
			},
			scalar: func(f *arm64) {
				f.ins("FMOVS.P", "4(R0)", "F0")
				f.word(vec2(fcmltZero, 4, 0))
				f.word(vec3(bicVec, 0, 0, 4))
				f.ins("FMOVS.P", "F0", "4(R3)")
			},
		},
		{
			name:  "reluBackward",
			notes: []string{"dx = dy AND (x > 0 ? all ones : 0): +0 where x <= 0 or x is NaN."},
			setup: func(f *arm64) {
				f.movArgs("dx.base", "R3", "dx.len", "R1", "dy.base", "R2", "x.base", "R0")
			},
			body: func(f *arm64, u int) {
				f.ins("VLD1.P", post(u, "R0"), vlist(0, u))
				f.ins("VLD1.P", post(u, "R2"), vlist(4, u))
				each(u, func(i int) { f.word(vec2(fcmgtZero, i, i)) })
				each(u, func(i int) { f.ins("VAND", v(i, "B16"), v(4+i, "B16"), v(4+i, "B16")) })
				f.ins("VST1.P", vlist(4, u), post(u, "R3"))
			},
			scalar: func(f *arm64) {
				f.ins("FMOVS.P", "4(R0)", "F0")
				f.ins("FMOVS.P", "4(R2)", "F4")
				f.word(vec2(fcmgtZero, 0, 0))
				f.ins("VAND", "V0.B16", "V4.B16", "V4.B16")
				f.ins("FMOVS.P", "F4", "4(R3)")
			},
		},
		{
			name:  "sum",
			notes: []string{"It computes with four vector accumulators, so the rounding differs from that loop."},
			setup: func(f *arm64) {
				f.movArgs("x.base", "R0", "x.len", "R1")
				zeroAcc(f)
			},
			body: func(f *arm64, u int) {
				f.ins("VLD1.P", post(u, "R0"), vlist(0, u))
				each(u, func(i int) { f.word(vec3(faddVec, 16+i, 16+i, i)) })
			},
			reduce: sumReduce,
			scalar: func(f *arm64) {
				f.ins("FMOVS.P", "4(R0)", "F0")
				f.ins("FADDS", "F0", "F16", "F16")
			},
			result: func(f *arm64) { f.ins("FMOVS", "F16", f.arg("ret")) },
		},
		{
			name: "max",
			notes: []string{"FMAX, FMAXV and scalar FMAX return NaN when an operand is NaN, so a NaN " +
				"anywhere in x reaches the result; an empty x gives -Inf."},
			setup: func(f *arm64) {
				f.movArgs("x.base", "R0", "x.len", "R1")
				f.comment("V16-V19 = -Inf (0xff800000) in every lane.")
				f.ins("MOVW", "$0xff800000", "R2")
				each(4, func(i int) { f.ins("VDUP", "R2", v(16+i, "S4")) })
			},
			body: func(f *arm64, u int) {
				f.ins("VLD1.P", post(u, "R0"), vlist(0, u))
				each(u, func(i int) { f.word(vec3(fmaxVec, 16+i, 16+i, i)) })
			},
			reduce: func(f *arm64) {
				fold4(f, fmaxVec)
				f.word(vec2(fmaxvAll, 16, 16))
			},
			scalar: func(f *arm64) {
				f.ins("FMOVS.P", "4(R0)", "F0")
				f.ins("FMAXS", "F0", "F16", "F16")
			},
			result: func(f *arm64) { f.ins("FMOVS", "F16", f.arg("ret")) },
		},
		{
			name:  "scaleShift",
			notes: []string{"It uses fused multiply-adds."},
			setup: func(f *arm64) {
				f.movArgs("dst.base", "R3", "dst.len", "R1", "x.base", "R0")
				f.ins("FMOVS", f.arg("a"), "F16")
				f.ins("FMOVS", f.arg("b"), "F17")
				f.ins("VDUP", "V16.S[0]", "V16.S4")
				f.ins("VDUP", "V17.S[0]", "V17.S4")
			},
			body: func(f *arm64, u int) {
				f.ins("VLD1.P", post(u, "R0"), vlist(0, u))
				each(u, func(i int) { f.ins("VMOV", "V17.B16", v(4+i, "B16")) })
				each(u, func(i int) { f.ins("VFMLA", "V16.S4", v(i, "S4"), v(4+i, "S4")) })
				f.ins("VST1.P", vlist(4, u), post(u, "R3"))
			},
			scalar: func(f *arm64) {
				f.ins("FMOVS.P", "4(R0)", "F0")
				f.ins("VMOV", "V17.B16", "V4.B16")
				f.ins("VFMLA", "V16.S4", "V0.S4", "V4.S4")
				f.ins("FMOVS.P", "F4", "4(R3)")
			},
		},
	}
	for _, k := range kernels {
		f.vecKernel(k)
	}
	return f.bytes(), nil
}
