package kernels

// gemmBuffers is one thread's packing scratch.
type gemmBuffers struct {
	a, b, tile []float32
}

// buffers keeps packing scratch for reuse across calls.
var buffers freeList[gemmBuffers]

// getBuffers returns scratch large enough for one thread's share of a
// product with the given tile and blocking.
func getBuffers(im *impl, blk Blocking) *gemmBuffers {
	g := buffers.get()
	g.a = grow(g.a, (blk.MC+im.mr)*blk.KC)
	g.b = grow(g.b, (blk.NC+im.nr)*blk.KC)
	g.tile = grow(g.tile, im.mr*im.nr)
	return g
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// packA copies the mc×kc block of op(A) at (i0, p0) into dst as MR-tall
// micro-panels: panel t holds rows i0+t·mr.., laid out p-major
// (dst[t·mr·kc + p·mr + r]), with rows past mc zero-filled.
func packA(dst, a []float32, lda int, trans bool, i0, mc, p0, kc, mr int) {
	for t := 0; t < mc; t += mr {
		panel := dst[t*kc : (t+mr)*kc]
		rows := min(mr, mc-t)
		if trans {
			// A is stored k×m: each p gives mr contiguous values.
			for p := range kc {
				src := a[(p0+p)*lda+i0+t:]
				d := panel[p*mr : p*mr+mr]
				copy(d, src[:rows])
				clear(d[rows:])
			}
			continue
		}
		for r := range rows {
			src := a[(i0+t+r)*lda+p0 : (i0+t+r)*lda+p0+kc]
			for p, v := range src {
				panel[p*mr+r] = v
			}
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
// (dst[t·nr·kc + p·nr + q]), with columns past nc zero-filled.
func packB(dst, b []float32, ldb int, trans bool, p0, kc, j0, nc, nr int) {
	for t := 0; t < nc; t += nr {
		panel := dst[t*kc : (t+nr)*kc]
		cols := min(nr, nc-t)
		if !trans && nr == 16 && cols == 16 {
			// The common full AVX2 panel: fixed-size copies, no memmove calls.
			for p := range kc {
				*(*[16]float32)(panel[p*16:]) = *(*[16]float32)(b[(p0+p)*ldb+j0+t:])
			}
			continue
		}
		if !trans {
			for p := range kc {
				src := b[(p0+p)*ldb+j0+t:]
				d := panel[p*nr : p*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		// B is stored n×k: column j of op(B) is row j of B.
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
