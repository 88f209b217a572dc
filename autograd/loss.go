package autograd

import (
	"fmt"
	"math"

	"github.com/bulwark-ml/bulwark/tensor"
)

// Sum returns the sum of all elements of x, as shape [1].
func (tp *Tape) Sum(x *Var) *Var { return tp.total(x, false) }

// Mean returns the mean of all elements of x, as shape [1].
func (tp *Tape) Mean(x *Var) *Var { return tp.total(x, true) }

// total is the shared forward of Sum and Mean; node.flag marks a mean.
func (tp *Tape) total(x *Var, mean bool) *Var {
	out := tp.arena.GetUninit(1)
	if mean {
		out.Data()[0] = tensor.MeanAll(x.Value)
	} else {
		out.Data()[0] = tensor.SumAll(x.Value)
	}
	v, nd := tp.output(out, backTotal, x, nil, nil)
	if nd != nil {
		nd.flag = mean
	}
	return v
}

// backTotal gives every element dy (or dy/len for a mean).
func backTotal(tp *Tape, n *node) {
	x := n.in[0]
	g := n.out.Grad.Data()[0]
	if n.flag {
		g /= float32(x.Value.Len())
	}
	tp.gradElem(x, elemFill, nil, nil, g, 0)
}

// lossOut returns an arena tensor for a per-sample loss over n samples
// reduced by r: [n] for ReduceNone, else [1]. It panics on an unknown r.
func (tp *Tape) lossOut(op string, r Reduction, n int) *tensor.Tensor {
	switch r {
	case ReduceNone:
		return tp.arena.GetUninit(n)
	case ReduceMean, ReduceSum:
		return tp.arena.GetUninit(1)
	}
	panic(fmt.Sprintf("autograd.%s: unknown reduction %d", op, r))
}

// reduceLoss stores per-sample losses in out by r. The sum is in float64.
func reduceLoss(out *tensor.Tensor, r Reduction, losses []float64) {
	if r == ReduceNone {
		for i, l := range losses {
			out.Data()[i] = float32(l)
		}
		return
	}
	var s float64
	for _, l := range losses {
		s += l
	}
	if r == ReduceMean {
		s /= float64(len(losses))
	}
	out.Data()[0] = float32(s)
}

// sampleGrad returns the gradient reaching sample i's loss from dy, the
// gradient of the reduced loss over n samples.
func sampleGrad(dy []float32, r Reduction, i, n int) float64 {
	switch r {
	case ReduceNone:
		return float64(dy[i])
	case ReduceMean:
		return float64(dy[0]) / float64(n)
	}
	return float64(dy[0])
}

// logitsShape checks that z is [N, C] with C ≥ 1 and returns N and C.
func logitsShape(op string, z *tensor.Tensor) (n, c int) {
	s := z.Shape()
	if len(s) != 2 || s[1] < 1 {
		panic(fmt.Sprintf("autograd.%s: logits %v: want [N, C] with C ≥ 1", op, s))
	}
	return s[0], s[1]
}

// logSoftmaxRow writes log softmax(z) to dst (in float64 arithmetic) and
// returns log Σ exp(z), the log-partition.
func logSoftmaxRow(dst, z []float32) float64 {
	lse := tensor.LogSumExpRow(z)
	for i, v := range z {
		dst[i] = float32(float64(v) - lse)
	}
	return lse
}

// lossScratch returns reusable scratch for n per-sample losses.
func (tp *Tape) lossScratch(n int) []float64 { return tp.f64.get(n) }

// CrossEntropy returns the cross-entropy of logits [N, C] against the
// class labels (len N), fusing log-softmax and the negative log
// likelihood. With LabelSmoothing ε the target is (1−ε)·onehot + ε/C, as in
// PyTorch. The result is [N] for ReduceNone, else [1]. Labels out of
// range panic.
func (tp *Tape) CrossEntropy(logits *Var, labels []int, o CEOptions) *Var {
	const op = "CrossEntropy"
	n, c := logitsShape(op, logits.Value)
	if len(labels) != n {
		panic(fmt.Sprintf("autograd.%s: %d labels for logits %v", op, len(labels), logits.Value.Shape()))
	}
	eps := float64(o.LabelSmoothing)
	if !(eps >= 0 && eps <= 1) {
		panic(fmt.Sprintf("autograd.%s: label smoothing %v outside [0, 1]", op, o.LabelSmoothing))
	}
	out := tp.lossOut(op, o.Reduction, n)
	logp := tp.arena.GetUninit(n, c)
	z, lp := logits.Value.Data(), logp.Data()
	losses := tp.lossScratch(n)
	for i, y := range labels {
		if y < 0 || y >= c {
			panic(fmt.Sprintf("autograd.%s: label %d of sample %d out of range [0, %d)", op, y, i, c))
		}
		row := lp[i*c : (i+1)*c]
		logSoftmaxRow(row, z[i*c:(i+1)*c])
		var all float64
		for _, v := range row {
			all += float64(v)
		}
		losses[i] = -((1-eps)*float64(row[y]) + eps/float64(c)*all)
	}
	reduceLoss(out, o.Reduction, losses)
	v, nd := tp.output(out, backCrossEntropy, logits, nil, nil)
	if nd != nil {
		nd.saved[0] = logp
		nd.ints = append(tp.ints.get(n)[:0], labels...)
		nd.k, nd.f[0] = int(o.Reduction), o.LabelSmoothing
	}
	return v
}

