package attack

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Square is the Square Attack (Andriushchenko et al. 2020), a score-based
// attack that needs no gradients (so gradient masking does not stop it):
// random search that minimizes the margin z_y − max_{i≠y} z_i, changing
// one square window per query and keeping a candidate only if it lowers
// the margin. A sample stops as soon as it is misclassified; samples
// misclassified on their clean input are returned as they are, the others
// at their best point.
//
// The window side is about sqrt(p·H·W) pixels, where p starts at PInit
// and halves at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and
// 8000 of a 10,000-query budget (those iterations are rescaled to
// Queries unless FixedSchedule is set).
//
// In L∞ the attack starts from vertical stripes, x ± ε per column and
// channel, and each query moves one window, per channel, to x + ε or x −
// ε (a step of ±2ε, clipped to the ball). In L2 it starts from a grid of
// pseudo-Gaussian bumps of random signs scaled to norm ε, and each query
// moves the perturbation's mass from a second window into the first,
// reshaping the first as the old content plus a random-sign
// pseudo-Gaussian bump and spending the budget left under ε, then
// rescales the whole perturbation to norm ε.
type Square struct {
	Norm Norm    // LInf (the default) or L2
	Eps  float32 // radius of the ball, ≥ 0
	// Queries is the budget of forward passes per sample, the first one
	// at the starting point; 0 means 5000.
	Queries int
	// PInit is the initial fraction of pixels a window covers, in (0, 1];
	// 0 means 0.8.
	PInit float32
	// FixedSchedule halves p at the fixed iterations whatever Queries is,
	// as AutoAttack's Square does; by default they scale with Queries.
	FixedSchedule bool
	BN            BNMode // the model's mode during the attack; BNEval by default
	Seed          uint64 // seeds the windows and signs

	e      engine
	in     *autograd.Var // constant leaf over the candidates
	act    []int         // batch positions of the samples in the candidate batch
	cand   []float32     // candidates, one row per entry of act
	candT  *tensor.Tensor
	best   []float64 // per sample: the best objective, −margin
	done   []bool    // misclassified (or misclassified clean)
	eta    []float32 // the pseudo-Gaussian bump for side etaS
	etaS   int
	win    []float32 // L2 window scratch
	shapeK int       // the candidate batch's size when candT was made
}

func (q *Square) queries() int {
	if q.Queries == 0 {
		return 5000
	}
	return q.Queries
}

// Name returns e.g. "Square Linf ε=0.03137 5000 queries".
func (q *Square) Name() string {
	return fmt.Sprintf("Square %v ε=%.4g %d queries", q.Norm, q.Eps, q.queries())
}

// pAt returns the fraction p at iteration it (from 0).
func (q *Square) pAt(it int) float64 {
	if !q.FixedSchedule {
		it = int(int64(it) * 10000 / int64(q.queries()))
	}
	p := orDefault(q.PInit, 0.8)
	for _, h := range [...]int{10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000} {
		if it > h {
			p /= 2
		}
	}
	return p
}

// side returns the window side for fraction p on h×w images: at least 1
// in L∞, at least 3 and odd in L2, at most min(h, w).
func (q *Square) side(p float64, h, w int) int {
	s := int(math.Round(math.Sqrt(p * float64(h*w))))
	if q.Norm == L2 {
		s = max(s, 3)
		if s%2 == 0 {
			s++
		}
	}
	return max(min(s, h, w), 1)
}

// Perturb runs the attack; see Attack.
func (q *Square) Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	e := &q.e
	e.who = "attack: Square"
	e.s = settings{norm: q.Norm, eps: q.Eps, init: InitNone, loss: CW, bn: q.BN, seed: q.Seed}
	if q.Queries < 0 || !(q.PInit >= 0 && q.PInit <= 1) {
		return nil, fmt.Errorf("%s: queries %d, p_init %v: want queries ≥ 0 and p_init in (0, 1]", e.who, q.Queries, q.PInit)
	}
	if err := e.begin(m, x, y); err != nil {
		return nil, err
	}
	defer e.end(m)
	if q.in == nil {
		q.in = autograd.Leaf(nil, false)
	}
	n := e.n
	q.best = grow(q.best, n)
	q.done = grow(q.done, n)
	q.cand = grow(q.cand, len(e.cur))
	q.act = q.act[:0]
	q.shapeK = -1
	h, w := e.shape[2], e.shape[3]
	q.win = grow(q.win, h*w)
	// The clean pass: misclassified samples are not attacked.
	copy(e.cur, e.x0)
	if err := e.eval(m, false); err != nil {
		return nil, err
	}
	copy(q.done, e.fooled)
	q.init()
	if err := e.eval(m, false); err != nil { // the first query
		return nil, err
	}
	for i := range n {
		q.best[i] = e.obj[i]
		q.done[i] = q.done[i] || e.fooled[i]
	}
	for it := range q.queries() - 1 {
		if !q.compact() {
			break
		}
		s := q.side(q.pAt(it), h, w)
		for j, i := range q.act {
			c := e.row(q.cand, j)
			if q.done[i] {
				copy(c, e.row(e.cur, i))
				continue
			}
			if q.Norm == LInf {
				q.stepLInf(c, i, s)
			} else {
				q.stepL2(c, i, s)
			}
		}
		if err := q.query(m, y); err != nil {
			return nil, err
		}
	}
	return e.curT, nil
}

