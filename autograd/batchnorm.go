package autograd

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Defaults of BatchNormState's zero fields, as in PyTorch.
const (
	defaultBNMomentum = 0.1
	defaultBNEps      = 1e-5
)

// bnBlock is how many elements of a plane the BatchNorm backward handles
// at once in a stack buffer.
const bnBlock = 512

// BatchNorm2d normalizes x [N, C, H, W] per channel and applies the affine
// map gamma·x̂ + beta (gamma, beta [C]; nil means affine=false). In train
// mode it normalizes with the batch mean and biased variance and, if st is
// not nil, updates st's running statistics with the unbiased variance, as
// PyTorch does; in eval mode it uses st's running statistics. A zero
// Momentum or Eps in st means the default (0.1, 1e-5).
func (tp *Tape) BatchNorm2d(x, gamma, beta *Var, st *BatchNormState, train bool) *Var {
	return tp.batchNorm2d("BatchNorm2d", x, gamma, beta, st, train, false)
}

// BatchNorm2dReLU is Relu(BatchNorm2d(...)) as one op: each plane is
// rectified while it is in cache, the normalized values are never stored
// apart, and the backward pass masks the gradient as it reads it. Values
// and gradients are the same bits as the two ops'.
func (tp *Tape) BatchNorm2dReLU(x, gamma, beta *Var, st *BatchNormState, train bool) *Var {
	return tp.batchNorm2d("BatchNorm2dReLU", x, gamma, beta, st, train, true)
}

// batchNorm2d is BatchNorm2d, rectified if relu.
func (tp *Tape) batchNorm2d(op string, x, gamma, beta *Var, st *BatchNormState, train, relu bool) *Var {
	xs := x.Value.Shape()
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd.%s: input %v: want a rank-4 NCHW shape", op, xs))
	}
	n, c, hw := xs[0], xs[1], xs[2]*xs[3]
	for _, p := range [...]struct {
		name string
		v    *Var
	}{{"gamma", gamma}, {"beta", beta}} {
		if p.v != nil {
			if s := p.v.Value.Shape(); len(s) != 1 || s[0] != c {
				panic(fmt.Sprintf("autograd.%s: input %v and %s %v: want %s [%d]", op, xs, p.name, s, p.name, c))
			}
		}
	}
	if st != nil {
		for _, t := range [2]*tensor.Tensor{st.RunningMean, st.RunningVar} {
			if t == nil || t.Len() != c {
				panic(fmt.Sprintf("autograd.%s: input %v: running statistics must have %d elements", op, xs, c))
			}
		}
	} else if !train {
		panic(fmt.Sprintf("autograd.%s: input %v: eval mode needs a BatchNormState", op, xs))
	}
	if train && n*hw < 2 {
		panic(fmt.Sprintf("autograd.%s: input %v: train mode needs more than one value per channel", op, xs))
	}
	eps, mom := float32(defaultBNEps), float32(defaultBNMomentum)
	if st != nil && st.Eps > 0 {
		eps = st.Eps
	}
	if st != nil && st.Momentum > 0 {
		mom = st.Momentum
	}

	out := tp.arena.GetUninit(xs...)
	stats := tp.arena.GetUninit(3, c) // rows: mean, 1/std, biased variance
	sd := stats.Data()
	mean, invstd, bvar := sd[:c], sd[c:2*c], sd[2*c:]
	if !train {
		copy(mean, st.RunningMean.Data())
		for i, v := range st.RunningVar.Data() {
			invstd[i] = float32(1 / math.Sqrt(float64(v)+float64(eps)))
		}
	}
	j := &tp.bn
	*j = bnJob{phase: bnForward, train: train, relu: relu, eps: eps, n: n, c: c, hw: hw,
		x: x.Value.Data(), y: out.Data(), mean: mean, invstd: invstd, bvar: bvar,
		gamma: dataOf(gamma), beta: dataOf(beta)}
	tp.runBN()

	if train && st != nil {
		unbias := float32(float64(n*hw) / float64(n*hw-1))
		rm, rv := st.RunningMean.Data(), st.RunningVar.Data()
		for i := range c {
			rm[i] = (1-mom)*rm[i] + mom*mean[i]
			rv[i] = (1-mom)*rv[i] + mom*bvar[i]*unbias
		}
	}
	v, nd := tp.output(out, backBatchNorm2d, x, gamma, beta)
	if nd != nil {
		nd.saved[0], nd.flag = stats, train
		if relu {
			nd.k = 1
		}
	}
	return v
}

