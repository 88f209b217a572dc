package tensor

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/internal/freelist"
	"github.com/bulwark-ml/bulwark/kernels"
)

// PoolParams configures a 2-D max or average pooling window. A zero stride
// means "equal to the kernel" (non-overlapping windows), as in PyTorch.
// Padding may be at most half the kernel, so every window overlaps the
// image. The outputs of the pooling ops must not share storage with their
// inputs.
type PoolParams struct {
	KernelH, KernelW int // window size; must be at least 1
	StrideH, StrideW int // step between windows; 0 means the kernel size
	PadH, PadW       int // implicit padding on each side
}

// poolGeom is the checked geometry of one pooling: input [n, c, h, w],
// output [n, c, oh, ow].
type poolGeom struct {
	n, c, h, w, oh, ow     int
	kh, kw, sh, sw, ph, pw int
}

// newPoolGeom validates x's shape and the params for op.
func newPoolGeom(op string, xShape []int, p PoolParams) poolGeom {
	if len(xShape) != 4 || xShape[0] < 0 || xShape[1] < 0 || xShape[2] < 0 || xShape[3] < 0 {
		panic(fmt.Sprintf("tensor.%s: input %v: want a rank-4 NCHW shape", op, xShape))
	}
	if p.StrideH == 0 {
		p.StrideH = p.KernelH
	}
	if p.StrideW == 0 {
		p.StrideW = p.KernelW
	}
	if p.KernelH < 1 || p.KernelW < 1 || p.StrideH < 1 || p.StrideW < 1 || p.PadH < 0 || p.PadW < 0 ||
		2*p.PadH > p.KernelH || 2*p.PadW > p.KernelW {
		panic(fmt.Sprintf("tensor.%s: invalid params %+v: want kernel ≥ 1, stride ≥ 0, 0 ≤ pad ≤ kernel/2", op, p))
	}
	g := poolGeom{n: xShape[0], c: xShape[1], h: xShape[2], w: xShape[3],
		kh: p.KernelH, kw: p.KernelW, sh: p.StrideH, sw: p.StrideW, ph: p.PadH, pw: p.PadW}
	g.oh = kernels.ConvOutSize(g.h, g.kh, g.sh, g.ph, 1)
	g.ow = kernels.ConvOutSize(g.w, g.kw, g.sw, g.pw, 1)
	if g.oh == 0 || g.ow == 0 {
		panic(fmt.Sprintf("tensor.%s: input %v smaller than the %d×%d window (params %+v)", op, xShape, g.kh, g.kw, p))
	}
	return g
}

func (g *poolGeom) xShape() dims4 { return dims4{4, [4]int{g.n, g.c, g.h, g.w}} }
func (g *poolGeom) yShape() dims4 { return dims4{4, [4]int{g.n, g.c, g.oh, g.ow}} }

// window returns the input rows [y0, y1) and columns [x0, x1) that output
// (oy, ox)'s window covers, clipped to the image.
func (g *poolGeom) window(oy, ox int) (y0, y1, x0, x1 int) {
	y0, x0 = oy*g.sh-g.ph, ox*g.sw-g.pw
	y1, x1 = min(y0+g.kh, g.h), min(x0+g.kw, g.w)
	return max(y0, 0), y1, max(x0, 0), x1
}

// MaxPool2d takes the maximum of each KernelH×KernelW window of x
// [N, C, H, W] (padding never wins), giving [N, C, OH, OW] with OH =
// kernels.ConvOutSize(H, KernelH, StrideH, PadH, 1). It also returns, for
// each output, the index iy*W+ix within its plane of the input it came
// from, for MaxPool2dBackward; a NaN in a window wins, as in PyTorch. out
// and idx may be nil (allocated) or must have exactly the output's size.
func MaxPool2d(out *Tensor, idx []int32, x *Tensor, p PoolParams) (*Tensor, []int32) {
	const op = "MaxPool2d"
	g := newPoolGeom(op, x.shape, p)
	out = outputDims(op, out, g.yShape())
	if idx == nil {
		idx = make([]int32, len(out.data))
	} else if len(idx) != len(out.data) {
		panic(fmt.Sprintf("tensor.%s: len(idx) = %d, want %d for output %v", op, len(idx), len(out.data), out.shape))
	}
	runPlanes(poolMax, &g, x.data, out.data, idx)
	return out, idx
}

