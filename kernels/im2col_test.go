package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// im2colGeoms enumerates the geometries the Im2col tests cover: odd and
// even sizes, kernels larger than the image, strides, paddings and
// dilations.
func im2colGeoms(f func(c, h, w, k, s, p, d int)) {
	for _, c := range []int{1, 3} {
		for _, h := range []int{1, 5, 7, 8} {
			for _, w := range []int{1, 5, 7, 8} {
				for _, k := range []int{1, 3, 5} {
					for _, s := range []int{1, 2} {
						for _, p := range []int{0, 1, 2} {
							for _, d := range []int{1, 2} {
								f(c, h, w, k, s, p, d)
							}
						}
					}
				}
			}
		}
	}
}

// refIm2col is the plain float64 definition of Im2col.
func refIm2col(x []float64, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw int) []float64 {
	oh, ow := ConvOutSize(h, kh, sh, ph, dh), ConvOutSize(w, kw, sw, pw, dw)
	col := make([]float64, c*kh*kw*oh*ow)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						iy, ix := oy*sh-ph+i*dh, ox*sw-pw+j*dw
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							col[((ch*kh+i)*kw+j)*oh*ow+oy*ow+ox] = x[(ch*h+iy)*w+ix]
						}
					}
				}
			}
		}
	}
	return col
}

func TestConvOutSize(t *testing.T) {
	for _, tc := range []struct{ in, k, s, p, d, want int }{
		{32, 3, 1, 1, 1, 32}, {32, 3, 2, 1, 1, 16}, {32, 1, 2, 0, 1, 16}, {7, 3, 1, 0, 2, 3},
		{1, 3, 1, 0, 1, 0}, {1, 3, 1, 1, 1, 1}, {5, 5, 2, 2, 2, 1}, {9, 3, 2, 2, 2, 5}, {0, 1, 1, 0, 1, 0},
	} {
		t.Run(fmt.Sprintf("in%d_k%d_s%d_p%d_d%d", tc.in, tc.k, tc.s, tc.p, tc.d), func(t *testing.T) {
			if got := ConvOutSize(tc.in, tc.k, tc.s, tc.p, tc.d); got != tc.want {
				t.Errorf("ConvOutSize(%d, %d, %d, %d, %d) = %d, want %d", tc.in, tc.k, tc.s, tc.p, tc.d, got, tc.want)
			}
		})
	}
}

func TestIm2col(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	im2colGeoms(func(c, h, w, k, s, p, d int) {
		name := fmt.Sprintf("c%d h%d w%d k%d s%d p%d d%d", c, h, w, k, s, p, d)
		// Rectangular variants: kw and the W-axis parameters differ.
		kw, sw, pw, dw := max(1, k-2), 3-s, p/2, 3-d
		oh, ow := ConvOutSize(h, k, s, p, d), ConvOutSize(w, kw, sw, pw, dw)
		x := newGuarded(c*h*w, rng)
		want := refIm2col(widen(x.inner), c, h, w, k, kw, s, sw, p, pw, d, dw)
		n := oh * ow
		// Plain layout, then a wider row stride with sentinels in the gaps.
		for _, extra := range []int{0, 3} {
			ld := n + extra
			rows := c * k * kw
			size := max(0, (rows-1)*ld+n)
			col := newGuarded(size, rng)
			if extra == 0 {
				Im2col(col.inner, x.inner, c, h, w, k, kw, s, sw, p, pw, d, dw)
			} else {
				for i := range col.inner {
					col.inner[i] = sentinel
				}
				Im2colLd(col.inner, ld, x.inner, c, h, w, k, kw, s, sw, p, pw, d, dw)
			}
			col.check(t, name)
			x.check(t, name+" (input)")
			for r := range rows {
				for q := range n {
					if got := col.inner[r*ld+q]; float64(got) != want[r*n+q] {
						t.Fatalf("%s ld=%d: col[%d][%d] = %v, want %v", name, ld, r, q, got, want[r*n+q])
					}
				}
				for q := n; q < ld && r*ld+q < size; q++ {
					if math.Float32bits(col.inner[r*ld+q]) != math.Float32bits(sentinel) {
						t.Fatalf("%s ld=%d: gap col[%d][%d] written", name, ld, r, q)
					}
				}
			}
		}
	})
}

