package tensor

import (
	"fmt"
	"slices"
	"sync"

	"github.com/bulwark-ml/bulwark/kernels"
)

// ConvParams configures a 2-D convolution. Zero values mean the usual
// defaults: stride 1, no padding, dilation 1 and one group, so
// ConvParams{PadH: 1, PadW: 1} is a "same" 3×3 convolution. The outputs
// of Conv2d and its backward functions must not share storage with their
// inputs.
type ConvParams struct {
	StrideH, StrideW int // step between output pixels; 0 means 1
	PadH, PadW       int // zero padding on each side
	DilH, DilW       int // spacing between kernel taps; 0 means 1
	Groups           int // input and output channels split into this many independent groups; 0 means 1
}

// normalized returns p with the zero-value defaults filled in, panicking
// (naming op) on a negative field.
func (p ConvParams) normalized(op string) ConvParams {
	if p.StrideH < 0 || p.StrideW < 0 || p.PadH < 0 || p.PadW < 0 || p.DilH < 0 || p.DilW < 0 || p.Groups < 0 {
		panic(fmt.Sprintf("tensor.%s: invalid params %+v: negative field", op, p))
	}
	one := func(v int) int { return max(v, 1) }
	p.StrideH, p.StrideW = one(p.StrideH), one(p.StrideW)
	p.DilH, p.DilW, p.Groups = one(p.DilH), one(p.DilW), one(p.Groups)
	return p
}

// convGeom is the checked geometry of one convolution: input [n, cin, h, w],
// weight [cout, cin/groups, kh, kw], output [n, cout, oh, ow].
type convGeom struct {
	n, cin, h, w int
	cout, kh, kw int
	oh, ow       int
	p            ConvParams // normalized
	cinG, coutG  int        // channels per group
	kG           int        // rows of one group's column matrix: cinG*kh*kw
	pix          int        // output pixels per image: oh*ow
}

// newConvGeom validates the input and weight shapes and params for op.
func newConvGeom(op string, xShape, wShape []int, p ConvParams) convGeom {
	p = p.normalized(op)
	fail := func(why string, args ...any) {
		panic(fmt.Sprintf("tensor.%s: input %v and weight %v: %s", op, xShape, wShape, fmt.Sprintf(why, args...)))
	}
	if len(xShape) != 4 || len(wShape) != 4 {
		fail("want rank-4 NCHW input and [cout, cin/groups, kh, kw] weight")
	}
	g := convGeom{n: xShape[0], cin: xShape[1], h: xShape[2], w: xShape[3],
		cout: wShape[0], kh: wShape[2], kw: wShape[3], p: p}
	if g.n < 0 || g.cin < 1 || g.h < 0 || g.w < 0 || g.cout < 1 || wShape[1] < 1 || g.kh < 1 || g.kw < 1 {
		fail("empty or negative dimension")
	}
	if g.cin%p.Groups != 0 || g.cout%p.Groups != 0 {
		fail("groups %d does not divide channels %d and %d", p.Groups, g.cin, g.cout)
	}
	if g.cin != wShape[1]*p.Groups {
		fail("channels %d != %d (weight in-channels %d × groups %d)", g.cin, wShape[1]*p.Groups, wShape[1], p.Groups)
	}
	g.oh = kernels.ConvOutSize(g.h, g.kh, p.StrideH, p.PadH, p.DilH)
	g.ow = kernels.ConvOutSize(g.w, g.kw, p.StrideW, p.PadW, p.DilW)
	if g.oh == 0 || g.ow == 0 {
		fail("dilated kernel larger than padded input (params %+v)", p)
	}
	g.cinG, g.coutG = g.cin/p.Groups, g.cout/p.Groups
	g.kG, g.pix = g.cinG*g.kh*g.kw, g.oh*g.ow
	return g
}

func (g *convGeom) xShape() dims4 { return dims4{4, [4]int{g.n, g.cin, g.h, g.w}} }
func (g *convGeom) yShape() dims4 { return dims4{4, [4]int{g.n, g.cout, g.oh, g.ow}} }
func (g *convGeom) wShape() dims4 { return dims4{4, [4]int{g.cout, g.cinG, g.kh, g.kw}} }

// direct reports whether the convolution is a plain per-image matrix
// product (1×1, stride 1, no padding) big enough to run well without
// batching images into one GEMM; then im2col is skipped entirely.
func (g *convGeom) direct() bool {
	p := g.p
	return g.kh == 1 && g.kw == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0 &&
		g.pix >= convChunkCols/4
}

