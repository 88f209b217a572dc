package main

import "strings"

// vecLoops holds the plain Go loop each vector kernel computes, by kernel;
// the amd64 and arm64 kernels of the same name compute the same loop.
var vecLoops = map[string]string{
	"axpy": `
	for i := range x {
		y[i] += alpha * x[i]
	}`,
	"dot": `
	var s float32
	for i := range x {
		s += x[i] * y[i]
	}
	return s`,
	"scale": `
	for i := range x {
		x[i] *= alpha
	}`,
	"add": `
	for i := range dst {
		dst[i] = x[i] + y[i]
	}`,
	"mul": `
	for i := range dst {
		dst[i] = x[i] * y[i]
	}`,
	"relu": `
	for i := range dst {
		if x[i] < 0 {
			dst[i] = 0 // +0, also for -Inf
		} else {
			dst[i] = x[i] // NaN (bit for bit) and -0 pass through
		}
	}`,
	"reluBackward": `
	for i := range dx {
		if x[i] > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0 // +0, also for -0 and a NaN x[i]
		}
	}`,
	"sum": `
	var s float32
	for _, v := range x {
		s += v
	}
	return s`,
	"max": `
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v != v {
			return v // NaN
		}
		if v > m {
			m = v
		}
	}
	return m`,
	"scaleShift": `
	for i := range dst {
		dst[i] = x[i]*a + b
	}`,
}

// vecSigs holds the Go signature of each vector kernel.
var vecSigs = map[string]string{
	"axpy":         "func(alpha float32, x, y []float32)",
	"dot":          "func(x, y []float32) float32",
	"scale":        "func(alpha float32, x []float32)",
	"add":          "func(dst, x, y []float32)",
	"mul":          "func(dst, x, y []float32)",
	"relu":         "func(dst, x []float32)",
	"reluBackward": "func(dx, dy, x []float32)",
	"sum":          "func(x []float32) float32",
	"max":          "func(x []float32) float32",
	"scaleShift":   "func(dst, x []float32, a, b float32)",
}

// vecDoc is the doc comment of kernel name+suffix: the loop it computes,
// then notes, each a paragraph.
func vecDoc(name, suffix string, notes ...string) string {
	loop, ok := vecLoops[name]
	if !ok {
		panic("no loop for " + name)
	}
	var b strings.Builder
	b.WriteString(name + suffix + " computes\n" + loop + "\n")
	for _, n := range notes {
		b.WriteString("\n" + wrap(n) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