// dataOf returns v's data, or nil for an absent v.
func dataOf(v *Var) []float32 {
	if v == nil {
		return nil
	}
	return v.Value.Data()
}

// backBatchNorm2d, with x̂ = (x − μ)/σ, k = γ/σ and M = N·H·W:
// ∂β = Σ dy, ∂γ = Σ dy·x̂, and ∂x = k·(dy − ∂β/M − x̂·∂γ/M) in train mode
// (μ, σ from the batch) or k·dy in eval mode (running μ, σ).
func backBatchNorm2d(tp *Tape, n *node) {
	x, gamma, beta := n.in[0], n.in[1], n.in[2]
	xs := x.Value.Shape()
	c := xs[1]
	sd := n.saved[0].Data()
	j := &tp.bn
	*j = bnJob{phase: bnBackward, train: n.flag, n: xs[0], c: c, hw: xs[2] * xs[3],
		x: x.Value.Data(), y: n.out.Grad.Data(), mean: sd[:c], invstd: sd[c : 2*c], gamma: dataOf(gamma)}
	if n.k == 1 { // BatchNorm2dReLU: dy is masked in place (it is spent after this op)
		j.relu, j.out = true, n.out.Value.Data()
	}
	var dg, db *tensor.Tensor
	if needs(x) {
		j.dxAcc = !fresh(x)
		j.dx = tp.freshGrad(x).Data()
	}
	if needs(gamma) {
		dg = tp.gradBuf(gamma)
		j.dgamma = dg.Data()
	}
	if needs(beta) {
		db = tp.gradBuf(beta)
		j.dbeta = db.Data()
	}
	tp.runBN()
	if dg != nil {
		tp.commit(gamma, dg)
	}
	if db != nil {
		tp.commit(beta, db)
	}
}

// bnPhase selects what a bnJob computes.
type bnPhase uint8

const (
	bnForward  bnPhase = iota // y from x (and, in train mode, the batch stats)
	bnBackward                // dx (written or added), dgamma, dbeta from dy
)

// bnJob runs BatchNorm2d's forward or backward for ranges of channels;
// every channel is one sequential pass, so results do not depend on the
// thread count. The tape keeps one, so running it allocates nothing.
type bnJob struct {
	phase        bnPhase
	train        bool
	relu         bool      // rectify y (forward); mask dy by out first (backward)
	out          []float32 // the rectified output (backward with relu)
	eps          float32
	n, c, hw     int
	x, y         []float32 // input; output (forward) or its gradient (backward)
	mean, invstd []float32 // per channel: written in train forward, read otherwise
	bvar         []float32 // per channel biased batch variance (train forward)
	gamma, beta  []float32 // nil: 1 and 0
	dx           []float32 // nil if not wanted
	dxAcc        bool      // add to dx rather than overwrite it
	dgamma       []float32 // nil if not wanted; overwritten
	dbeta        []float32
	per          int
	scratch      []float32 // bnBlock floats per part
}

// bnGrain is the least number of elements worth a thread of their own.
const bnGrain = 1 << 14

// runBN runs the tape's bnJob over all channels, in parallel if large enough.
func (tp *Tape) runBN() {
	j := &tp.bn
	defer func() { *j = bnJob{} }() // drop references to the tensors
	if j.c == 0 {
		return
	}
	total := j.n * j.c * j.hw
	parts := max(1, min(kernels.Threads(), j.c, total/bnGrain))
	j.per = (j.c + parts - 1) / parts
	parts = (j.c + j.per - 1) / j.per
	j.scratch = tp.partScratch(parts, bnBlock)
	if parts <= 1 {
		j.RunPart(0)
	} else {
		kernels.Run(j, parts)
	}
}

// RunPart processes channels [i·per, (i+1)·per).
func (j *bnJob) RunPart(i int) {
	buf := j.scratch[i*bnBlock : (i+1)*bnBlock]
	for ch := i * j.per; ch < min((i+1)*j.per, j.c); ch++ {
		if j.phase == bnForward {
			j.forward(ch)
		} else {
			j.backward(ch, buf)
		}
	}
}