// backCrossEntropy: ∂z_ic = g_i·(softmax(z_i)_c − target_ic).
func backCrossEntropy(tp *Tape, n *node) {
	x := n.in[0]
	nb, c := logitsShape("CrossEntropy", x.Value)
	buf := tp.gradBuf(x)
	dx, lp, dy := buf.Data(), n.saved[0].Data(), n.out.Grad.Data()
	eps := float64(n.f[0])
	for i, y := range n.ints {
		g := sampleGrad(dy, Reduction(n.k), i, nb)
		for j := i * c; j < (i+1)*c; j++ {
			dx[j] = float32(g * (math.Exp(float64(lp[j])) - eps/float64(c)))
		}
		dx[i*c+y] -= float32(g * (1 - eps))
	}
	tp.commit(x, buf)
}

// KLDiv returns KL(softmax(p) ‖ softmax(q)) per sample, Σ_c P_c·(log P_c −
// log Q_c), from logits p and q [N, C], reduced by r (ReduceMean is
// PyTorch's "batchmean": the sum over the batch divided by N, as TRADES
// uses). Gradients flow to whichever of p and q require them.
func (tp *Tape) KLDiv(p, q *Var, r Reduction) *Var {
	const op = "KLDiv"
	n, c := logitsShape(op, p.Value)
	if !tensor.SameShape(p.Value, q.Value) {
		panic(fmt.Sprintf("autograd.%s: shapes %v and %v differ", op, p.Value.Shape(), q.Value.Shape()))
	}
	out := tp.lossOut(op, r, n)
	lps, lqs := tp.arena.GetUninit(n, c), tp.arena.GetUninit(n, c)
	lp, lq := lps.Data(), lqs.Data()
	losses := tp.lossScratch(n)
	for i := range n {
		s := i * c
		logSoftmaxRow(lp[s:s+c], p.Value.Data()[s:s+c])
		logSoftmaxRow(lq[s:s+c], q.Value.Data()[s:s+c])
		losses[i] = klRow(lp[s:s+c], lq[s:s+c])
	}
	reduceLoss(out, r, losses)
	v, nd := tp.output(out, backKLDiv, p, q, nil)
	if nd != nil {
		nd.saved = [2]*tensor.Tensor{lps, lqs}
		nd.k = int(r)
	}
	return v
}

// klRow returns Σ_c P_c·(log P_c − log Q_c) from log-probabilities.
func klRow(lp, lq []float32) float64 {
	var kl float64
	for j, a := range lp {
		kl += math.Exp(float64(a)) * (float64(a) - float64(lq[j]))
	}
	return kl
}

// backKLDiv: ∂p_j = g·P_j·(log P_j − log Q_j − KL) and ∂q_j = g·(Q_j − P_j).
func backKLDiv(tp *Tape, n *node) {
	p, q := n.in[0], n.in[1]
	nb, c := logitsShape("KLDiv", p.Value)
	lp, lq, dy := n.saved[0].Data(), n.saved[1].Data(), n.out.Grad.Data()
	var dp, dq *tensor.Tensor
	if needs(p) {
		dp = tp.gradBuf(p)
	}
	if needs(q) {
		dq = tp.gradBuf(q)
	}
	for i := range nb {
		g := sampleGrad(dy, Reduction(n.k), i, nb)
		s := i * c
		kl := klRow(lp[s:s+c], lq[s:s+c])
		for j := s; j < s+c; j++ {
			pj := math.Exp(float64(lp[j]))
			if dp != nil {
				dp.Data()[j] = float32(g * pj * (float64(lp[j]) - float64(lq[j]) - kl))
			}
			if dq != nil {
				dq.Data()[j] = float32(g * (math.Exp(float64(lq[j])) - pj))
			}
		}
	}
	if dp != nil {
		tp.commit(p, dp)
	}
	if dq != nil {
		tp.commit(q, dq)
	}
}
