package kernels

import "fmt"

// ConvOutSize returns the output length of a convolution (or pooling) along
// one axis of length in, with kernel size k, stride, zero padding pad on
// both sides and dilation dil:
//
//	(in + 2*pad - dil*(k-1) - 1)/stride + 1
//
// or 0 when the dilated kernel is longer than the padded input. It panics
// if k, stride or dil is below 1, or in or pad is negative.
func ConvOutSize(in, k, stride, pad, dil int) int {
	if in < 0 || k < 1 || stride < 1 || pad < 0 || dil < 1 {
		panic(fmt.Sprintf("kernels.ConvOutSize: invalid in=%d k=%d stride=%d pad=%d dil=%d", in, k, stride, pad, dil))
	}
	span := dil*(k-1) + 1
	if in+2*pad < span {
		return 0
	}
	return (in+2*pad-span)/stride + 1
}

// Im2col unfolds one image x in CHW layout (c×h×w) into the column matrix
// col of shape [c*kh*kw, outH*outW], row-major, where outH and outW are
// ConvOutSize of h and w. Row (ch*kh+i)*kw+j holds kernel tap (i, j) of
// channel ch, so a convolution is the product of the weights [cout,
// cin*kh*kw] (PyTorch's layout, flattened) and col. Taps that fall in the
// zero padding are 0:
//
//	for ch, i, j, oy, ox := range ... {
//		iy, ix := oy*strideH-padH+i*dilH, ox*strideW-padW+j*dilW
//		v := 0 (or x[(ch*h+iy)*w+ix] if 0 <= iy < h and 0 <= ix < w)
//		col[((ch*kh+i)*kw+j)*(outH*outW) + oy*outW+ox] = v
//	}
//
// Every element of col[:c*kh*kw*outH*outW] is written; nothing else is.
// Invalid arguments (kernel, stride or dilation below 1, negative padding
// or size, too-short slices) panic with a message naming the argument.
func Im2col(col, x []float32, c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW int) {
	g := newConvGeom("Im2col", c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW)
	g.check("Im2col", col, g.oh*g.ow, x)
	g.walk(col, g.oh*g.ow, x, false)
}

// Im2colLd is Im2col writing col with row stride ldcol ≥ outH*outW instead
// of outH*outW, so the columns of several images can sit side by side in
// one matrix (image b of a batch at col[b*outH*outW:] with ldcol =
// batch*outH*outW) and one GEMM can cover them all. Only the first
// outH*outW entries of each row are written.
func Im2colLd(col []float32, ldcol int, x []float32, c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW int) {
	g := newConvGeom("Im2col", c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW)
	g.check("Im2col", col, ldcol, x)
	g.walk(col, ldcol, x, false)
}

// Col2im is the adjoint of Im2col: it folds the column matrix col
// [c*kh*kw, outH*outW] back onto the image x (c×h×w), ADDING each entry to
// the pixel it was taken from and dropping entries that fall in the
// padding:
//
//	for ch, i, j, oy, ox := range ... {
//		iy, ix := oy*strideH-padH+i*dilH, ox*strideW-padW+j*dilW
//		if 0 <= iy < h and 0 <= ix < w {
//			x[(ch*h+iy)*w+ix] += col[((ch*kh+i)*kw+j)*(outH*outW) + oy*outW+ox]
//		}
//	}
//
// Col2im does not zero x first: it accumulates, so a caller computing a
// fresh input gradient must clear x itself. This is the convolution's
// backward pass with respect to its input, given col = Wᵀ·dY.
func Col2im(x, col []float32, c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW int) {
	g := newConvGeom("Col2im", c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW)
	g.check("Col2im", col, g.oh*g.ow, x)
	g.walk(col, g.oh*g.ow, x, true)
}

// Col2imLd is Col2im reading col with row stride ldcol ≥ outH*outW, the
// adjoint of Im2colLd. Like Col2im it accumulates into x.
func Col2imLd(x, col []float32, ldcol int, c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW int) {
	g := newConvGeom("Col2im", c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW)
	g.check("Col2im", col, ldcol, x)
	g.walk(col, ldcol, x, true)
}

// convGeom is the validated geometry of one Im2col/Col2im call.
type convGeom struct {
	c, h, w, kh, kw, sh, sw, ph, pw, dh, dw int
	oh, ow                                  int
}

func newConvGeom(kernel string, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw int) convGeom {
	bad := func(name string, v int, need string) {
		panic(fmt.Sprintf("kernels.%s: %s = %d, must be %s", kernel, name, v, need))
	}
	for _, a := range []struct {
		name string
		v    int
	}{{"c", c}, {"h", h}, {"w", w}, {"padH", ph}, {"padW", pw}} {
		if a.v < 0 {
			bad(a.name, a.v, "non-negative")
		}
	}
	for _, a := range []struct {
		name string
		v    int
	}{{"kh", kh}, {"kw", kw}, {"strideH", sh}, {"strideW", sw}, {"dilH", dh}, {"dilW", dw}} {
		if a.v < 1 {
			bad(a.name, a.v, "at least 1")
		}
	}
	return convGeom{c: c, h: h, w: w, kh: kh, kw: kw, sh: sh, sw: sw, ph: ph, pw: pw, dh: dh, dw: dw,
		oh: ConvOutSize(h, kh, sh, ph, dh), ow: ConvOutSize(w, kw, sw, pw, dw)}
}