// Chunking: images are processed convChunkCols output pixels at a time
// (at least one image), capped so the column buffer stays below
// convMaxColElems floats; reductions of at most convPerImageMaxK go
// per image (see perImage). Variables, not constants, so tests can force
// each path and benchmarks can tune. The defaults were the fastest of
// 1024/2048/4096 columns on the ResNet-20 layers.
var (
	convChunkCols    = 2048
	convMaxColElems  = 1 << 21
	convPerImageMaxK = 32
)

// chunk returns how many images go into one column buffer.
func (g *convGeom) chunk() int {
	if g.direct() {
		return max(g.n, 1) // no scratch: every image is used in place
	}
	nb := max(1, convChunkCols/g.pix)
	nb = min(nb, max(1, convMaxColElems/(g.cin*g.kh*g.kw*g.pix)))
	return min(nb, g.n)
}

// perImage reports whether each image of a chunk gets its own GEMMs,
// reading and writing the NCHW tensor in place, rather than one GEMM over
// the whole chunk through a [cout, nb*pix] buffer that must be scattered
// to (or gathered from) NCHW. Per-image wins when an image alone makes a
// wide enough product, or when the reduction is so short (small cin*kh*kw)
// that the extra copy would cost as much as the GEMM itself. Direct 1×1
// convolutions are always per image.
func (g *convGeom) perImage() bool {
	return g.direct() || g.pix >= convChunkCols/2 || g.kG <= convPerImageMaxK
}

// dims4 is a shape of rank ≤ 4 passed by value, so checking an output
// shape does not allocate.
type dims4 struct {
	rank int
	d    [4]int
}

func (s dims4) equal(shape []int) bool { return slices.Equal(s.d[:s.rank], shape) }

// outputDims returns out if it has shape want, a new tensor if out is nil,
// and panics naming op and both shapes otherwise.
func outputDims(op string, out *Tensor, want dims4) *Tensor {
	if out == nil {
		shape := make([]int, want.rank)
		copy(shape, want.d[:])
		return New(shape...)
	}
	if !want.equal(out.shape) {
		panicDims(op, "out", out.shape, want)
	}
	return out
}

// checkDims panics naming op unless t has shape want.
func checkDims(op, name string, t *Tensor, want dims4) {
	if !want.equal(t.shape) {
		panicDims(op, name, t.shape, want)
	}
}

// panicDims reports a shape mismatch. It is not inlined so that its
// callers' dims4 values stay on the stack.
//
//go:noinline
func panicDims(op, name string, have []int, want dims4) {
	panic(fmt.Sprintf("tensor.%s: %s has shape %v, want %v", op, name, have, want.d[:want.rank]))
}

// Conv2d computes the 2-D cross-correlation of x [N, Cin, H, W] with the
// filters w [Cout, Cin/Groups, KH, KW], plus bias [Cout] if not nil, as
// PyTorch's conv2d does:
//
//	out[n, co, oy, ox] = bias[co] + Σ_{ci, i, j} w[co, ci, i, j] ·
//		x[n, g*Cin/Groups+ci, oy*StrideH-PadH+i*DilH, ox*StrideW-PadW+j*DilW]
//
// where g is co's group and taps in the padding count as 0. The result
// has shape [N, Cout, OH, OW] with OH = kernels.ConvOutSize(H, KH,
// StrideH, PadH, DilH) (likewise OW).
//
// It runs as im2col + Sgemm over chunks of images (about convChunkCols
// output pixels each): the chunk's column matrices sit side by side in one
// reused scratch buffer, then either one GEMM covers the chunk (small
// images: wide products) or one GEMM per image writes NCHW in place
// (large images or short reductions; see perImage). 1×1 stride-1 unpadded
// convolutions on large images skip im2col and multiply x directly. Steady-
// state calls allocate nothing but a nil out.
func Conv2d(out, x, w, bias *Tensor, p ConvParams) *Tensor {
	const op = "Conv2d"
	g := newConvGeom(op, x.shape, w.shape, p)
	if bias != nil && (len(bias.shape) != 1 || bias.shape[0] != g.cout) {
		panic(fmt.Sprintf("tensor.%s: bias %v and weight %v: want bias [%d]", op, bias.shape, w.shape, g.cout))
	}
	out = outputDims(op, out, g.yShape())
	var b []float32
	if bias != nil {
		b = bias.data
	}
	c := getConvWork(&g)
	defer putConvWork(c)
	c.x, c.y, c.bias = x.data, out.data, b
	for b0 := 0; b0 < g.n; b0 += c.nb {
		nb := c.setChunk(b0)
		c.parallel(convIm2col, nb)
		for u := range c.units() {
			y, ldy, col, ld, cols := c.unit(u)
			for grp := range g.p.Groups {
				kernels.Sgemm(false, false, g.coutG, cols, g.kG, 1, w.data[grp*g.coutG*g.kG:], g.kG,
					col[grp*g.kG*ld:], ld, 0, y[grp*g.coutG*ldy:], ldy)
			}
		}
		c.parallel(convScatter, nb)
	}
	return out
}

