package main

import (
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The AVX2+FMA vector kernels of vec_amd64.s.

// vecKernel is one vector kernel over n elements. Every kernel has the same
// loop structure; the parts are what differs.
//
// Registers: AX the element index i, BX the end of the current loop (n
// rounded down to 32, then to 8), CX n; SI, DX, R8 input base pointers, DI
// the output base pointer.
type vecKernel struct {
	name  string
	notes []string // paragraphs of the doc after the Go loop

	// setup loads the arguments (n into CX) and sets up constants and
	// accumulators.
	setup func(a *x86)
	// body handles u·8 elements from AX: u = 4 in the main loop, 1 in the
	// 8-float loop.
	body func(a *x86, u int)
	// fold, if not nil, combines the main loop's four accumulators into Y0
	// after it.
	fold func(a *x86)
	// reduce, if not nil, reduces Y0 to X0 after the 8-float loop.
	reduce func(a *x86)
	// scalar handles element AX alone.
	scalar func(a *x86)
	// result, if not nil, stores the result at the end.
	result func(a *x86)
	// tail, if not nil, is code after the final RET (jumped to).
	tail func(a *x86)
}

// at is element AX (plus 8·u) of the array at base.
func at(base reg.Register, u int) operand.Mem { return mem(32*u, base, reg.RAX, 4) }

// each emits f(i) for i < n.
func each(n int, f func(i int)) {
	for i := 0; i < n; i++ {
		f(i)
	}
}

// vecKernel writes kernel k: a main loop of 32 floats (four YMM registers)
// per iteration, then an 8-float loop, then a scalar loop for the last n%8
// elements, so it neither reads nor writes past element n-1 and needs no
// alignment.
func (a *x86) vecKernel(k vecKernel) {
	a.text(k.name+"AVX2", vecSigs[k.name], vecDoc(k.name, "AVX2", k.notes...))
	k.setup(a)
	a.XORQ(reg.RAX, reg.RAX)
	a.MOVQ(reg.RCX, reg.RBX)
	a.ANDQ(imm(^31), reg.RBX)
	a.JZ(operand.LabelRef("tail8"))

	a.Label("loop32")
	k.body(a, 4)
	a.ADDQ(imm(32), reg.RAX)
	a.CMPQ(reg.RAX, reg.RBX)
	a.JB(operand.LabelRef("loop32"))
	if k.fold != nil {
		k.fold(a)
	}

	tail1 := "tail1"
	if k.reduce != nil {
		tail1 = "reduce"
	}
	a.Label("tail8")
	a.MOVQ(reg.RCX, reg.RBX)
	a.ANDQ(imm(^7), reg.RBX)
	a.CMPQ(reg.RAX, reg.RBX)
	a.JAE(operand.LabelRef(tail1))

	a.Label("loop8")
	k.body(a, 1)
	a.ADDQ(imm(8), reg.RAX)
	a.CMPQ(reg.RAX, reg.RBX)
	a.JB(operand.LabelRef("loop8"))

	a.Label(tail1)
	if k.reduce != nil {
		k.reduce(a)
	}
	a.CMPQ(reg.RAX, reg.RCX)
	a.JAE(operand.LabelRef("done"))

	a.Label("loop1")
	k.scalar(a)
	a.INCQ(reg.RAX)
	a.CMPQ(reg.RAX, reg.RCX)
	a.JB(operand.LabelRef("loop1"))

	a.Label("done")
	if k.result != nil {
		k.result(a)
	}
	a.exit()
	if k.tail != nil {
		k.tail(a)
	}
}

// foldY combines Y0-Y3 into Y0 with op.
func foldY(op func(...operand.Op)) func(a *x86) {
	return func(a *x86) {
		op(ymm(1), ymm(0), ymm(0))
		op(ymm(3), ymm(2), ymm(2))
		op(ymm(2), ymm(0), ymm(0))
	}
}

// horizontal reduces the eight lanes of Y0 into X0[0] with op (and its
// scalar form ss).
func (a *x86) horizontal(what string, op, ss func(...operand.Op)) {
	a.Comment("Horizontal " + what + " of the eight lanes of Y0 into X0[0].")
	a.VEXTRACTF128(imm(1), ymm(0), xmm(1))
	op(xmm(1), xmm(0), xmm(0))
	a.VMOVHLPS(xmm(0), xmm(0), xmm(1))
	op(xmm(1), xmm(0), xmm(0))
	a.VMOVSHDUP(xmm(0), xmm(1))
	ss(xmm(1), xmm(0), xmm(0))
}

// loadArgs moves the named arguments into registers, in order.
func (a *x86) loadArgs(args ...any) {
	for i := 0; i < len(args); i += 2 {
		a.MOVQ(a.arg(args[i].(string)), args[i+1].(reg.Register))
	}
}

// binaryKernel is dst = x op y (add, mul).
func binaryKernel(name string, op, ss func(...operand.Op)) vecKernel {
	return vecKernel{
		name: name,
		setup: func(a *x86) {
			a.loadArgs("dst.base", reg.RDI, "dst.len", reg.RCX, "x.base", reg.RSI, "y.base", reg.RDX)
		},
		body: func(a *x86, u int) {
			each(u, func(i int) { a.VMOVUPS(at(reg.RSI, i), ymm(i)) })
			each(u, func(i int) { op(at(reg.RDX, i), ymm(i), ymm(i)) })
			each(u, func(i int) { a.VMOVUPS(ymm(i), at(reg.RDI, i)) })
		},
		scalar: func(a *x86) {
			a.VMOVSS(at(reg.RSI, 0), xmm(0))
			ss(at(reg.RDX, 0), xmm(0), xmm(0))
			a.VMOVSS(xmm(0), at(reg.RDI, 0))
		},
	}
}

func vecAMD64File() ([]byte, error) {
	a := newX86(`AVX2+FMA vector kernels; vec_amd64.go declares them.

Each kernel works on n elements, where n is the length of the output (or of
x where there is no output); the callers in vec.go have resliced every other
slice to n. Each runs a main loop of 32 floats (four YMM registers) per
iteration, then an 8-float loop, then a scalar loop for the last n%8
elements, so it neither reads nor writes past element n-1 and needs no
alignment. Every kernel may be called with dst aliasing an input (each
element is read before it is written).

Register use common to all kernels:
	AX  element index i
	BX  end of the current loop (n rounded down to 32, then to 8)
	CX  n
	SI, DX, R8  input base pointers; DI output base pointer

Operands are in Go order: the reverse of Intel's, so "VFMADD231PS m, Y0, Y1"
is Y1 += Y0*m and "VMAXPS Y2, Y1, Y0" is Y0 = max(Y1, Y2) with Intel's
src1=Y1, src2=Y2.`)

	kernels := []vecKernel{
		{
			name:  "axpy",
			notes: []string{"It uses fused multiply-adds."},
			setup: func(a *x86) {
				a.loadArgs("x.base", reg.RSI, "x.len", reg.RCX, "y.base", reg.RDI)
				a.VBROADCASTSS(a.arg("alpha"), ymm(0))
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VMOVUPS(at(reg.RDI, i), ymm(1+i)) })
				each(u, func(i int) { a.VFMADD231PS(at(reg.RSI, i), ymm(0), ymm(1+i)) })
				each(u, func(i int) { a.VMOVUPS(ymm(1+i), at(reg.RDI, i)) })
			},
			scalar: func(a *x86) {
				a.VMOVSS(at(reg.RDI, 0), xmm(1))
				a.VFMADD231SS(at(reg.RSI, 0), xmm(0), xmm(1))
				a.VMOVSS(xmm(1), at(reg.RDI, 0))
			},
		},
		{
			name: "dot",
			notes: []string{"It computes in float32 with fused multiply-adds and eight-lane " +
				"accumulators, four of them in the main loop (they hide the FMA latency), " +
				"summed horizontally at the end, so the rounding differs from that loop."},
			setup: func(a *x86) {
				a.loadArgs("x.base", reg.RSI, "x.len", reg.RCX, "y.base", reg.RDX)
				each(4, func(i int) { a.VXORPS(ymm(i), ymm(i), ymm(i)) })
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VMOVUPS(at(reg.RSI, i), ymm(4+i)) })
				each(u, func(i int) { a.VFMADD231PS(at(reg.RDX, i), ymm(4+i), ymm(i)) })
			},
			fold:   func(a *x86) { foldY(a.VADDPS)(a) },
			reduce: func(a *x86) { a.horizontal("sum", a.VADDPS, a.VADDSS) },
			scalar: func(a *x86) {
				a.VMOVSS(at(reg.RSI, 0), xmm(1))
				a.VFMADD231SS(at(reg.RDX, 0), xmm(1), xmm(0))
			},
			result: func(a *x86) { a.VMOVSS(xmm(0), a.ret()) },
		},
		{
			name: "scale",
			setup: func(a *x86) {
				a.loadArgs("x.base", reg.RDI, "x.len", reg.RCX)
				a.VBROADCASTSS(a.arg("alpha"), ymm(0))
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VMULPS(at(reg.RDI, i), ymm(0), ymm(1+i)) })
				each(u, func(i int) { a.VMOVUPS(ymm(1+i), at(reg.RDI, i)) })
			},
			scalar: func(a *x86) {
				a.VMULSS(at(reg.RDI, 0), xmm(0), xmm(1))
				a.VMOVSS(xmm(1), at(reg.RDI, 0))
			},
		},
		binaryKernel("add", a.VADDPS, a.VADDSS),
		binaryKernel("mul", a.VMULPS, a.VMULSS),
		{
			name: "relu",
			notes: []string{"VMAXPS (and VMAXSS) returns src1 if src1 > src2, else src2 (Intel's " +
				"src2 is the first operand here): it returns src2 unchanged when the inputs " +
				"compare equal or either is NaN. With +0 (Y8) as src1 and x as src2 it " +
				"computes exactly \"if 0 > x { +0 } else { x }\", the loop above: a negative " +
				"x or -Inf gives +0, while a NaN x (payload and sign kept, never quieted) and " +
				"-0 give x itself, bit for bit like reluGeneric."},
			setup: func(a *x86) {
				a.loadArgs("dst.base", reg.RDI, "dst.len", reg.RCX, "x.base", reg.RSI)
				a.VXORPS(ymm(8), ymm(8), ymm(8))
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VMOVUPS(at(reg.RSI, i), ymm(i)) })
				// Go order: src2 = x, src1 = +0, dst.
				each(u, func(i int) { a.VMAXPS(ymm(i), ymm(8), ymm(i)) })
				each(u, func(i int) { a.VMOVUPS(ymm(i), at(reg.RDI, i)) })
			},
			scalar: func(a *x86) {
				a.VMOVSS(at(reg.RSI, 0), xmm(0))
				a.VMAXSS(xmm(0), xmm(8), xmm(0))
				a.VMOVSS(xmm(0), at(reg.RDI, 0))
			},
		},
		{
			name: "reluBackward",
			notes: []string{"The mask is 0 < x[i], an ordered quiet compare (predicate LT_OQ, " +
				"0x11), so it is false for a NaN x[i] and dx[i] becomes +0."},
			setup: func(a *x86) {
				a.loadArgs("dx.base", reg.RDI, "dx.len", reg.RCX, "dy.base", reg.RDX, "x.base", reg.RSI)
				a.VXORPS(ymm(8), ymm(8), ymm(8))
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VCMPPS(imm(0x11), at(reg.RSI, i), ymm(8), ymm(i)) })
				each(u, func(i int) { a.VANDPS(at(reg.RDX, i), ymm(i), ymm(i)) })
				each(u, func(i int) { a.VMOVUPS(ymm(i), at(reg.RDI, i)) })
			},
			scalar: func(a *x86) {
				a.VCMPSS(imm(0x11), at(reg.RSI, 0), xmm(8), xmm(0))
				a.VMOVSS(at(reg.RDX, 0), xmm(1))
				a.VANDPS(xmm(1), xmm(0), xmm(0))
				a.VMOVSS(xmm(0), at(reg.RDI, 0))
			},
		},
		{
			name: "sum",
			notes: []string{"It computes in float32 with eight-lane accumulators, four of them " +
				"in the main loop (they hide the add latency), summed horizontally at the end, " +
				"so the rounding differs from that loop."},
			setup: func(a *x86) {
				a.loadArgs("x.base", reg.RSI, "x.len", reg.RCX)
				each(4, func(i int) { a.VXORPS(ymm(i), ymm(i), ymm(i)) })
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VADDPS(at(reg.RSI, i), ymm(i), ymm(i)) })
			},
			fold:   func(a *x86) { foldY(a.VADDPS)(a) },
			reduce: func(a *x86) { a.horizontal("sum", a.VADDPS, a.VADDSS) },
			scalar: func(a *x86) { a.VADDSS(at(reg.RSI, 0), xmm(0), xmm(0)) },
			result: func(a *x86) { a.VMOVSS(xmm(0), a.ret()) },
		},
		{
			name: "max",
			notes: []string{"A NaN result is the quiet NaN 0x7fc00000; an empty x gives -Inf.",
				"The running maxima are VMAXPS with the new elements as src1 and the maxima " +
					"as src2, so a NaN element never enters them (VMAXPS returns src2 when " +
					"either is NaN). NaNs are tracked separately: Y8 ORs together unordered " +
					"compares (predicate UNORD_Q, 3) of the elements, and if any lane is set " +
					"the result is NaN."},
			setup: func(a *x86) {
				a.loadArgs("x.base", reg.RSI, "x.len", reg.RCX)
				a.Comment("Y0-Y3 = -Inf (0xff800000) in every lane; Y8 = no NaN seen.")
				a.VPCMPEQD(ymm(0), ymm(0), ymm(0))
				a.VPSLLD(imm(23), ymm(0), ymm(0))
				each(3, func(i int) { a.VMOVAPS(ymm(0), ymm(1+i)) })
				a.VXORPS(ymm(8), ymm(8), ymm(8))
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VMOVUPS(at(reg.RSI, i), ymm(4+i)) })
				each(u, func(i int) { a.VMAXPS(ymm(i), ymm(4+i), ymm(i)) })
				// Unordered compares of pairs of the loaded vectors (of
				// the one vector with itself when u is 1).
				pairs := (u + 1) / 2
				each(pairs, func(i int) {
					x, y := ymm(4+2*i), ymm(4+min(2*i+1, u-1))
					a.VCMPPS(imm(3), y, x, x)
				})
				each(pairs, func(i int) { a.VORPS(ymm(4+2*i), ymm(8), ymm(8)) })
			},
			fold: func(a *x86) { foldY(a.VMAXPS)(a) },
			reduce: func(a *x86) {
				a.VMOVMSKPS(ymm(8), reg.EDX)
				a.TESTL(reg.EDX, reg.EDX)
				a.JNZ(operand.LabelRef("nan"))
				a.horizontal("max", a.VMAXPS, a.VMAXSS)
			},
			scalar: func(a *x86) {
				a.VMOVSS(at(reg.RSI, 0), xmm(1))
				a.Comment("Unordered (parity set): X1 is NaN.")
				a.VUCOMISS(xmm(1), xmm(1))
				a.JPS(operand.LabelRef("nan"))
				a.VMAXSS(xmm(0), xmm(1), xmm(0))
			},
			result: func(a *x86) { a.VMOVSS(xmm(0), a.ret()) },
			tail: func(a *x86) {
				a.Label("nan")
				a.MOVL(imm(0x7fc00000), a.ret())
				a.exit()
			},
		},
		{
			name:  "scaleShift",
			notes: []string{"It uses fused multiply-adds: VFMADD213PS b, a, x is x = x*a + b."},
			setup: func(a *x86) {
				a.loadArgs("dst.base", reg.RDI, "dst.len", reg.RCX, "x.base", reg.RSI)
				a.VBROADCASTSS(a.arg("a"), ymm(0))
				a.VBROADCASTSS(a.arg("b"), ymm(1))
			},
			body: func(a *x86, u int) {
				each(u, func(i int) { a.VMOVUPS(at(reg.RSI, i), ymm(2+i)) })
				each(u, func(i int) { a.VFMADD213PS(ymm(1), ymm(0), ymm(2+i)) })
				each(u, func(i int) { a.VMOVUPS(ymm(2+i), at(reg.RDI, i)) })
			},
			scalar: func(a *x86) {
				a.VMOVSS(at(reg.RSI, 0), xmm(2))
				a.VFMADD213SS(xmm(1), xmm(0), xmm(2))
				a.VMOVSS(xmm(2), at(reg.RDI, 0))
			},
		},
	}
	for _, k := range kernels {
		a.vecKernel(k)
	}
	return a.print()
}
