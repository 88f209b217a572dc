package main

import (
	"fmt"
	"strings"

	"github.com/mmcloughlin/avo/gotypes"
)

// arm64 builds one arm64 assembly file as text. Frame sizes and argument
// offsets come from the Go signatures, as avo computes them for amd64 (the
// sizes and alignments of the kernels' argument types are the same on
// arm64).
type arm64 struct {
	b     strings.Builder
	sig   *gotypes.Signature
	clear bool // at the start of a block: no blank line needed before a label
}

func newARM64(intro string) *arm64 {
	a := &arm64{}
	a.b.WriteString(header + "\n//go:build !purego\n\n#include \"textflag.h\"\n\n" + comment(intro))
	return a
}

// text starts the NOSPLIT function name with Go signature sig; doc as for
// x86.text.
func (a *arm64) text(name, sig, doc string) {
	s, err := gotypes.ParseSignature(sig)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	a.sig = s
	fmt.Fprintf(&a.b, "\n// func %s%s\n//\n%s", name, strings.TrimPrefix(sig, "func"), comment(doc))
	fmt.Fprintf(&a.b, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, s.Bytes())
	a.clear = true
}

// arg is the address of argument name ("x.base", "x.len" for slices), or
// of the result for "ret".
func (a *arm64) arg(name string) string {
	n, _, _ := strings.Cut(name, ".")
	c := a.sig.Params().Lookup(n)
	if n == "ret" {
		c = a.sig.Results().At(0)
	}
	return resolveArg(c, name).Addr.Asm()
}

// resolveArg resolves the part of argument component c that name names:
// "x" itself, or "x.base" and "x.len" of a slice; both emitters use it.
func resolveArg(c gotypes.Component, name string) *gotypes.Basic {
	_, part, _ := strings.Cut(name, ".")
	switch part {
	case "":
	case "base":
		c = c.Base()
	case "len":
		c = c.Len()
	default:
		panic("arg: " + name)
	}
	b, err := c.Resolve()
	if err != nil {
		panic(fmt.Sprintf("arg %s: %v", name, err))
	}
	return b
}

// ins emits an instruction in Go syntax.
func (a *arm64) ins(op string, operands ...string) {
	if len(operands) == 0 {
		fmt.Fprintf(&a.b, "\t%s\n", op)
	} else {
		fmt.Fprintf(&a.b, "\t%s\t%s\n", op, strings.Join(operands, ", "))
	}
	a.clear = false
}

// word emits a NEON instruction from the table as a WORD, with the
// instruction as its comment.
func (a *arm64) word(in neonInst) {
	fmt.Fprintf(&a.b, "\tWORD\t$0x%08x // %s\n", in.encode(), in)
	a.clear = false
}

// label starts a block: a blank line, then the label.
func (a *arm64) label(name string) {
	if !a.clear {
		a.b.WriteString("\n")
	}
	fmt.Fprintf(&a.b, "%s:\n", name)
	a.clear = true
}

// gap separates blocks of instructions with a blank line.
func (a *arm64) gap() {
	if !a.clear {
		a.b.WriteString("\n")
	}
	a.clear = true
}

// comment emits comment lines inside a function.
func (a *arm64) comment(lines ...string) {
	for _, l := range lines {
		fmt.Fprintf(&a.b, "\t// %s\n", l)
	}
}

func (a *arm64) bytes() []byte { return []byte(a.b.String()) }

// v is vector register i with arrangement arr, e.g. v(4, "S4") = "V4.S4".
func v(i int, arr string) string { return fmt.Sprintf("V%d.%s", i, arr) }

// vlist is the register list of n consecutive vectors from first, e.g.
// "[V0.S4, V1.S4]".
func vlist(first, n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = v(first+i, "S4")
	}
	return "[" + strings.Join(s, ", ") + "]"
}
