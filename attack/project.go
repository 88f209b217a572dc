package attack

import "math"

// clampBox clamps each x[j] into [lo[j], hi[j]]: the L∞ projection, with
// the box already intersected with [0,1].
func clampBox(x, lo, hi []float32) {
	lo, hi = lo[:len(x)], hi[:len(x)]
	for j, v := range x {
		x[j] = min(max(v, lo[j]), hi[j])
	}
}

// signStep writes clamp(x + alpha·sign(g), lo, hi) into dst (which may be
// x), with sign(0) = 0: one projected L∞ step.
func signStep(dst, x, g []float32, alpha float32, lo, hi []float32) {
	x, g, lo, hi = x[:len(dst)], g[:len(dst)], lo[:len(dst)], hi[:len(dst)]
	for j, v := range x {
		switch {
		case g[j] > 0:
			v += alpha
		case g[j] < 0:
			v -= alpha
		}
		dst[j] = min(max(v, lo[j]), hi[j])
	}
}

// norm2 returns ‖x‖₂, accumulated in float64.
func norm2(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// axpyTo writes x + a·d into dst (which may be x).
func axpyTo(dst, x []float32, a float32, d []float32) {
	x, d = x[:len(dst)], d[:len(dst)]
	for j := range dst {
		dst[j] = x[j] + a*d[j]
	}
}

// dist2 returns ‖x − x0‖₂, accumulated in float64.
func dist2(x, x0 []float32) float64 {
	x0 = x0[:len(x)]
	var s float64
	for j, v := range x {
		d := float64(v) - float64(x0[j])
		s += d * d
	}
	return math.Sqrt(s)
}

// projL2 projects x onto {x' : ‖x' − x0‖₂ ≤ eps} ∩ [0,1]^d, x0 ∈ [0,1]^d:
// it scales δ = x − x0 down to norm eps if it is longer, then clamps x0+δ
// to [0,1] (which only shortens δ). If float32 rounding leaves the result
// a hair outside the ball, it shrinks δ again, so that ‖x − x0‖₂ ≤ eps
// holds exactly in float64 on the stored values.
func projL2(x, x0 []float32, eps float32) {
	x0 = x0[:len(x)]
	e := float64(eps)
	n := dist2(x, x0)
	shrink := 1.0
	for range 8 {
		s := 1.0
		if n > e {
			s = e / n * shrink
		}
		for j, v := range x {
			d := float64(v) - float64(x0[j])
			x[j] = min(max(float32(float64(x0[j])+s*d), 0), 1)
		}
		if n = dist2(x, x0); n <= e {
			return
		}
		shrink *= 1 - 1e-6
	}
	copy(x, x0) // unreachable in practice: fall back to the centre
}