// compact rebuilds the candidate batch from the samples still attacked
// when at most half of it is still attacked (so that a call reshapes it
// only O(log N) times); it reports whether any sample is left.
func (q *Square) compact() bool {
	live := 0
	for _, i := range q.act {
		if !q.done[i] {
			live++
		}
	}
	if len(q.act) > 0 && 2*live > len(q.act) {
		return true
	}
	q.act = q.act[:0]
	for i, d := range q.done {
		if !d {
			q.act = append(q.act, i)
		}
	}
	return len(q.act) > 0
}

// query evaluates the candidate batch and keeps, per sample, a candidate
// that misclassifies or raises the objective.
func (q *Square) query(m nn.Module, y []int) error {
	e := &q.e
	k := len(q.act)
	if k != q.shapeK {
		q.in.Value = view(&q.candT, q.cand[:k*e.chw], [4]int{k, e.shape[1], e.shape[2], e.shape[3]})
		q.shapeK = k
	}
	e.tp.Reset()
	zv := m.Forward(e.tp, q.in).Value
	if zv.Rank() != 2 || zv.Dim(0) != k || zv.Dim(1) != e.classes {
		return fmt.Errorf("%s: model returned logits %v for %d inputs, want [%d, %d]", e.who, zv.Shape(), k, k, e.classes)
	}
	c, zd := e.classes, zv.Data()
	for j, i := range q.act {
		if q.done[i] {
			continue
		}
		row := zd[j*c : (j+1)*c]
		obj := CW.Eval(row, y[i], nil)
		fooled := tensor.ArgmaxRow(row) != y[i]
		if fooled || obj > q.best[i] {
			q.best[i], q.done[i] = obj, fooled
			copy(e.row(e.cur, i), e.row(q.cand, j))
		}
	}
	return nil
}

// init puts cur at the starting point of each sample still attacked.
func (q *Square) init() {
	e := &q.e
	ch, h, w := e.shape[1], e.shape[2], e.shape[3]
	for i := range e.n {
		if q.done[i] {
			continue
		}
		xs, lo, hi := e.row(e.cur, i), e.row(e.lo, i), e.row(e.hi, i)
		if q.Norm == LInf {
			// Vertical stripes: one sign per channel and column.
			for c := range ch {
				for col := range w {
					up := q.coin()
					for r := range h {
						k := (c*h+r)*w + col
						xs[k] = pick(up, lo[k], hi[k])
					}
				}
			}
			continue
		}
		// A grid of pseudo-Gaussian bumps of side max(h/5, 1), centred.
		d := e.row(q.cand, 0) // scratch: the perturbation
		clear(d)
		s := max(h/5, 1)
		q.setEta(s)
		oh, ow := max((h-5*s)/2, 0), max((w-5*s)/2, 0)
		for r0 := oh; r0 < h; r0 += s {
			for c0 := ow; c0 < w; c0 += s {
				tr := q.coin()
				for c := range ch {
					sg := pick(q.coin(), -1, 1)
					for r := r0; r < min(r0+s, h); r++ {
						for col := c0; col < min(c0+s, w); col++ {
							d[(c*h+r)*w+col] = sg * q.etaAt(r-r0, col-c0, tr)
						}
					}
				}
			}
		}
		q.toSphere(xs, d, i)
	}
}

// stepLInf writes into c a candidate for sample i: its best point with
// one random s×s window set, per channel, to x + ε or x − ε.
func (q *Square) stepLInf(c []float32, i, s int) {
	e := &q.e
	ch, h, w := e.shape[1], e.shape[2], e.shape[3]
	copy(c, e.row(e.cur, i))
	lo, hi := e.row(e.lo, i), e.row(e.hi, i)
	r0, c0 := e.rng.Intn(h-s+1), e.rng.Intn(w-s+1)
	for k := range ch {
		up := q.coin()
		for r := r0; r < r0+s; r++ {
			for col := c0; col < c0+s; col++ {
				j := (k*h+r)*w + col
				c[j] = pick(up, lo[j], hi[j])
			}
		}
	}
}

