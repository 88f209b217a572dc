package main

import (
	"fmt"
	"strings"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
	"github.com/mmcloughlin/avo/reg"
)

// x86 builds one x86-64 assembly file with avo. Its functions use physical
// registers only, as the hand-tuned kernels name them; avo checks every
// instruction form and computes the frame sizes and argument offsets from
// the Go signatures, which must match the declarations in kernels/*.go
// (go vet checks that).
type x86 struct {
	*build.Context
	intro []string // the file's leading comment, after #include
}

func newX86(intro ...string) *x86 {
	c := build.NewContext()
	c.ConstraintExpr("!purego")
	return &x86{Context: c, intro: intro}
}

// text starts the NOSPLIT function name with Go signature sig ("func(...)").
// doc is its comment: the plain Go loop it computes and any notes on the
// assembly; it is printed between the function's "// func" line and TEXT.
func (a *x86) text(name, sig string, doc ...string) {
	a.Function(name)
	a.Attributes(attr.NOSPLIT)
	a.SignatureExpr(sig)
	a.Doc(doc...)
}

// arg is the address of argument name; "x.base", "x.len" name the parts
// of a slice.
func (a *x86) arg(name string) operand.Mem {
	n, _, _ := strings.Cut(name, ".")
	return resolveArg(a.Param(n), name).Addr
}

// ret is the address of the (single) result.
func (a *x86) ret() operand.Mem {
	b, err := a.ReturnIndex(0).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// exit returns from a function: VZEROUPPER first, which clears the upper
// halves of the vector registers the kernel used, so that SSE code in the
// caller pays no AVX-SSE transition penalty, then RET.
func (a *x86) exit() {
	a.VZEROUPPER()
	a.RET()
}

// Vector registers by number.
func xmm(i int) reg.Register { return vecReg(i, reg.S128) }
func ymm(i int) reg.Register { return vecReg(i, reg.S256) }
func zmm(i int) reg.Register { return vecReg(i, reg.S512) }

func vecReg(i int, s reg.Spec) reg.Register {
	r := reg.Vector.Lookup(reg.Index(i), s)
	if r == nil {
		panic(fmt.Sprintf("no vector register %d of size %v", i, s))
	}
	return r
}

// mem is disp(base), or disp(base)(index*scale) when index is not nil.
func mem(disp int, base, index reg.Register, scale uint8) operand.Mem {
	m := operand.Mem{Disp: disp, Base: base}
	if index != nil {
		m = m.Idx(index, scale)
	}
	return m
}

// imm is an immediate operand.
func imm(x int) operand.Constant {
	if x < 0 {
		return operand.I32(x)
	}
	return operand.Imm(uint64(x))
}

// print compiles the file and prints it as Go assembly, with the intro
// after the #include line and each function's doc under its "// func" line.
func (a *x86) print() ([]byte, error) {
	f, err := a.Result()
	if err != nil {
		return nil, err
	}
	if err := pass.Compile.Execute(f); err != nil {
		return nil, err
	}
	b, err := printer.NewGoAsm(printer.Config{Name: generator}).Print(f)
	if err != nil {
		return nil, err
	}
	s := string(b)
	if len(a.intro) > 0 {
		const inc = "#include \"textflag.h\"\n"
		i := strings.Index(s, inc)
		if i < 0 {
			return nil, fmt.Errorf("no %q in avo's output", inc)
		}
		i += len(inc)
		s = s[:i] + "\n" + comment(a.intro...) + s[i:]
	}
	for _, fn := range f.Functions() {
		if len(fn.Doc) == 0 {
			continue
		}
		stub := "\n// " + fn.Stub() + "\n"
		i := strings.Index(s, stub)
		if i < 0 {
			return nil, fmt.Errorf("no %q in avo's output", stub)
		}
		i += len(stub)
		s = s[:i] + "//\n" + comment(fn.Doc...) + "//\n" + s[i:]
	}
	return []byte(s), nil
}

// comment turns lines (each of which may hold several) into Go comment
// lines.
func comment(lines ...string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.Join(lines, "\n"), "\n") {
		switch {
		case l == "":
			b.WriteString("//\n")
		case strings.HasPrefix(l, "\t"):
			b.WriteString("//" + l + "\n")
		default:
			b.WriteString("// " + l + "\n")
		}
	}
	return b.String()
}
