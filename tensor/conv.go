package tensor

import (
	"fmt"
	"slices"

	"github.com/bulwark-ml/bulwark/internal/freelist"
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
// product (1×1, stride 1, no padding), so im2col is skipped and the GEMMs
// read and write the images in place.
func (g *convGeom) direct() bool {
	p := g.p
	return g.kh == 1 && g.kw == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0
}

// implicit reports whether the convolution's forward and weight-gradient
// passes run as an implicit GEMM, with no column matrix built: every one
// that is not direct. The zero-padded image is split into stride phases
// (see padded), in which every row of the column matrix is a contiguous
// window, so kernels.SgemmRows reads the windows in place. Outputs are
// computed on a grid oh × wq, wq−ow junk columns per row included, then
// cropped. With stride 1 there is one phase, the padded image itself.
// Strides above maxConvStride, which would skip most of the input, build
// column matrices instead.
func (g *convGeom) implicit() bool {
	return !g.direct() && g.p.StrideH <= maxConvStride && g.p.StrideW <= maxConvStride
}

// maxConvStride is the largest stride run as an implicit GEMM.
const maxConvStride = 8

// padded returns the size of one stride phase of the zero-padded image
// and the size of the output grid. Phase (a, b) of a channel holds the
// padded pixels (u·sh + a, v·sw + b), u < hq, v < wq, so the pixel that tap
// (i, j) of output (oy, ox) reads lies in phase ((i·dh) mod sh,
// (j·dw) mod sw) at (oy + i·dh/sh, ox + j·dw/sw): a window of the phase
// shifted by a fixed offset. Each channel holds sh·sw phases in a row.
func (g *convGeom) padded() (hq, wq, grid int) {
	sh, sw := g.p.StrideH, g.p.StrideW
	hq, wq = (g.h+2*g.p.PadH+sh-1)/sh, (g.w+2*g.p.PadW+sw-1)/sw
	return hq, wq, g.oh * wq
}

// channelSize is the length of one channel's phases in the padded buffer.
func (g *convGeom) channelSize() int {
	hq, wq, _ := g.padded()
	return g.p.StrideH * g.p.StrideW * hq * wq
}

// windowRows fills rows[(ci*kh+i)*kw+j] with the offset of the window of
// tap (i, j) of channel ci in the phase-split padded image: the row table
// of SgemmRows.
func (g *convGeom) windowRows(rows []int) {
	hq, wq, _ := g.padded()
	sh, sw, dh, dw := g.p.StrideH, g.p.StrideW, g.p.DilH, g.p.DilW
	for ci := range g.cinG {
		for i := range g.kh {
			for j := range g.kw {
				phase := (ci*sh+i*dh%sh)*sw + j*dw%sw
				rows[(ci*g.kh+i)*g.kw+j] = phase*hq*wq + i*dh/sh*wq + j*dw/sw
			}
		}
	}
}

// fillPadded writes image xi [cin, h, w] into the interior of the
// phase-split padded buffer dst, whose padding is zero and stays so.
func (g *convGeom) fillPadded(dst, xi []float32) { g.copyPadded(xi, dst, true) }

// readPadded copies the interior of the phase-split padded buffer src
// into the image dx [cin, h, w].
func (g *convGeom) readPadded(dx, src []float32) { g.copyPadded(dx, src, false) }

// copyPadded copies between an image and the interior of a phase-split
// padded buffer, into the buffer if toPadded. Only the phases some tap
// reads are touched (one of four for a 1×1 stride-2 projection); the
// others hold nothing a pass reads or writes.
func (g *convGeom) copyPadded(img, padded []float32, toPadded bool) {
	p := g.p
	hq, wq, _ := g.padded()
	plane, csize := hq*wq, g.channelSize()
	if p.StrideH == 1 && p.StrideW == 1 {
		for ci := range g.cin {
			in, out := padded[ci*csize+p.PadH*wq+p.PadW:], img[ci*g.h*g.w:]
			if toPadded {
				kernels.CopyRows(in, wq, out, g.w, g.h, g.w)
			} else {
				kernels.CopyRows(out, g.w, in, wq, g.h, g.w)
			}
		}
		return
	}
	var usedH, usedW [maxConvStride]bool
	for i := range g.kh {
		usedH[i*p.DilH%p.StrideH] = true
	}
	for j := range g.kw {
		usedW[j*p.DilW%p.StrideW] = true
	}
	for ci := range g.cin {
		for y := range g.h {
			py := y + p.PadH
			if !usedH[py%p.StrideH] {
				continue
			}
			src := img[(ci*g.h+y)*g.w:][:g.w]
			row := padded[ci*csize+(py%p.StrideH)*p.StrideW*plane+py/p.StrideH*wq:]
			// Stride 2 splits rows with the SIMD kernels. Filling a phase no
			// tap reads is harmless (nothing reads it) and keeps the split
			// vectorized; reading one back is not (its pixels get no
			// gradient).
			if p.StrideW == 2 && (toPadded || usedW[0] && usedW[1]) {
				// Column x lands in phase (x+PadW) mod 2 at (x+PadW)/2.
				e := p.PadW % 2
				d0 := row[e*plane+p.PadW/2:][:(g.w+1)/2]
				d1 := row[(1-e)*plane+(1+p.PadW)/2:][:g.w/2]
				if toPadded {
					kernels.Deinterleave(d0, d1, src)
				} else {
					kernels.Interleave(src, d0, d1)
				}
				continue
			}
			for b := range p.StrideW {
				// The first column of phase b and where it lands.
				x0 := ((b-p.PadW)%p.StrideW + p.StrideW) % p.StrideW
				if !usedW[b] || x0 >= g.w {
					continue
				}
				d := row[b*plane+(x0+p.PadW)/p.StrideW:][:(g.w-x0+p.StrideW-1)/p.StrideW]
				if toPadded {
					for k := range d {
						d[k] = src[x0+k*p.StrideW]
					}
				} else {
					for k, v := range d {
						src[x0+k*p.StrideW] = v
					}
				}
			}
		}
	}
}

// ld is the row stride of an image's column matrix [cin*kh*kw, pix].
func (g *convGeom) ld() int {
	if g.direct() {
		return g.pix
	}
	return padStride(g.pix)
}

// padStride returns a row stride for a matrix n floats wide that is not a
// multiple of 64 floats: rows 256·k bytes apart fall into a few L1 cache
// sets, and a GEMM walking hundreds of such rows thrashes (ResNet image
// sizes make n = 1024, 256, 64, ... exactly that).
func padStride(n int) int {
	if n%64 == 0 {
		return n + 16
	}
	return n
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

// Conv2d computes the 2-D convolution of x [N, Cin, H, W] with weights w
// [Cout, Cin/Groups, KH, KW] and optional bias [Cout]:
//
//	y[n, co, oy, ox] = bias[co] + Σ_{ci, i, j} w[co, ci, i, j] ·
//		x[n, g*Cin/Groups+ci, oy*StrideH-PadH+i*DilH, ox*StrideW-PadW+j*DilW]
//
// where g = co/(Cout/Groups) and taps outside the image read zero. The
// output is [N, Cout, OH, OW] with OH = (H+2·PadH−DilH·(KH−1)−1)/StrideH+1
// (likewise OW).
//
// The batch is split over the worker pool in contiguous ranges of images.
// Each thread copies one image into its zero-padded, stride-phase-split
// scratch (see convGeom.implicit), which stays in its L2, and runs an
// implicit GEMM over it; 1×1 stride-1 unpadded convolutions multiply the
// image itself, and strides above 8 build column matrices (im2col).
// Steady-state calls allocate nothing but a nil out.
func Conv2d(out, x, w, bias *Tensor, p ConvParams) *Tensor {
	return conv2d("Conv2d", out, x, w, bias, p, false)
}

// Conv2dReLU computes Relu(Conv2d(x, w, bias, p)) in one pass: each output
// plane is rectified as soon as it is written, while it is still in cache,
// so the unrectified output never goes to memory. The result is bit for
// bit that of the two calls.
func Conv2dReLU(out, x, w, bias *Tensor, p ConvParams) *Tensor {
	return conv2d("Conv2dReLU", out, x, w, bias, p, true)
}

// conv2d is the forward pass of Conv2d, followed by a ReLU if relu.
func conv2d(op string, out, x, w, bias *Tensor, p ConvParams, relu bool) *Tensor {
	g := newConvGeom(op, x.shape, w.shape, p)
	if bias != nil && (len(bias.shape) != 1 || bias.shape[0] != g.cout) {
		panic(fmt.Sprintf("tensor.%s: bias %v and weight %v: want bias [%d]", op, bias.shape, w.shape, g.cout))
	}
	out = outputDims(op, out, g.yShape())
	r := startConv(&g, convForward)
	r.x, r.y, r.w, r.relu = x.data, out.data, w.data, relu
	if bias != nil {
		r.bias = bias.data
	}
	r.run()
	return out
}

// Conv2dBackwardInput computes the gradient of a loss with respect to
// Conv2d's input x of shape xShape, given the gradient dy of its output
// and the weights w (same params as the forward):
//
//	dx[n, ci, iy, ix] = Σ dy[n, co, oy, ox] · w[co, ci-g*Cin/Groups, i, j]
//
// over the (co, oy, ox, i, j) where tap (i, j) of output (oy, ox) reads
// (iy, ix). Per image it is Col2im of Wᵀ·dY. out, if given, is overwritten.
func Conv2dBackwardInput(out, dy, w *Tensor, xShape []int, p ConvParams) *Tensor {
	const op = "Conv2dBackwardInput"
	g := newConvGeom(op, xShape, w.shape, p)
	checkDims(op, "dy", dy, g.yShape())
	out = outputDims(op, out, g.xShape())
	if fg, ok := g.flipped(); ok {
		// dx is the stride-1 convolution of dy with the flipped, transposed
		// kernel: run it as a forward implicit GEMM.
		r := startConv(&fg, convForward)
		r.flip = convWeightsFree.Get()
		r.flip.dw = convGrow(r.flip.dw, len(w.data))
		g.flipWeights(r.flip.dw, w.data)
		r.x, r.y, r.w = dy.data, out.data, r.flip.dw
		r.run()
		return out
	}
	r := startConv(&g, convInputGrad)
	r.x, r.y, r.w = out.data, dy.data, w.data
	r.run()
	return out
}

// flipped returns the geometry of the forward convolution that computes
// this one's input gradient — dy convolved with the flipped kernel, input
// and output channels swapped, padding (k−1)·dil − pad — when that is an
// implicit GEMM (stride 1 and padding at most (k−1)·dil).
func (g *convGeom) flipped() (convGeom, bool) {
	p := g.p
	ph, pw := (g.kh-1)*p.DilH-p.PadH, (g.kw-1)*p.DilW-p.PadW
	if p.StrideH != 1 || p.StrideW != 1 || g.direct() || ph < 0 || pw < 0 {
		return convGeom{}, false
	}
	f := convGeom{n: g.n, cin: g.cout, h: g.oh, w: g.ow, cout: g.cin, kh: g.kh, kw: g.kw,
		oh: g.h, ow: g.w, cinG: g.coutG, coutG: g.cinG, kG: g.coutG * g.kh * g.kw, pix: g.h * g.w,
		p: ConvParams{StrideH: 1, StrideW: 1, PadH: ph, PadW: pw, DilH: p.DilH, DilW: p.DilW, Groups: p.Groups}}
	return f, true
}

// flipWeights writes to dst the kernel of flipped: for each group,
// dst[ci, co, i, j] = w[co, ci, kh−1−i, kw−1−j].
func (g *convGeom) flipWeights(dst, w []float32) {
	taps := g.kh * g.kw
	for grp := range g.p.Groups {
		for co := range g.coutG {
			for ci := range g.cinG {
				src := w[((grp*g.coutG+co)*g.cinG+ci)*taps:][:taps]
				d := dst[((grp*g.cinG+ci)*g.coutG+co)*taps:][:taps]
				for t, v := range src {
					d[taps-1-t] = v
				}
			}
		}
	}
}

// Conv2dBackwardWeight computes the gradient of a loss with respect to
// Conv2d's weights of shape wShape, given the forward input x and the
// output gradient dy:
//
//	dw[co, ci, i, j] = Σ_{n, oy, ox} dy[n, co, oy, ox] ·
//		x[n, g*Cin/Groups+ci, oy*StrideH-PadH+i*DilH, ox*StrideW-PadW+j*DilW]
//
// that is Σ_n dY_n · col_nᵀ. Each thread sums its range of images into its
// own partial gradient, computed transposed as col_n · dY_nᵀ so that the
// large column matrix is packed without transposing; the partials are then
// added in a fixed order, so the result is deterministic for a fixed thread
// count. out, if given, is
// overwritten; see Conv2dBackwardWeightAcc to add to an existing gradient.
func Conv2dBackwardWeight(out, dy, x *Tensor, wShape []int, p ConvParams) *Tensor {
	const op = "Conv2dBackwardWeight"
	g := newConvGeom(op, x.shape, wShape, p)
	out = outputDims(op, out, g.wShape())
	convWeightGrad(op, &g, out, dy, x, false)
	return out
}

// Conv2dBackwardWeightAcc is Conv2dBackwardWeight adding the gradient to
// dw (dw += ∂L/∂w) instead of overwriting it, for gradients accumulated
// over several uses of the weights or several batches. dw must not be nil.
func Conv2dBackwardWeightAcc(dw, dy, x *Tensor, p ConvParams) {
	const op = "Conv2dBackwardWeightAcc"
	g := newConvGeom(op, x.shape, dw.shape, p)
	convWeightGrad(op, &g, dw, dy, x, true)
}

// convWeightGrad computes dw = Σ_n dY_n·col_nᵀ (+ dw if accumulate).
func convWeightGrad(op string, g *convGeom, dw, dy, x *Tensor, accumulate bool) {
	checkDims(op, "dy", dy, g.yShape())
	r := startConv(g, convWeightGradOp)
	r.x, r.y, r.w = x.data, dy.data, dw.data
	if !accumulate {
		clear(dw.data)
	}
	r.run()
	// Add the parts' transposed partials, in part order.
	for p := range r.parts {
		dwT := r.scratch[p].dw
		for grp := range g.p.Groups {
			d := dw.data[grp*g.coutG*g.kG : (grp+1)*g.coutG*g.kG]
			t := dwT[grp*g.coutG*g.kG : (grp+1)*g.coutG*g.kG]
			for co := range g.coutG {
				row := d[co*g.kG : (co+1)*g.kG]
				for k := range row {
					row[k] += t[k*g.coutG+co]
				}
			}
		}
	}
	r.finish()
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
	r := startConv(&g, convBiasGradOp)
	r.y, r.bias = dy.data, out.data
	r.run()
	return out
}

// convOp names the pass a convRun computes.
type convOp int

const (
	convForward      convOp = iota // y = conv(x, w) + bias
	convInputGrad                  // x = ∂L/∂x from y = ∂L/∂y and w
	convWeightGradOp               // partial (∂L/∂w)ᵀ per part, from x and y = ∂L/∂y
	convBiasGradOp                 // bias[co] = Σ y[:, co]
)

// maxConvParts bounds the parts (threads) one call splits into.
const maxConvParts = 64

// convRun is one convolution call, split into parts of contiguous image
// ranges (channels, for the bias gradient) that run on the worker pool. It
// implements kernels.Runner, and is recycled with its scratch, so calls
// do not allocate.
type convRun struct {
	g       convGeom
	op      convOp
	x, y, w []float32 // see convOp for what each holds
	bias    []float32 // Conv2d: bias or nil; bias gradient: the result
	parts   int
	per     int          // images per part
	rows    []int        // implicit GEMM: the window row table (see windowRows)
	flip    *convScratch // backward input: the flipped kernel, in dw
	scratch [maxConvParts]*convScratch
	// packed holds the weights packed once for every image's product
	// (forward and input gradient, one group), when usePacked: repacking
	// them per image costs up to a third of a small image's product.
	packed    kernels.PackedA
	usePacked bool
	relu      bool // Conv2dReLU: rectify each output plane once written
}

// convScratch is one part's scratch: an image's column matrix (or, for an
// implicit GEMM, its zero-padded copy), the output grid of an implicit GEMM
// and, for the weight gradient, the part's partial sum, per group
// [kG, coutG].
type convScratch struct {
	col, grid, dw []float32
	cols          []float32 // strided input gradient: Wᵀ·dY on the grid
	// padded is the geometry whose zero padding col holds, so the next
	// image of that geometry need only fill the interior.
	padded convGeom
}

var (
	convRuns        = freelist.List[convRun]{Max: scratchMax}
	convScratchs    = freelist.List[convScratch]{Max: scratchMax}
	convWeightsFree = freelist.List[convScratch]{Max: scratchMax}
)

// startConv prepares a run of op over g with per-part scratch.
func startConv(g *convGeom, op convOp) *convRun {
	r := convRuns.Get()
	r.g, r.op = *g, op
	if op == convBiasGradOp {
		r.parts, r.per = g.cout, 1
		return r
	}
	r.parts = min(kernels.Threads(), g.n, maxConvParts)
	if r.parts == 0 {
		return r
	}
	r.per = (g.n + r.parts - 1) / r.parts
	r.parts = (g.n + r.per - 1) / r.per
	_, _, grid := g.padded()
	implicit := g.implicit()
	if implicit {
		r.rows = slices.Grow(r.rows[:0], g.kG)[:g.kG]
		g.windowRows(r.rows)
	}
	for p := range r.parts {
		s := convScratchs.Get()
		switch {
		case implicit:
			// The padded image, with slack for the junk columns of the
			// last window row, zeroed once: images only overwrite the
			// interior, so the padding stays zero.
			if s.padded != *g {
				s.col = convGrow(s.col, g.cin*g.channelSize()+(g.kw-1)*g.p.DilW+16)
				clear(s.col)
				s.padded = *g
			}
			s.grid = convGrow(s.grid, g.cout*padStride(grid))
			if op == convInputGrad {
				s.cols = convGrow(s.cols, g.cin*g.kh*g.kw*padStride(grid))
			}
		case !g.direct():
			s.col = convGrow(s.col, g.cin*g.kh*g.kw*g.ld())
			s.padded = convGeom{}
		}
		if op == convWeightGradOp {
			s.dw = convGrow(s.dw, g.cout*g.kG)
		}
		r.scratch[p] = s
	}
	return r
}

// run executes every part and, except for the weight gradient (whose
// partials the caller reduces first), releases the run.
func (r *convRun) run() {
	g := &r.g
	r.usePacked = g.p.Groups == 1 && g.n > 1 && (r.op == convForward || r.op == convInputGrad)
	if r.usePacked {
		// op(A) is W (cout×K) forward and Wᵀ for the input gradient.
		if r.op == convForward {
			r.packed.Pack(false, g.coutG, g.kG, r.w, g.kG)
		} else {
			r.packed.Pack(true, g.kG, g.coutG, r.w, g.kG)
		}
	}
	kernels.Run(r, r.parts)
	if r.op != convWeightGradOp {
		r.finish()
	}
}

// finish returns the run and its scratch for reuse.
func (r *convRun) finish() {
	for p := range r.parts {
		if s := r.scratch[p]; s != nil {
			convScratchs.Put(s)
			r.scratch[p] = nil
		}
	}
	if r.flip != nil {
		convWeightsFree.Put(r.flip)
		r.flip = nil
	}
	r.x, r.y, r.w, r.bias, r.relu = nil, nil, nil, nil, false
	convRuns.Put(r)
}

// RunPart computes part p: its range of images (or channel p).
func (r *convRun) RunPart(p int) {
	g := &r.g
	if r.op == convBiasGradOp {
		var s float64
		for n := range g.n {
			s += float64(kernels.Sum(r.y[(n*g.cout+p)*g.pix : (n*g.cout+p+1)*g.pix]))
		}
		r.bias[p] = float32(s)
		return
	}
	s := r.scratch[p]
	if r.op == convWeightGradOp {
		clear(s.dw)
	}
	for img := p * r.per; img < min((p+1)*r.per, g.n); img++ {
		r.image(img, s)
	}
}

// image runs the pass for one image with scratch s.
func (r *convRun) image(img int, s *convScratch) {
	g := &r.g
	pp := g.p
	xi := r.x[img*g.cin*g.h*g.w : (img+1)*g.cin*g.h*g.w]
	yi := r.y[img*g.cout*g.pix : (img+1)*g.cout*g.pix]
	if g.implicit() {
		r.implicitImage(xi, yi, s)
		return
	}
	col, ld := s.col, g.ld()
	if g.direct() {
		col = xi
	}
	im2col := func() {
		if !g.direct() {
			kernels.Im2colLd(col, ld, xi, g.cin, g.h, g.w, g.kh, g.kw,
				pp.StrideH, pp.StrideW, pp.PadH, pp.PadW, pp.DilH, pp.DilW)
		}
	}
	switch r.op {
	case convForward:
		im2col()
		if r.usePacked {
			kernels.SgemmPacked(&r.packed, false, g.pix, 1, col, nil, ld, 0, yi, g.pix)
		} else {
			for grp := range pp.Groups {
				kernels.Sgemm(false, false, g.coutG, g.pix, g.kG, 1, r.w[grp*g.coutG*g.kG:], g.kG,
					col[grp*g.kG*ld:], ld, 0, yi[grp*g.coutG*g.pix:], g.pix)
			}
		}
		for co := range g.cout {
			r.epilogue(yi[co*g.pix:(co+1)*g.pix], co)
		}
	case convInputGrad:
		// With a direct convolution the "column matrix" is dx itself.
		if r.usePacked {
			kernels.SgemmPacked(&r.packed, false, g.pix, 1, yi, nil, g.pix, 0, col, ld)
		} else {
			for grp := range pp.Groups {
				kernels.Sgemm(true, false, g.kG, g.pix, g.coutG, 1, r.w[grp*g.coutG*g.kG:], g.kG,
					yi[grp*g.coutG*g.pix:], g.pix, 0, col[grp*g.kG*ld:], ld)
			}
		}
		if !g.direct() {
			clear(xi)
			kernels.Col2imLd(xi, col, ld, g.cin, g.h, g.w, g.kh, g.kw,
				pp.StrideH, pp.StrideW, pp.PadH, pp.PadW, pp.DilH, pp.DilW)
		}
	case convWeightGradOp:
		im2col()
		for grp := range pp.Groups {
			kernels.Sgemm(false, true, g.kG, g.coutG, g.pix, 1, col[grp*g.kG*ld:], ld,
				yi[grp*g.coutG*g.pix:], g.pix, 1, s.dw[grp*g.coutG*g.kG:], g.coutG)
		}
	}
}

// implicitImage runs one image's pass as an implicit GEMM over the
// phase-split zero-padded image in s.col: the forward pass and the weight
// gradient read it, the (strided) input gradient accumulates into it.
func (r *convRun) implicitImage(xi, yi []float32, s *convScratch) {
	g := &r.g
	_, wq, grid := g.padded()
	ldg := padStride(grid)
	csize := g.channelSize()
	if r.op == convInputGrad {
		r.implicitInputGrad(xi, yi, s)
		return
	}
	g.fillPadded(s.col, xi)
	switch r.op {
	case convForward:
		if r.usePacked {
			kernels.SgemmPacked(&r.packed, false, grid, 1, s.col, r.rows, 0, 0, s.grid, ldg)
		} else {
			for grp := range g.p.Groups {
				kernels.SgemmRows(false, g.coutG, grid, g.kG, 1, r.w[grp*g.coutG*g.kG:], nil, g.kG,
					s.col[grp*g.cinG*csize:], r.rows, 0, 0, s.grid[grp*g.coutG*ldg:], ldg)
			}
		}
		// Crop the grid to the output, then the bias and ReLU.
		for co := range g.cout {
			plane := yi[co*g.pix : (co+1)*g.pix]
			kernels.CopyRows(plane, g.ow, s.grid[co*ldg:], wq, g.oh, g.ow)
			r.epilogue(plane, co)
		}
	case convWeightGradOp:
		r.gridOf(yi, s)
		for grp := range g.p.Groups {
			kernels.SgemmRows(true, g.kG, g.coutG, grid, 1, s.col[grp*g.cinG*csize:], r.rows, 0,
				s.grid[grp*g.coutG*ldg:], nil, ldg, 1, s.dw[grp*g.coutG*g.kG:], g.coutG)
		}
	}
}

// epilogue finishes the forward pass's output plane co of one image: it
// adds the bias and, for Conv2dReLU, rectifies the plane while it is in
// cache.
func (r *convRun) epilogue(plane []float32, co int) {
	if r.bias != nil {
		kernels.ScaleShift(plane, plane, 1, r.bias[co])
	}
	if r.relu {
		kernels.Relu(plane, plane)
	}
}

// gridOf lays dy (one image's [cout, oh, ow]) on the output grid in
// s.grid with its junk columns zero, so they add nothing.
func (r *convRun) gridOf(dy []float32, s *convScratch) {
	g := &r.g
	_, wq, grid := g.padded()
	ldg := padStride(grid)
	for co := range g.cout {
		row := s.grid[co*ldg:][:grid]
		clear(row)
		kernels.CopyRows(row, wq, dy[co*g.pix:], g.ow, g.oh, g.ow)
	}
}

// implicitInputGrad computes one image's input gradient dx from dy: the
// window rows of Wᵀ·dY (on the grid) are added into the phase-split
// padded buffer at the offsets the forward pass read them from — each a
// contiguous run — and dx is the buffer's interior.
func (r *convRun) implicitInputGrad(dx, dy []float32, s *convScratch) {
	g := &r.g
	_, _, grid := g.padded()
	ldg := padStride(grid)
	csize := g.channelSize()
	r.gridOf(dy, s)
	if r.usePacked {
		kernels.SgemmPacked(&r.packed, false, grid, 1, s.grid, nil, ldg, 0, s.cols, ldg)
	} else {
		for grp := range g.p.Groups {
			kernels.Sgemm(true, false, g.kG, grid, g.coutG, 1, r.w[grp*g.coutG*g.kG:], g.kG,
				s.grid[grp*g.coutG*ldg:], ldg, 0, s.cols[grp*g.kG*ldg:], ldg)
		}
	}
	clear(s.col)
	s.padded = convGeom{} // the padding is no longer zero
	for grp := range g.p.Groups {
		acc := s.col[grp*g.cinG*csize:]
		for k, off := range r.rows {
			kernels.Axpy(1, s.cols[(grp*g.kG+k)*ldg:][:grid], acc[off:off+grid])
		}
	}
	clear(dx) // pixels in phases no tap reads get no gradient
	g.readPadded(dx, s.col)
}

// convGrow returns s resized to n, reallocating only if its capacity is
// too small.
func convGrow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