// stepL2 writes into c a candidate for sample i by the L2 window update:
// with δ the perturbation of the best point, two random s×s windows W1
// and W2, and per channel, the new content of W1 is the unit-norm sum of
// a random-sign pseudo-Gaussian bump and δ's content of W1 (normalized),
// scaled to sqrt(max(ε² − ‖δ‖², 0)/C + ‖δ over W1 ∪ W2‖²); W2 is
// zeroed; then δ is rescaled to norm ε.
func (q *Square) stepL2(c []float32, i, s int) {
	e := &q.e
	ch, h, w := e.shape[1], e.shape[2], e.shape[3]
	xs, x0 := e.row(e.cur, i), e.row(e.x0, i)
	for j, v := range xs {
		c[j] = v - x0[j] // δ
	}
	eps := float64(e.s.eps)
	spare := max(eps*eps-sq(norm2(c)), 0) / float64(ch)
	r1, c1 := e.rng.Intn(h-s+1), e.rng.Intn(w-s+1)
	r2, c2 := e.rng.Intn(h-s+1), e.rng.Intn(w-s+1)
	tr := q.coin()
	q.setEta(s)
	win := q.win[:s*s]
	for k := range ch {
		plane := c[k*h*w : (k+1)*h*w]
		n1 := windowSq(plane, w, r1, c1, s, s)
		// ‖δ over W1 ∪ W2‖² = ‖W1‖² + ‖W2‖² − ‖W1 ∩ W2‖².
		ir, ic := max(r1, r2), max(c1, c2)
		union := n1 + windowSq(plane, w, r2, c2, s, s) -
			windowSq(plane, w, ir, ic, min(r1, r2)+s-ir, min(c1, c2)+s-ic)
		sg := float64(pick(q.coin(), -1, 1))
		inv := 1 / (math.Sqrt(n1) + 1e-12)
		var nn float64
		for r := range s {
			for col := range s {
				v := sg*float64(q.etaAt(r, col, tr)) + float64(plane[(r1+r)*w+c1+col])*inv
				win[r*s+col] = float32(v)
				nn += v * v
			}
		}
		scale := float32(math.Sqrt(spare+max(union, 0)) / (math.Sqrt(nn) + 1e-12))
		for r := r2; r < r2+s; r++ {
			clear(plane[r*w+c2 : r*w+c2+s])
		}
		for r := range s {
			for col := range s {
				plane[(r1+r)*w+c1+col] = win[r*s+col] * scale
			}
		}
	}
	q.toSphere(c, c, i)
}

// toSphere writes into dst (which may be d) the point x + ε·d/‖d‖ of
// sample i, projected onto the ε-ball ∩ [0,1].
func (q *Square) toSphere(dst, d []float32, i int) {
	e := &q.e
	x0 := e.row(e.x0, i)
	a := float32(float64(e.s.eps) / (norm2(d) + 1e-12))
	axpyTo(dst, x0, a, d)
	projL2(dst, x0, e.s.eps)
}

// windowSq returns the squared norm of the r×c window at (r0, c0) of a
// plane w pixels wide (0 for an empty window).
func windowSq(plane []float32, w, r0, c0, rows, cols int) float64 {
	var s float64
	for r := r0; r < r0+rows; r++ {
		for _, v := range plane[r*w+c0 : r*w+c0+max(cols, 0)] {
			s += float64(v) * float64(v)
		}
	}
	return s
}

func sq(v float64) float64 { return v * v }

// coin draws a fair random bit.
func (q *Square) coin() bool { return q.e.rng.Uint64()&1 == 1 }

// pick returns b if up, else a.
func pick(up bool, a, b float32) float32 {
	if up {
		return b
	}
	return a
}

// etaAt returns element (r, c) of the s×s bump, transposed if tr.
func (q *Square) etaAt(r, c int, tr bool) float32 {
	if tr {
		r, c = c, r
	}
	return q.eta[r*q.etaS+c]
}

// setEta makes eta the pseudo-Gaussian bump of side s of Andriushchenko
// et al.: the top ⌊s/2⌋ rows are a block M of nested rectangles, the rest
// −M of their own size, each block normalized to unit L2 norm and then
// the whole. In an a×b block with centre (⌊a/2⌋, ⌊b/2⌋), pixel (r, c) at
// Chebyshev distance k from the centre holds Σ_{n=k}^{R} 1/(n+1)², R =
// max(⌊a/2⌋, ⌊b/2⌋): the sum of the weights 1/(n+1)² of the centred
// squares of radius n that contain it.
func (q *Square) setEta(s int) {
	if q.etaS == s && len(q.eta) == s*s {
		return
	}
	q.eta = grow(q.eta, s*s)
	q.etaS = s
	block := func(rows []float32, a int, sign float64) {
		if a == 0 {
			return
		}
		cr, cc := a/2, s/2
		big := max(cr, cc)
		var nn float64
		for r := range a {
			for c := range s {
				k := max(abs(r-cr), abs(c-cc))
				var v float64
				for n := k; n <= big; n++ {
					v += 1 / float64((n+1)*(n+1))
				}
				rows[r*s+c] = float32(v)
				nn += v * v
			}
		}
		f := sign / math.Sqrt(nn)
		for j := range rows[:a*s] {
			rows[j] = float32(float64(rows[j]) * f)
		}
	}
	top := s / 2
	block(q.eta[:top*s], top, 1)
	block(q.eta[top*s:], s-top, -1)
	f := float32(1 / norm2(q.eta))
	for j := range q.eta {
		q.eta[j] *= f
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