// Conv2dBackwardInput computes the gradient of a loss with respect to
// Conv2d's input x of shape xShape, given the gradient dy of its output
// and the weights w (same params as the forward):
//
//	dx[n, ci, iy, ix] = Σ dy[n, co, oy, ox] · w[co, ci-g*Cin/Groups, i, j]
//
// over the (co, oy, ox, i, j) where tap (i, j) of output (oy, ox) reads
// (iy, ix). It is Col2im of Wᵀ·dY. out, if given, is overwritten.
func Conv2dBackwardInput(out, dy, w *Tensor, xShape []int, p ConvParams) *Tensor {
	const op = "Conv2dBackwardInput"
	g := newConvGeom(op, xShape, w.shape, p)
	checkDims(op, "dy", dy, g.yShape())
	out = outputDims(op, out, g.xShape())
	c := getConvWork(&g)
	defer putConvWork(c)
	c.x, c.y = out.data, dy.data
	for b0 := 0; b0 < g.n; b0 += c.nb {
		nb := c.setChunk(b0)
		c.parallel(convGather, nb)
		for u := range c.units() {
			y, ldy, col, ld, cols := c.unit(u)
			for grp := range g.p.Groups {
				kernels.Sgemm(true, false, g.kG, cols, g.coutG, 1, w.data[grp*g.coutG*g.kG:], g.kG,
					y[grp*g.coutG*ldy:], ldy, 0, col[grp*g.kG*ld:], ld)
			}
		}
		c.parallel(convCol2im, nb)
	}
	return out
}

// Conv2dBackwardWeight computes the gradient of a loss with respect to
// Conv2d's weights of shape wShape, given the forward input x and the
// output gradient dy:
//
//	dw[co, ci, i, j] = Σ_{n, oy, ox} dy[n, co, oy, ox] ·
//		x[n, g*Cin/Groups+ci, oy*StrideH-PadH+i*DilH, ox*StrideW-PadW+j*DilW]
//
// that is Σ_n dY_n · col_nᵀ, GEMMs over chunks (or single images)
// accumulating into out with beta = 1. out, if given, is overwritten; see Conv2dBackwardWeightAcc to
// add to an existing gradient. The sum order is fixed, so the result is
// deterministic for a fixed thread count.
func Conv2dBackwardWeight(out, dy, x *Tensor, wShape []int, p ConvParams) *Tensor {
	const op = "Conv2dBackwardWeight"
	g := newConvGeom(op, x.shape, wShape, p)
	out = outputDims(op, out, g.wShape())
	convWeightGrad(op, &g, out, dy, x, 0)
	return out
}

// Conv2dBackwardWeightAcc is Conv2dBackwardWeight adding the gradient to
// dw (dw += ∂L/∂w) instead of overwriting it, for gradients accumulated
// over several uses of the weights or several batches. dw must not be nil.
func Conv2dBackwardWeightAcc(dw, dy, x *Tensor, p ConvParams) {
	const op = "Conv2dBackwardWeightAcc"
	g := newConvGeom(op, x.shape, dw.shape, p)
	convWeightGrad(op, &g, dw, dy, x, 1)
}

// convWeightGrad computes dw = Σ_n dY_n·col_nᵀ + beta·dw.
func convWeightGrad(op string, g *convGeom, dw, dy, x *Tensor, beta float32) {
	checkDims(op, "dy", dy, g.yShape())
	c := getConvWork(g)
	defer putConvWork(c)
	c.x, c.y = x.data, dy.data
	if g.n == 0 {
		if beta == 0 {
			clear(dw.data)
		}
		return
	}
	for b0 := 0; b0 < g.n; b0 += c.nb {
		nb := c.setChunk(b0)
		c.parallel(convIm2colGather, nb)
		for u := range c.units() {
			y, ldy, col, ld, cols := c.unit(u)
			for grp := range g.p.Groups {
				kernels.Sgemm(false, true, g.coutG, g.kG, cols, 1, y[grp*g.coutG*ldy:], ldy,
					col[grp*g.kG*ld:], ld, beta, dw.data[grp*g.coutG*g.kG:], g.kG)
			}
			beta = 1
		}
	}
}

