package main

import "fmt"

// The NEON instructions the arm64 kernels need but Go's assembler lacks
// (by-element FMLA and FMUL, the vector FADD, FMUL, FMAX, FADDP, FCMGT and
// FCMLT, the pairwise and across-lanes reductions, all on single-precision
// floats, and the bitwise BIC). The kernels emit them as WORD directives,
// each with the instruction in GNU syntax as a comment; neon_test.go checks
// every encoding against aarch64-linux-gnu-objdump.

// neonForm is the operand shape of a NEON instruction, which fixes where
// its register and lane fields go.
type neonForm int

const (
	vecVecVec    neonForm = iota // op Vd.4S, Vn.4S, Vm.4S
	bytesVecVec                  // op Vd.16B, Vn.16B, Vm.16B (bitwise)
	vecVecElem                   // op Vd.4S, Vn.4S, Vm.S[index]
	vecVecZero                   // op Vd.4S, Vn.4S, #0.0
	scalarPair                   // op Sd, Vn.2S
	scalarAcross                 // op Sd, Vn.4S
)

// neonOp is one NEON instruction form: its mnemonic and its encoding with
// every register and lane field zero (from the Arm Architecture Reference
// Manual, A64 "Advanced SIMD" encodings; sz = 0 selects single precision,
// and Q = 1 four lanes, or sixteen bytes, where the form has a Q bit).
type neonOp struct {
	name string
	form neonForm
	bits uint32
}

// The table. Fields: Rd bits 0-4, Rn bits 5-9, Rm bits 16-20; by element,
// Rm is 4 bits with M (bit 20) its fifth, and the lane index is H:L, H bit
// 11 and L bit 21.
var (
	fmlaElem  = neonOp{"fmla", vecVecElem, 0x4f801000}    // FMLA (by element): Vd += Vn * Vm[i]
	fmulElem  = neonOp{"fmul", vecVecElem, 0x4f809000}    // FMUL (by element): Vd = Vn * Vm[i]
	faddVec   = neonOp{"fadd", vecVecVec, 0x4e20d400}     // FADD (vector)
	fmulVec   = neonOp{"fmul", vecVecVec, 0x6e20dc00}     // FMUL (vector)
	fmaxVec   = neonOp{"fmax", vecVecVec, 0x4e20f400}     // FMAX (vector)
	faddpVec  = neonOp{"faddp", vecVecVec, 0x6e20d400}    // FADDP (vector): pairwise sums of Vn:Vm
	faddpPair = neonOp{"faddp", scalarPair, 0x7e30d800}   // FADDP (scalar): Sd = Vn[0] + Vn[1]
	fmaxvAll  = neonOp{"fmaxv", scalarAcross, 0x6e30f800} // FMAXV: Sd = max over the four lanes
	fcmgtZero = neonOp{"fcmgt", vecVecZero, 0x4ea0c800}   // FCMGT (zero): Vd = Vn > 0 ? all ones : 0
	fcmltZero = neonOp{"fcmlt", vecVecZero, 0x4ea0e800}   // FCMLT (zero): Vd = Vn < 0 ? all ones : 0
	bicVec    = neonOp{"bic", bytesVecVec, 0x4e601c00}    // BIC (vector, register): Vd = Vn AND NOT Vm
)

// neonOps lists the table, for the tests.
var neonOps = []neonOp{fmlaElem, fmulElem, faddVec, fmulVec, fmaxVec, faddpVec, faddpPair, fmaxvAll,
	fcmgtZero, fcmltZero, bicVec}

// neonInst is one instruction: op on vector registers d, n, m (m and
// index only where the form has them).
type neonInst struct {
	op          neonOp
	d, n, m, ix int
}

// encode returns the instruction's 32-bit encoding.
func (in neonInst) encode() uint32 {
	reg := func(r int) uint32 {
		if r < 0 || r > 31 {
			panic(fmt.Sprintf("%s: no register v%d", in.op.name, r))
		}
		return uint32(r)
	}
	w := in.op.bits | reg(in.n)<<5 | reg(in.d)
	switch in.op.form {
	case vecVecVec, bytesVecVec:
		w |= reg(in.m) << 16
	case vecVecElem:
		if in.ix < 0 || in.ix > 3 {
			panic(fmt.Sprintf("%s: no lane %d", in.op.name, in.ix))
		}
		w |= reg(in.m)<<16 | uint32(in.ix&1)<<21 | uint32(in.ix>>1)<<11
	}
	return w
}

// String returns the instruction in GNU syntax, as objdump prints it.
func (in neonInst) String() string {
	switch in.op.form {
	case vecVecVec:
		return fmt.Sprintf("%s v%d.4s, v%d.4s, v%d.4s", in.op.name, in.d, in.n, in.m)
	case bytesVecVec:
		return fmt.Sprintf("%s v%d.16b, v%d.16b, v%d.16b", in.op.name, in.d, in.n, in.m)
	case vecVecElem:
		return fmt.Sprintf("%s v%d.4s, v%d.4s, v%d.s[%d]", in.op.name, in.d, in.n, in.m, in.ix)
	case vecVecZero:
		return fmt.Sprintf("%s v%d.4s, v%d.4s, #0.0", in.op.name, in.d, in.n)
	case scalarPair:
		return fmt.Sprintf("%s s%d, v%d.2s", in.op.name, in.d, in.n)
	case scalarAcross:
		return fmt.Sprintf("%s s%d, v%d.4s", in.op.name, in.d, in.n)
	}
	panic("unknown form")
}

// Constructors, in the operand order of GNU syntax.

// byElem is op Vd.4S, Vn.4S, Vm.S[ix].
func byElem(op neonOp, d, n, m, ix int) neonInst { return neonInst{op: op, d: d, n: n, m: m, ix: ix} }

// vec3 is op Vd.4S, Vn.4S, Vm.4S (or op Vd.16B, Vn.16B, Vm.16B).
func vec3(op neonOp, d, n, m int) neonInst { return neonInst{op: op, d: d, n: n, m: m} }

// vec2 is op Vd.4S, Vn.4S, #0.0 (or op Sd, Vn).
func vec2(op neonOp, d, n int) neonInst { return neonInst{op: op, d: d, n: n} }