// TestCol2imAdjoint checks <Im2col(x), y> == <x, Col2im(y)> and that
// Col2im accumulates into x rather than overwriting it.
func TestCol2imAdjoint(t *testing.T) {
	testutil.ForEachImpl(t, Implementations(), Use, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		im2colGeoms(func(c, h, w, k, s, p, d int) {
			name := fmt.Sprintf("c%d h%d w%d k%d s%d p%d d%d", c, h, w, k, s, p, d)
			oh, ow := ConvOutSize(h, k, s, p, d), ConvOutSize(w, k, s, p, d)
			rows, n := c*k*k, oh*ow
			x := make([]float32, c*h*w)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			y := make([]float32, rows*n)
			for i := range y {
				y[i] = float32(rng.NormFloat64())
			}
			col := make([]float32, rows*n)
			Im2col(col, x, c, h, w, k, k, s, s, p, p, d, d)
			var lhs float64
			for i := range col {
				lhs += float64(col[i]) * float64(y[i])
			}
			base := newGuarded(c*h*w, rng)
			start := widen(base.inner)
			Col2im(base.inner, y, c, h, w, k, k, s, s, p, p, d, d)
			base.check(t, name)
			var rhs, scale float64
			for i := range x {
				back := float64(base.inner[i]) - start[i]
				rhs += float64(x[i]) * back
				scale += math.Abs(float64(x[i]) * back)
			}
			if math.Abs(lhs-rhs) > 1e-4*(scale+1) {
				t.Fatalf("%s: <Im2col(x), y> = %v, <x, Col2im(y)> = %v", name, lhs, rhs)
			}
		})
	})
}

// TestCol2imLd checks the strided variant against the plain one.
func TestCol2imLd(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const c, h, w, k, s, p, d = 2, 7, 6, 3, 2, 1, 1
	oh, ow := ConvOutSize(h, k, s, p, d), ConvOutSize(w, k, s, p, d)
	rows, n, ld := c*k*k, oh*ow, oh*ow+5
	dense := make([]float32, rows*n)
	wide := make([]float32, rows*ld)
	for i := range wide {
		wide[i] = float32(math.NaN()) // the gaps must not be read
	}
	for r := range rows {
		for q := range n {
			v := float32(rng.NormFloat64())
			dense[r*n+q], wide[r*ld+q] = v, v
		}
	}
	a, b := make([]float32, c*h*w), make([]float32, c*h*w)
	Col2im(a, dense, c, h, w, k, k, s, s, p, p, d, d)
	Col2imLd(b, wide, ld, c, h, w, k, k, s, s, p, p, d, d)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("x[%d]: Col2imLd %v, Col2im %v", i, b[i], a[i])
		}
	}
}

func TestIm2colMisuse(t *testing.T) {
	x, col := make([]float32, 3*8*8), make([]float32, 27*64)
	testutil.CheckPanic(t, func() { Im2col(col, x, 3, 8, 8, 0, 3, 1, 1, 1, 1, 1, 1) }, "kernels.Im2col: kh = 0")
	testutil.CheckPanic(t, func() { Im2col(col, x, 3, 8, 8, 3, 3, 1, 0, 1, 1, 1, 1) }, "kernels.Im2col: strideW = 0")
	testutil.CheckPanic(t, func() { Im2col(col, x, 3, 8, 8, 3, 3, 1, 1, 1, 1, -1, 1) }, "kernels.Im2col: dilH = -1")
	testutil.CheckPanic(t, func() { Im2col(col, x, 3, 8, 8, 3, 3, 1, 1, 1, -1, 1, 1) }, "kernels.Im2col: padW = -1")
	testutil.CheckPanic(t, func() { Im2col(col[:100], x, 3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1) }, "kernels.Im2col: len(col)")
	testutil.CheckPanic(t, func() { Im2col(col, x[:10], 3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1) }, "kernels.Im2col: len(x)")
	testutil.CheckPanic(t, func() { Im2colLd(col, 10, x, 3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1) }, "kernels.Im2col: ldcol")
	testutil.CheckPanic(t, func() { Col2im(x, col[:5], 3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1) }, "kernels.Col2im: len(col)")
	testutil.CheckPanic(t, func() { Col2im(x, col, -1, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1) }, "kernels.Col2im: c = -1")
	testutil.CheckPanic(t, func() { ConvOutSize(8, 3, 0, 1, 1) }, "kernels.ConvOutSize")
}

func TestIm2colNoAlloc(t *testing.T) {
	x, col := make([]float32, 3*8*8), make([]float32, 27*64)
	if a := testing.AllocsPerRun(10, func() {
		Im2col(col, x, 3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1)
		Col2im(x, col, 3, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1)
	}); a != 0 {
		t.Errorf("Im2col+Col2im allocate %v times per call", a)
	}
}

func BenchmarkIm2col(b *testing.B) {
	for _, tc := range []struct{ c, h, k, s, p int }{{16, 32, 3, 1, 1}, {32, 32, 3, 2, 1}, {64, 8, 3, 1, 1}} {
		b.Run(fmt.Sprintf("c%d_h%d_k%d_s%d", tc.c, tc.h, tc.k, tc.s), func(b *testing.B) {
			o := ConvOutSize(tc.h, tc.k, tc.s, tc.p, 1)
			x, col := make([]float32, tc.c*tc.h*tc.h), make([]float32, tc.c*tc.k*tc.k*o*o)
			b.SetBytes(int64(4 * len(col)))
			b.ReportAllocs()
			for b.Loop() {
				Im2col(col, x, tc.c, tc.h, tc.h, tc.k, tc.k, tc.s, tc.s, tc.p, tc.p, 1, 1)
			}
		})
	}
}