// Conv2dBackwardBias computes the gradient of a loss with respect to
// Conv2d's bias given the output gradient dy [N, Cout, OH, OW]:
// out[co] = Σ_{n, oy, ox} dy[n, co, oy, ox], summed per channel in a fixed
// order. out, if given, must have shape [Cout] and is overwritten.
func Conv2dBackwardBias(out, dy *Tensor) *Tensor {
	const op = "Conv2dBackwardBias"
	if len(dy.shape) != 4 {
		panic(fmt.Sprintf("tensor.%s: dy has shape %v, want rank 4 [N, Cout, OH, OW]", op, dy.shape))
	}
	g := convGeom{n: dy.shape[0], cout: dy.shape[1], pix: dy.shape[2] * dy.shape[3]}
	out = outputDims(op, out, dims4{1, [4]int{g.cout}})
	c := getConvWork(nil)
	defer putConvWork(c)
	c.g, c.y, c.bias = g, dy.data, out.data
	c.parallel(convBiasGrad, g.cout)
	return out
}

// convPhase names the per-image (or per-channel) step a convWork runs in
// parallel.
type convPhase int

const (
	convIm2col       convPhase = iota // col ← im2col(x) for each image of the chunk
	convScatter                       // y ← buf (+ bias), chunk matrix to NCHW
	convGather                        // buf ← y, NCHW to chunk matrix
	convCol2im                        // x ← col2im(col), zeroing x first
	convIm2colGather                  // both convIm2col and convGather
	convBiasGrad                      // bias[co] = Σ y[:, co], per channel
)

// convWork is the state of one convolution call: geometry, operands, the
// reusable scratch (col: column matrix [cin*kh*kw, nb*pix]; buf: output
// matrix [cout, nb*pix]) and the current parallel phase. It implements
// kernels.Runner so parallel phases run without allocating.
type convWork struct {
	g        convGeom
	col, buf []float32
	x, y     []float32 // NCHW input-side and output-side tensors of the call
	bias     []float32 // Conv2d: bias (or nil); Conv2dBackwardBias: the result
	nb       int       // images per chunk
	b0, cur  int       // current chunk: images [b0, b0+cur); the last may be short
	phase    convPhase
}

// scratchList is a small mutex-guarded stack of reusable per-call state.
// Unlike a sync.Pool it is not emptied by the GC (nor randomly under the
// race detector), so steady-state calls never allocate. It keeps at most
// scratchListMax items: enough for the calls that run concurrently.
type scratchList[T any] struct {
	mu    sync.Mutex
	items []*T
}

const scratchListMax = 8

// get pops an item, or returns a new zero one.
func (l *scratchList[T]) get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.items)
	if n == 0 {
		return new(T)
	}
	x := l.items[n-1]
	l.items = l.items[:n-1]
	return x
}

// put returns an item for reuse (dropping it if the list is full).
func (l *scratchList[T]) put(x *T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) < scratchListMax {
		l.items = append(l.items, x)
	}
}

// convFree holds convWorks with their scratch buffers between calls.
var convFree scratchList[convWork]

// getConvWork returns a convWork with scratch sized for g (nil: none).
func getConvWork(g *convGeom) *convWork {
	c := convFree.get()
	if g != nil {
		c.g = *g
		c.nb = g.chunk()
		if g.n > 0 && !g.direct() {
			c.col = convGrow(c.col, g.cin*g.kh*g.kw*c.nb*g.pix)
			if !g.perImage() {
				c.buf = convGrow(c.buf, g.cout*c.nb*g.pix)
			}
		}
	}
	return c
}

// putConvWork drops c's references to the caller's tensors and keeps its
// scratch for the next call.
func putConvWork(c *convWork) {
	c.x, c.y, c.bias = nil, nil, nil
	convFree.put(c)
}

// convGrow returns s resized to n, reallocating only if its capacity is
// too small.
func convGrow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// units returns the number of GEMM units in the current chunk: one per
// image in per-image mode, else one for the whole chunk.
func (c *convWork) units() int {
	if c.g.perImage() {
		return c.cur
	}
	return 1
}