// MaxPool2dBackward routes the output gradient dy [N, C, OH, OW] of
// MaxPool2d back to the inputs that won, using its indices idx:
// dx[n, c, idx[...]] += dy[n, c, oy, ox], all else 0. The result has shape
// xShape; out, if given, is overwritten.
func MaxPool2dBackward(out, dy *Tensor, idx []int32, xShape []int) *Tensor {
	const op = "MaxPool2dBackward"
	if len(xShape) != 4 || len(dy.shape) != 4 || dy.shape[0] != xShape[0] || dy.shape[1] != xShape[1] {
		panic(fmt.Sprintf("tensor.%s: dy %v does not match input %v", op, dy.shape, xShape))
	}
	if len(idx) != len(dy.data) {
		panic(fmt.Sprintf("tensor.%s: len(idx) = %d, want %d for dy %v", op, len(idx), len(dy.data), dy.shape))
	}
	g := poolGeom{n: xShape[0], c: xShape[1], h: xShape[2], w: xShape[3], oh: dy.shape[2], ow: dy.shape[3]}
	out = outputDims(op, out, g.xShape())
	runPlanes(poolMaxBack, &g, out.data, dy.data, idx)
	return out
}

// AvgPool2d averages each KernelH×KernelW window of x [N, C, H, W],
// counting padded taps as zeros (PyTorch's count_include_pad=True), so
// every window divides by KernelH*KernelW. The result is [N, C, OH, OW].
func AvgPool2d(out, x *Tensor, p PoolParams) *Tensor {
	const op = "AvgPool2d"
	g := newPoolGeom(op, x.shape, p)
	out = outputDims(op, out, g.yShape())
	runPlanes(poolAvg, &g, x.data, out.data, nil)
	return out
}

// AvgPool2dBackward spreads each output gradient of AvgPool2d evenly over
// its window: dx[tap] += dy[out]/(KernelH*KernelW) for the taps inside
// the image. The result has shape xShape; out, if given, is overwritten.
func AvgPool2dBackward(out, dy *Tensor, xShape []int, p PoolParams) *Tensor {
	const op = "AvgPool2dBackward"
	g := newPoolGeom(op, xShape, p)
	checkDims(op, "dy", dy, g.yShape())
	out = outputDims(op, out, g.xShape())
	runPlanes(poolAvgBack, &g, out.data, dy.data, nil)
	return out
}

// GlobalAvgPool2d averages each H×W plane of x [N, C, H, W], giving
// [N, C]: the head of ResNets before the classifier.
func GlobalAvgPool2d(out, x *Tensor) *Tensor {
	const op = "GlobalAvgPool2d"
	if len(x.shape) != 4 {
		panic(fmt.Sprintf("tensor.%s: input %v: want a rank-4 NCHW shape", op, x.shape))
	}
	g := poolGeom{n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], oh: 1, ow: 1}
	out = outputDims(op, out, dims4{2, [4]int{g.n, g.c}})
	runPlanes(poolGlobal, &g, x.data, out.data, nil)
	return out
}

// GlobalAvgPool2dBackward gives every pixel of plane (n, c) the gradient
// dy[n, c]/(H*W). The result has shape xShape; out, if given, is
// overwritten.
func GlobalAvgPool2dBackward(out, dy *Tensor, xShape []int) *Tensor {
	const op = "GlobalAvgPool2dBackward"
	if len(xShape) != 4 {
		panic(fmt.Sprintf("tensor.%s: input shape %v: want rank 4", op, xShape))
	}
	g := poolGeom{n: xShape[0], c: xShape[1], h: xShape[2], w: xShape[3], oh: 1, ow: 1}
	checkDims(op, "dy", dy, dims4{2, [4]int{g.n, g.c}})
	out = outputDims(op, out, g.xShape())
	runPlanes(poolGlobalBack, &g, out.data, dy.data, nil)
	return out
}

// poolKind selects the per-plane loop a poolWork runs.
type poolKind int

const (
	poolMax        poolKind = iota // a: x, b: y, idx written
	poolMaxBack                    // a: dx, b: dy, idx read
	poolAvg                        // a: x, b: y
	poolAvgBack                    // a: dx, b: dy
	poolGlobal                     // a: x, b: y (one value per plane)
	poolGlobalBack                 // a: dx, b: dy (one value per plane)
)

// poolWork runs one pooling op over ranges of the N*C planes; it
// implements kernels.Runner and is pooled so that calls do not allocate.
type poolWork struct {
	kind   poolKind
	g      poolGeom
	a, b   []float32 // input-side (H×W planes) and output-side (OH×OW planes)
	idx    []int32
	planes int // planes per part
}