// check panics unless col holds c*kh*kw rows of outH*outW entries at row
// stride ldcol and x holds c*h*w pixels.
func (g *convGeom) check(kernel string, col []float32, ldcol int, x []float32) {
	n, rows := g.oh*g.ow, g.c*g.kh*g.kw
	if ldcol < n {
		panic(fmt.Sprintf("kernels.%s: ldcol = %d, need at least outH*outW = %d", kernel, ldcol, n))
	}
	if rows > 0 && n > 0 {
		if need := (rows-1)*ldcol + n; len(col) < need {
			panic(fmt.Sprintf("kernels.%s: len(col) = %d, need at least %d for %d×%d columns with ldcol = %d",
				kernel, len(col), need, rows, n, ldcol))
		}
	}
	if need := g.c * g.h * g.w; len(x) < need {
		panic(fmt.Sprintf("kernels.%s: len(x) = %d, need at least c*h*w = %d", kernel, len(x), need))
	}
}

// walk visits every (channel, tap, output row) segment of col once and
// either gathers it from x (Im2col) or scatter-adds it into x (Col2im).
// For each tap column j the range [lo, hi) of output columns whose input
// column lies inside the image is computed once, so the inner loops have no
// bounds tests, divisions or modulos; with stride 1 they are copy/axpy of
// contiguous runs.
func (g *convGeom) walk(col []float32, ldcol int, x []float32, adjoint bool) {
	n := g.oh * g.ow
	if n == 0 {
		return
	}
	plane := g.h * g.w
	for ch := range g.c {
		img := x[ch*plane : (ch+1)*plane]
		for i := range g.kh {
			for j := range g.kw {
				row := col[((ch*g.kh+i)*g.kw+j)*ldcol:][:n]
				xoff := j*g.dw - g.pw // input column of output column ox is ox*sw + xoff
				lo, hi := validRange(xoff, g.sw, g.w, g.ow)
				iy := i*g.dh - g.ph
				if g.sw == 1 {
					if adjoint {
						active.col2imRowsS1(row, img, g.w, g.h, g.oh, g.ow, iy, g.sh, lo, hi, xoff)
					} else {
						active.im2colRowsS1(row, img, g.w, g.h, g.oh, g.ow, iy, g.sh, lo, hi, xoff)
					}
					continue
				}
				for oy := 0; oy < g.oh; oy, iy = oy+1, iy+g.sh {
					seg := row[oy*g.ow : (oy+1)*g.ow]
					if iy < 0 || iy >= g.h {
						if !adjoint {
							clear(seg)
						}
						continue
					}
					src := img[iy*g.w : (iy+1)*g.w]
					if adjoint {
						scatterAddRow(src, seg, lo, hi, g.sw, xoff)
					} else {
						gatherRow(seg, src, lo, hi, g.sw, xoff)
					}
				}
			}
		}
	}
}

// col2imRowsS1Go is the adjoint of im2colRowsS1Go: for each output row oy
// with iy = iy0 + oy*sh inside the image,
//
//	for ox := lo; ox < hi; ox++ { x[iy*w+ox+xoff] += src[oy*ow+ox] }
func col2imRowsS1Go(src, x []float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int) {
	if lo >= hi {
		return
	}
	for oy, iy := 0, iy0; oy < oh; oy, iy = oy+1, iy+sh {
		if iy >= 0 && iy < h {
			dst := x[iy*w+lo+xoff : iy*w+hi+xoff]
			for k, v := range src[oy*ow+lo : oy*ow+hi] {
				dst[k] += v
			}
		}
	}
}

// im2colRowsS1Go fills one row of a column matrix for a tap of a
// convolution with horizontal stride 1: for each output row oy, with
// iy = iy0 + oy*sh,
//
//	seg := dst[oy*ow : (oy+1)*ow]
//	if iy < 0 || iy >= h { clear(seg) } else {
//		clear(seg[:lo]); clear(seg[hi:])
//		copy(seg[lo:hi], src[iy*w+lo+xoff : iy*w+hi+xoff])
//	}
//
// where [lo, hi) are the output columns whose tap lands inside the image.
func im2colRowsS1Go(dst, src []float32, w, h, oh, ow, iy0, sh, lo, hi, xoff int) {
	for oy, iy := 0, iy0; oy < oh; oy, iy = oy+1, iy+sh {
		seg := dst[oy*ow : (oy+1)*ow]
		if iy < 0 || iy >= h {
			clear(seg)
			continue
		}
		gatherRow(seg, src[iy*w:(iy+1)*w], lo, hi, 1, xoff)
	}
}

// validRange returns the output columns [lo, hi) among [0, ow) whose input
// column ox*stride + xoff lies in [0, w).
func validRange(xoff, stride, w, ow int) (lo, hi int) {
	if xoff < 0 {
		lo = (-xoff + stride - 1) / stride
	}
	if last := w - 1 - xoff; last >= 0 {
		hi = last/stride + 1
	}
	hi = min(hi, ow)
	lo = min(lo, hi)
	return lo, hi
}

// gatherRow sets seg[ox] = src[ox*stride+xoff] for ox in [lo, hi) and zero
// elsewhere.
func gatherRow(seg, src []float32, lo, hi, stride, xoff int) {
	clear(seg[:lo])
	clear(seg[hi:])
	if lo >= hi {
		return
	}
	if stride == 1 {
		copy(seg[lo:hi], src[lo+xoff:hi+xoff])
		return
	}
	dst := seg[lo:hi]
	ix := lo*stride + xoff
	for k := range dst {
		dst[k] = src[ix]
		ix += stride
	}
}

// scatterAddRow adds seg[ox] to src[ox*stride+xoff] for ox in [lo, hi).
func scatterAddRow(src, seg []float32, lo, hi, stride, xoff int) {
	if lo >= hi {
		return
	}
	if stride == 1 {
		active.axpy(1, seg[lo:hi], src[lo+xoff:hi+xoff])
		return
	}
	part := seg[lo:hi]
	ix := lo*stride + xoff
	for _, v := range part {
		src[ix] += v
		ix += stride
	}
}
