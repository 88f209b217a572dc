package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const objdump = "aarch64-linux-gnu-objdump"

// encoded is a 32-bit instruction word and the instruction it should be,
// in GNU syntax.
type encoded struct {
	word uint32
	text string
	from string // where it comes from, for messages
}

// sweep returns instructions of every op in the table over a spread of
// registers and lanes, in every operand position its form has.
func sweep() []encoded {
	regs := []int{0, 1, 7, 15, 16, 30, 31}
	var out []encoded
	add := func(in neonInst) {
		out = append(out, encoded{in.encode(), in.String(), "table sweep"})
	}
	for _, op := range neonOps {
		for _, d := range regs {
			for _, n := range regs {
				switch op.form {
				case vecVecVec, bytesVecVec:
					for _, m := range regs {
						add(vec3(op, d, n, m))
					}
				case vecVecElem:
					for _, m := range regs {
						for ix := 0; ix < 4; ix++ {
							add(byElem(op, d, n, m, ix))
						}
					}
				case vecVecZero, scalarPair, scalarAcross:
					add(vec2(op, d, n))
				default:
					panic(fmt.Sprintf("sweep: %s has a form it does not know (%d)", op.name, op.form))
				}
			}
		}
	}
	return out
}

var wordLine = regexp.MustCompile(`^\tWORD\t\$0x([0-9a-f]{8}) // (.+)$`)

// generatedWords returns every WORD of the generated arm64 files, with the
// instruction its comment names.
func generatedWords(t *testing.T) []encoded {
	var out []encoded
	for _, o := range outputs {
		if !strings.HasSuffix(o.name, "_arm64.s") {
			continue
		}
		b, err := o.gen()
		if err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "\tWORD") {
				continue
			}
			m := wordLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s:%d: malformed WORD line %q", o.name, i+1, line)
			}
			w, _ := strconv.ParseUint(m[1], 16, 32)
			out = append(out, encoded{uint32(w), m[2], fmt.Sprintf("%s:%d", o.name, i+1)})
		}
	}
	if len(out) == 0 {
		t.Fatal("no WORD lines in the generated arm64 files")
	}
	return out
}

var objdumpLine = regexp.MustCompile(`^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.+)$`)

// disassemble runs objdump on the words and returns its text for each.
func disassemble(t *testing.T, tool string, words []uint32) []string {
	var buf bytes.Buffer
	for _, w := range words {
		binary.Write(&buf, binary.LittleEndian, w)
	}
	bin := filepath.Join(t.TempDir(), "neon.bin")
	if err := os.WriteFile(bin, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-D", "-b", "binary", "-m", "aarch64", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	text := make([]string, len(words))
	for _, line := range strings.Split(string(out), "\n") {
		m := objdumpLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		off, _ := strconv.ParseUint(m[1], 16, 64)
		if off%4 != 0 || off/4 >= uint64(len(words)) {
			t.Fatalf("unexpected objdump line %q", line)
		}
		text[off/4] = m[2] + " " + strings.Join(strings.Fields(m[3]), " ")
	}
	return text
}

// TestNEONEncodings checks each encoding of the table, and every WORD of
// the generated arm64 files, against GNU objdump's disassembly.
func TestNEONEncodings(t *testing.T) {
	tool, err := exec.LookPath(objdump)
	if err != nil {
		t.Skipf("%s not found, so the NEON encodings are not checked "+
			"(apt-get install binutils-aarch64-linux-gnu)", objdump)
	}
	all := append(sweep(), generatedWords(t)...)
	words := make([]uint32, len(all))
	for i, e := range all {
		words[i] = e.word
	}
	got := disassemble(t, tool, words)
	bad := 0
	for i, e := range all {
		want := fmt.Sprintf("%08x %s", e.word, e.text)
		if got[i] != want {
			bad++
			if bad <= 20 {
				t.Errorf("%s: objdump reads %q, want %q", e.from, got[i], want)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d encodings wrong", bad, len(all))
	}
	t.Logf("%d encodings (%d from the generated files) match %s", len(all), len(all)-len(sweep()), objdump)
}

// operandBits is the mask of the register and lane fields of form, the
// bits encode ORs into an op's fixed bits.
func operandBits(form neonForm) uint32 {
	const rd, rn, rm = 0x1f, 0x1f << 5, 0x1f << 16
	switch form {
	case vecVecVec, bytesVecVec:
		return rd | rn | rm
	case vecVecElem:
		return rd | rn | rm | 1<<21 | 1<<11 // Rm with M, then L and H
	case vecVecZero, scalarPair, scalarAcross:
		return rd | rn
	}
	panic(fmt.Sprintf("operandBits: unknown form %d", form))
}

// TestNEONWordsFromTable checks that every WORD of the generated arm64
// files is an instance of exactly one op in neonOps, so the table sweep of
// TestNEONEncodings covers every op and form the kernels use, and that
// relu's FCMLT (zero) and BIC (vector) are among them.
func TestNEONWordsFromTable(t *testing.T) {
	used := map[string]bool{}
	for _, e := range generatedWords(t) {
		var from []string
		for _, op := range neonOps {
			if e.word&^operandBits(op.form) == op.bits {
				from = append(from, op.name)
				used[fmt.Sprintf("%s/%d", op.name, op.form)] = true
			}
		}
		if len(from) != 1 {
			t.Errorf("%s: %08x (%s) matches %d ops of the table %v, want exactly 1",
				e.from, e.word, e.text, len(from), from)
		}
	}
	for _, op := range []neonOp{fcmltZero, bicVec} {
		if !used[fmt.Sprintf("%s/%d", op.name, op.form)] {
			t.Errorf("relu's %s is not in the generated files", op.name)
		}
	}
}

// TestOutputsDeterministic checks that generating twice gives the same
// files, each marked as generated.
func TestOutputsDeterministic(t *testing.T) {
	for _, o := range outputs {
		a, err := o.gen()
		if err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		b, err := o.gen()
		if err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs differ", o.name)
		}
		if !bytes.HasPrefix(a, []byte(header)) {
			t.Errorf("%s does not start with %q", o.name, header)
		}
	}
}