// unit returns GEMM unit u of the current chunk: its output-side matrix y
// [cout, cols] with row stride ldy (image b0+u of the NCHW tensor, or the
// chunk buffer), and its column matrix col [cin*kh*kw, cols] with row
// stride ld (the im2col scratch or, for a direct 1×1 convolution, the
// image itself).
func (c *convWork) unit(u int) (y []float32, ldy int, col []float32, ld, cols int) {
	g := &c.g
	switch {
	case g.direct():
		img := c.b0 + u
		return c.y[img*g.cout*g.pix:], g.pix, c.x[img*g.cin*g.pix:], g.pix, g.pix
	case g.perImage():
		ld = c.cur * g.pix
		return c.y[(c.b0+u)*g.cout*g.pix:], g.pix, c.col[u*g.pix:], ld, g.pix
	}
	ld = c.cur * g.pix
	return c.buf, ld, c.col, ld, ld
}

// setChunk makes images [b0, b0+nb) (or up to the end) current and returns how many there are.
func (c *convWork) setChunk(b0 int) int {
	c.b0, c.cur = b0, min(c.nb, c.g.n-b0)
	return c.cur
}

// parallel runs phase over parts (images of the chunk, or channels).
func (c *convWork) parallel(phase convPhase, parts int) {
	if c.idle(phase) {
		return
	}
	c.phase = phase
	kernels.Run(c, parts)
}

// idle reports whether phase has nothing to do in the current mode: a
// direct convolution has no column matrix, and per-image GEMMs use the
// NCHW tensors in place, leaving the scatter only a bias to add.
func (c *convWork) idle(phase convPhase) bool {
	switch phase {
	case convIm2col, convIm2colGather, convCol2im:
		return c.g.direct()
	case convGather:
		return c.g.perImage()
	case convScatter:
		return c.g.perImage() && c.bias == nil
	}
	return false
}

// RunPart runs the current phase for image i of the chunk (or channel i).
func (c *convWork) RunPart(i int) {
	g := &c.g
	p := g.p
	ld := c.cur * g.pix
	img := c.b0 + i
	switch c.phase {
	case convIm2col, convIm2colGather:
		kernels.Im2colLd(c.col[i*g.pix:], ld, c.x[img*g.cin*g.h*g.w:(img+1)*g.cin*g.h*g.w],
			g.cin, g.h, g.w, g.kh, g.kw, p.StrideH, p.StrideW, p.PadH, p.PadW, p.DilH, p.DilW)
		if c.phase == convIm2colGather {
			c.moveRows(i, false)
		}
	case convScatter:
		c.moveRows(i, true)
	case convGather:
		c.moveRows(i, false)
	case convCol2im:
		dx := c.x[img*g.cin*g.h*g.w : (img+1)*g.cin*g.h*g.w]
		clear(dx)
		kernels.Col2imLd(dx, c.col[i*g.pix:], ld,
			g.cin, g.h, g.w, g.kh, g.kw, p.StrideH, p.StrideW, p.PadH, p.PadW, p.DilH, p.DilW)
	case convBiasGrad:
		var s float64
		for n := range g.n {
			s += float64(kernels.Sum(c.y[(n*g.cout+i)*g.pix : (n*g.cout+i+1)*g.pix]))
		}
		c.bias[i] = float32(s)
	}
}

// moveRows copies image i of the chunk between the chunk matrix buf
// [cout, cur*pix] and the NCHW tensor y: to y (adding the bias, if any)
// when toY, else from y.
func (c *convWork) moveRows(i int, toY bool) {
	g := &c.g
	if g.perImage() {
		// The GEMMs used y in place; only the bias is left to add.
		if toY {
			c.addBias(c.b0 + i)
		}
		return
	}
	ld := c.cur * g.pix
	y := c.y[(c.b0+i)*g.cout*g.pix:]
	for co := range g.cout {
		m := c.buf[co*ld+i*g.pix : co*ld+(i+1)*g.pix]
		t := y[co*g.pix : (co+1)*g.pix]
		if !toY {
			copy(m, t)
			continue
		}
		copy(t, m)
		if c.bias != nil {
			convShift(t, c.bias[co])
		}
	}
}

// addBias adds bias[co] (if any) to every pixel of channel co of image img
// of the NCHW output y.
func (c *convWork) addBias(img int) {
	g := &c.g
	y := c.y[img*g.cout*g.pix:]
	for co, b := range c.bias {
		convShift(y[co*g.pix:(co+1)*g.pix], b)
	}
}

// convShift adds b to every element of t.
func convShift(t []float32, b float32) {
	for k := range t {
		t[k] += b
	}
}