var poolWorks = freelist.List[poolWork]{Max: scratchMax}

// poolGrain is about how many elements one part should touch, so small
// poolings do not pay for a hand-off to the worker pool.
const poolGrain = 1 << 14

// runPlanes runs kind over all N*C planes, in parallel over contiguous
// ranges of planes.
func runPlanes(kind poolKind, g *poolGeom, a, b []float32, idx []int32) {
	total := g.n * g.c
	if total == 0 {
		return
	}
	j := poolWorks.Get()
	*j = poolWork{kind: kind, g: *g, a: a, b: b, idx: idx}
	work := g.h*g.w + g.oh*g.ow
	parts := min(kernels.Threads(), total, max(1, total*work/poolGrain))
	j.planes = (total + parts - 1) / parts
	kernels.Run(j, (total+j.planes-1)/j.planes)
	*j = poolWork{}
	poolWorks.Put(j)
}

// RunPart processes planes [i*planes, (i+1)*planes).
func (j *poolWork) RunPart(i int) {
	g := &j.g
	in, on := g.h*g.w, g.oh*g.ow
	for pl := i * j.planes; pl < min((i+1)*j.planes, g.n*g.c); pl++ {
		a, b := j.a[pl*in:(pl+1)*in], j.b[pl*on:(pl+1)*on]
		switch j.kind {
		case poolMax:
			if g.is2x2() {
				g.maxPlane2x2(a, b, j.idx[pl*on:(pl+1)*on])
			} else {
				g.maxPlane(a, b, j.idx[pl*on:(pl+1)*on])
			}
		case poolMaxBack:
			clear(a)
			for o, k := range j.idx[pl*on : (pl+1)*on] {
				a[k] += b[o]
			}
		case poolAvg, poolAvgBack:
			g.avgPlane(a, b, j.kind == poolAvgBack)
		case poolGlobal:
			b[0] = kernels.Sum(a) / float32(in)
		case poolGlobalBack:
			v := b[0] / float32(in)
			for k := range a {
				a[k] = v
			}
		}
	}
}

// maxPlane computes one plane of MaxPool2d.
func (g *poolGeom) maxPlane(x, y []float32, idx []int32) {
	for oy := range g.oh {
		for ox := range g.ow {
			y0, y1, x0, x1 := g.window(oy, ox)
			best, at := float32(math.Inf(-1)), y0*g.w+x0
			for iy := y0; iy < y1; iy++ {
				for ix := x0; ix < x1; ix++ {
					if v := x[iy*g.w+ix]; v > best || v != v {
						best, at = v, iy*g.w+ix
					}
				}
			}
			y[oy*g.ow+ox], idx[oy*g.ow+ox] = best, int32(at)
		}
	}
}

// is2x2 reports whether the windows are 2×2 at stride 2 without padding,
// the pooling of SmallCNN and most small CNNs: every window then lies
// whole inside the plane.
func (g *poolGeom) is2x2() bool {
	return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0
}

// maxPlane2x2 is maxPlane for is2x2 geometry, a row of windows at a time
// (kernels.MaxPool2x2Row): the same scan order and comparisons, so the
// same values and indices, NaNs and ties included.
func (g *poolGeom) maxPlane2x2(x, y []float32, idx []int32) {
	w, ow := g.w, g.ow
	for oy := range g.oh {
		r := 2 * oy * w
		kernels.MaxPool2x2Row(y[oy*ow:(oy+1)*ow], idx[oy*ow:(oy+1)*ow], x[r:r+w], x[r+w:r+2*w], r, w)
	}
}

// avgPlane computes one plane of AvgPool2d (y from x), or of its backward
// (x from y, zeroing x first) when back.
func (g *poolGeom) avgPlane(x, y []float32, back bool) {
	if back {
		clear(x)
	}
	inv := 1 / float32(g.kh*g.kw)
	for oy := range g.oh {
		for ox := range g.ow {
			y0, y1, x0, x1 := g.window(oy, ox)
			o := oy*g.ow + ox
			if back {
				d := y[o] * inv
				for iy := y0; iy < y1; iy++ {
					row := x[iy*g.w+x0 : iy*g.w+x1]
					kernels.ScaleShift(row, row, 1, d)
				}
				continue
			}
			var s float32
			for iy := y0; iy < y1; iy++ {
				for _, v := range x[iy*g.w+x0 : iy*g.w+x1] {
					s += v
				}
			}
			y[o] = s * inv
		}
	}
}
