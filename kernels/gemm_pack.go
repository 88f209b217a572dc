package kernels

import (
	"unsafe"

	"github.com/bulwark-ml/bulwark/internal/freelist"
)

// gemmBuffers is one thread's packing scratch.
type gemmBuffers struct {
	a, b, tile []float32
}

// buffers keeps packing scratch for reuse across calls.
var buffers freelist.List[gemmBuffers]

// getBuffers returns packing scratch for one thread computing an m×n block
// of C with inner dimension k: no larger than the blocking needs, and no
// larger than the block itself.
func getBuffers(gk *gemmKernel, blk Blocking, m, n, k int) *gemmBuffers {
	g := buffers.Get()
	kc := min(blk.KC, k)
	g.a = grow(g.a, roundUp(min(blk.MC, m), gk.mr)*kc)
	g.b = grow(g.b, roundUp(min(blk.NC, n), gk.nr)*kc)
	g.tile = grow(g.tile, gk.mr*gk.nr)
	return g
}

func roundUp(x, multiple int) int { return (x + multiple - 1) / multiple * multiple }

// grow returns s resized to n, reallocating only when its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// packA copies the mc×kc block of op(A) at (i0, p0) into dst as MR-tall
// micro-panels: panel t holds rows i0+t·mr.., laid out p-major
// (dst[t·mr·kc + p·mr + r]), with rows past mc zero-filled.
//
// aRows, if not nil, gives the start of each row of a non-transposed A
// (see SgemmRows); lda is then unused.
func packA(gk *gemmKernel, dst, a []float32, lda int, aRows []int, trans bool, i0, mc, p0, kc int) {
	mr := gk.mr
	row := func(i int) int {
		if aRows != nil {
			return aRows[i]
		}
		return i * lda
	}
	for t := 0; t < mc; t += mr {
		panel := dst[t*kc : (t+mr)*kc]
		rows := min(mr, mc-t)
		if trans {
			// A is stored k×m: each p gives mr contiguous values.
			if mr == 6 && rows == 6 {
				for p := range kc {
					src := a[(p0+p)*lda+i0+t : (p0+p)*lda+i0+t+6 : (p0+p)*lda+i0+t+6]
					d := dst[t*kc+p*6 : t*kc+p*6+6 : t*kc+p*6+6]
					d[0], d[1], d[2], d[3], d[4], d[5] = src[0], src[1], src[2], src[3], src[4], src[5]
				}
				continue
			}
			for p := range kc {
				src := a[(p0+p)*lda+i0+t:]
				d := panel[p*mr : p*mr+mr]
				copy(d, src[:rows])
				clear(d[rows:])
			}
			continue
		}
		if mr == 6 && rows == 6 {
			i := i0 + t
			pack := packA6Go
			if gk.packA6 != nil {
				pack = gk.packA6
			}
			pack(panel, a[row(i)+p0:], a[row(i+1)+p0:], a[row(i+2)+p0:],
				a[row(i+3)+p0:], a[row(i+4)+p0:], a[row(i+5)+p0:], kc)
			continue
		}
		pack := packRowsGo
		if gk.packRows != nil {
			pack = gk.packRows
		}
		var rp [8][]float32
		for g := 0; g < rows; g += 8 {
			n := min(8, rows-g)
			for r := range n {
				rp[r] = a[row(i0+t+g+r)+p0:]
			}
			pack(panel[g:], mr, rp, n, kc)
		}
		for r := rows; r < mr; r++ {
			for p := range kc {
				panel[p*mr+r] = 0
			}
		}
	}
}

// packB copies the kc×nc block of op(B) at (p0, j0) into dst as NR-wide
// micro-panels: panel t holds columns j0+t·nr.., laid out p-major
// (dst[t·nr·kc + p·nr + q]), with columns past nc zero-filled. Rows of a
// non-transposed B are read front to back, so the hardware prefetcher can
// stream B from memory.
//
// bRows, if not nil, gives the start of each row of a non-transposed B
// (see SgemmRows); ldb is then unused.
func packB(gk *gemmKernel, dst, b []float32, ldb int, bRows []int, trans bool, p0, kc, j0, nc int) {
	nr := gk.nr
	full := nc / nr * nr // columns in full panels
	if !trans {
		for p := range kc {
			start := (p0 + p) * ldb
			if bRows != nil {
				start = bRows[p0+p]
			}
			row := b[start+j0 : start+j0+nc]
			if full > 0 {
				gk.packBRow(dst[p*nr:], kc*nr, row[:full])
			}
			if full < nc {
				d := dst[full*kc+p*nr : full*kc+p*nr+nr]
				clear(d[copy(d, row[full:]):])
			}
		}
		return
	}
	// B is stored n×k: column j of op(B) is row j of B.
	for t := 0; t < nc; t += nr {
		panel := dst[t*kc : (t+nr)*kc]
		cols := min(nr, nc-t)

		for q := range cols {
			src := b[(j0+t+q)*ldb+p0 : (j0+t+q)*ldb+p0+kc]
			for p, v := range src {
				panel[p*nr+q] = v
			}
		}
		for q := cols; q < nr; q++ {
			for p := range kc {
				panel[p*nr+q] = 0
			}
		}
	}
}

// packBRowGeneric returns the function that copies the nr-float chunks of
// src to dst, stride floats apart: dst[t*stride+q] = src[t*nr+q]. It spreads
// one row of B over its packed micro-panels.
func packBRowGeneric(nr int) func(dst []float32, stride int, src []float32) {
	return func(dst []float32, stride int, src []float32) {
		for t := 0; t*nr < len(src); t++ {
			copy(dst[t*stride:t*stride+nr], src[t*nr:t*nr+nr])
		}
	}
}

// packRowChecked runs an assembly row scatter of nr-float chunks after
// checking that dst is long enough, since the assembly cannot.
func packRowChecked(asm func(dst *float32, stride int, src *float32, panels int), nr int, dst []float32, stride int, src []float32) {
	panels := len(src) / nr
	if panels == 0 {
		return
	}
	if (panels-1)*stride+nr > len(dst) {
		panic("kernels: packed-B row scatter past the end of the buffer")
	}
	asm(unsafe.SliceData(dst), stride, unsafe.SliceData(src), panels)
}

// packA6Go packs a full 6-row micro-panel of a non-transposed A from its
// rows: dst[p*6+r] = row r[p] for r < 6, p < kc. The rows are resliced
// once so the loop runs without bounds checks.
func packA6Go(dst, r0, r1, r2, r3, r4, r5 []float32, kc int) {
	r0, r1, r2, r3, r4, r5 = r0[:kc], r1[:kc], r2[:kc], r3[:kc], r4[:kc], r5[:kc]
	dst = dst[:6*kc]
	for p := range kc {
		d := dst[p*6 : p*6+6 : p*6+6]
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}

// packRowsGo lays n ≤ 8 rows of A (each at least kc long) as the columns
// of a micro-panel stride floats wide:
//
//	for p := 0; p < kc; p++ {
//		for r := 0; r < n; r++ {
//			dst[p*stride+r] = rows[r][p]
//		}
//	}
func packRowsGo(dst []float32, stride int, rows [8][]float32, n, kc int) {
	for r := range n {
		for p, v := range rows[r][:kc] {
			dst[p*stride+r] = v
		}
	}
}