// plane returns the [lo, hi) offsets of channel ch's plane in image i.
func (j *bnJob) plane(i, ch int) (lo, hi int) {
	lo = (i*j.c + ch) * j.hw
	return lo, lo + j.hw
}

// affine returns channel ch's gamma and beta (1 and 0 when absent).
func (j *bnJob) affine(ch int) (g, b float32) {
	g, b = 1, 0
	if j.gamma != nil {
		g = j.gamma[ch]
	}
	if j.beta != nil {
		b = j.beta[ch]
	}
	return g, b
}

// forward normalizes channel ch. In train mode it first computes the
// batch mean (SIMD sums) and variance (centering into y, then SIMD dot
// products: two passes, stable for large means).
func (j *bnJob) forward(ch int) {
	if j.train {
		var s float64
		for i := range j.n {
			lo, hi := j.plane(i, ch)
			s += float64(kernels.Sum(j.x[lo:hi]))
		}
		m := float32(s / float64(j.n*j.hw))
		var ss float64
		for i := range j.n {
			lo, hi := j.plane(i, ch)
			y := j.y[lo:hi]
			kernels.ScaleShift(y, j.x[lo:hi], 1, -m)
			ss += float64(kernels.Dot(y, y))
		}
		v := ss / float64(j.n*j.hw)
		j.mean[ch], j.bvar[ch] = m, float32(v)
		j.invstd[ch] = float32(1 / math.Sqrt(v+float64(j.eps)))
	}
	g, b := j.affine(ch)
	scale := g * j.invstd[ch]
	for i := range j.n {
		lo, hi := j.plane(i, ch)
		if j.train { // y holds x − mean
			kernels.ScaleShift(j.y[lo:hi], j.y[lo:hi], scale, b)
		} else {
			kernels.ScaleShift(j.y[lo:hi], j.x[lo:hi], scale, b-j.mean[ch]*scale)
		}
		if j.relu {
			kernels.Relu(j.y[lo:hi], j.y[lo:hi])
		}
	}
}

// backward computes channel ch's parameter gradients and, if wanted, dx,
// a block of a plane at a time through buf (bnBlock floats); with relu it
// first masks each block of dy in place, on the pass that reads it first.
func (j *bnJob) backward(ch int, buf []float32) {
	m, is := j.mean[ch], j.invstd[ch]
	var sdy, sdyx float64 // Σ dy, Σ dy·x̂
	mask := j.relu        // dy still to be masked by the rectified output
	if j.train || j.dgamma != nil || j.dbeta != nil {
		for i := range j.n {
			lo, hi := j.plane(i, ch)
			for s := lo; s < hi; s += bnBlock {
				e := min(s+bnBlock, hi)
				t, dy := buf[:e-s], j.y[s:e]
				if mask {
					kernels.ReluBackward(dy, dy, j.out[s:e])
				}
				kernels.ScaleShift(t, j.x[s:e], is, -m*is)
				sdy += float64(kernels.Sum(dy))
				sdyx += float64(kernels.Dot(dy, t))
			}
		}
		mask = false
	}
	if j.dgamma != nil {
		j.dgamma[ch] = float32(sdyx)
	}
	if j.dbeta != nil {
		j.dbeta[ch] = float32(sdy)
	}
	if j.dx == nil {
		return
	}
	g, _ := j.affine(ch)
	k := g * is
	// Train: dx = a·x + b + k·dy with a = −k·σ⁻¹·mean(dy·x̂) and
	// b = −k·mean(dy) − a·μ.
	cnt := float64(j.n * j.hw)
	a := float32(-float64(k) * float64(is) * sdyx / cnt)
	b := float32(-float64(k)*sdy/cnt) - a*m
	for i := range j.n {
		lo, hi := j.plane(i, ch)
		for s := lo; s < hi; s += bnBlock {
			e := min(s+bnBlock, hi)
			if mask {
				kernels.ReluBackward(j.y[s:e], j.y[s:e], j.out[s:e])
			}
			t := j.dx[s:e]
			if j.dxAcc {
				t = buf[:e-s]
			}
			if j.train {
				kernels.ScaleShift(t, j.x[s:e], a, b)
				kernels.Axpy(k, j.y[s:e], t)
			} else {
				kernels.ScaleShift(t, j.y[s:e], k, 0)
			}
			if j.dxAcc {
				kernels.Axpy(1, t, j.dx[s:e])
			}
		}
	}
}
