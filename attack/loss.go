package attack

import (
	"fmt"
	"math"
	"strings"

	"github.com/bulwark-ml/bulwark/tensor"
)

// Loss is the per-sample loss an attack maximizes, computed from the
// logits z and the label y.
type Loss int

const (
	// CE is the cross-entropy, logsumexp(z) − z_y.
	CE Loss = iota
	// CW is the Carlini–Wagner margin max_{i≠y} z_i − z_y, with the true
	// class masked by −∞ (not by 0, which would be wrong for negative
	// logits).
	CW
	// DLR is the difference of logits ratio of Croce & Hein (2020),
	// −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e−12), where π sorts the
	// logits in descending order; it needs at least 3 classes. It is
	// invariant to shifting and scaling the logits.
	DLR
)

// String returns "CE", "CW" or "DLR".
func (l Loss) String() string {
	switch l {
	case CE:
		return "CE"
	case CW:
		return "CW"
	case DLR:
		return "DLR"
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

// ParseLoss parses "ce", "cw" and "dlr", ignoring case.
func ParseLoss(s string) (Loss, error) {
	for _, l := range []Loss{CE, CW, DLR} {
		if strings.EqualFold(s, l.String()) {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown loss %q, want ce, cw or dlr", s)
}

// dlrDen is the constant that keeps DLR's denominator positive.
const dlrDen = 1e-12

// fits reports whether l can be computed with this many classes.
func (l Loss) fits(classes int, targeted bool) error {
	switch {
	case classes < 2:
		return fmt.Errorf("%v loss needs at least 2 classes, the model has %d", l, classes)
	case l == DLR && targeted && classes < 4:
		return fmt.Errorf("targeted DLR loss needs at least 4 classes, the model has %d", classes)
	case l == DLR && classes < 3:
		return fmt.Errorf("DLR loss needs at least 3 classes, the model has %d", classes)
	}
	return nil
}

// Eval returns the loss of the logits z for label y and, if grad is not
// nil, writes ∂loss/∂z into it (len(z) values). Arithmetic is in float64.
func (l Loss) Eval(z []float32, y int, grad []float32) float64 {
	if grad != nil {
		grad = grad[:len(z)]
		clear(grad)
	}
	switch l {
	case CE:
		return ceLoss(z, y, grad)
	case CW:
		return cwLoss(z, y, grad)
	case DLR:
		return dlrLoss(z, y, grad)
	}
	panic(fmt.Sprintf("attack: Loss.Eval: unknown loss %d", int(l)))
}

// objective is what a targeted (t ≥ 0) or untargeted (t < 0) attack
// maximizes, with its gradient written into grad. A targeted attack
// maximizes −CE(z, t) or −CW(z, t) = z_t − max_{i≠t} z_i; with DLR it
// maximizes the targeted DLR of Croce & Hein,
// −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e−12).
func objective(l Loss, z []float32, y, t int, grad []float32) float64 {
	if t < 0 {
		return l.Eval(z, y, grad)
	}
	if l == DLR {
		clear(grad[:len(z)])
		return dlrTargeted(z, y, t, grad)
	}
	v := l.Eval(z, t, grad)
	for j := range grad[:len(z)] {
		grad[j] = -grad[j]
	}
	return -v
}

// ceLoss is the cross-entropy; grad = softmax(z) − onehot(y).
func ceLoss(z []float32, y int, grad []float32) float64 {
	m, s := tensor.SumExpRow(z)
	if grad != nil {
		for j, v := range z {
			grad[j] = float32(math.Exp(float64(v)-m) / s)
		}
		grad[y]--
	}
	return m + math.Log(s) - float64(z[y])
}

// cwLoss is the margin max_{i≠y} z_i − z_y.
func cwLoss(z []float32, y int, grad []float32) float64 {
	j := maxOther(z, y)
	if grad != nil {
		grad[j]++
		grad[y]--
	}
	return float64(z[j]) - float64(z[y])
}

// maxOther returns the index of the largest logit other than y's: the
// argmax with z_y masked by −∞.
func maxOther(z []float32, y int) int {
	best, bv := -1, float32(math.Inf(-1))
	for i, v := range z {
		if i != y && (best < 0 || v > bv) {
			best, bv = i, v
		}
	}
	return best
}

// top4 returns the indices of the four largest logits in descending order
// (the first index on ties), -1 where there are fewer.
func top4(z []float32) (p [4]int) {
	p = [4]int{-1, -1, -1, -1}
	for i, v := range z {
		k := 4
		for k > 0 && (p[k-1] < 0 || v > z[p[k-1]]) {
			k--
		}
		if k < 4 {
			copy(p[k+1:], p[k:3])
			p[k] = i
		}
	}
	return p
}

// dlrLoss is −(z_y − z_j)/(z_π1 − z_π3 + 1e−12) with j = argmax_{i≠y} z_i.
// With N = z_y − z_j and D the denominator, ∂/∂z_y = −1/D, ∂/∂z_j = 1/D,
// ∂/∂z_π1 = N/D², ∂/∂z_π3 = −N/D².
func dlrLoss(z []float32, y int, grad []float32) float64 {
	j := maxOther(z, y)
	p := top4(z)
	num := float64(z[y]) - float64(z[j])
	den := float64(z[p[0]]) - float64(z[p[2]]) + dlrDen
	if grad != nil {
		grad[y] -= float32(1 / den)
		grad[j] += float32(1 / den)
		q := num / (den * den)
		grad[p[0]] += float32(q)
		grad[p[2]] -= float32(q)
	}
	return -num / den
}

// dlrTargeted is −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2 + 1e−12).
func dlrTargeted(z []float32, y, t int, grad []float32) float64 {
	p := top4(z)
	num := float64(z[y]) - float64(z[t])
	den := float64(z[p[0]]) - (float64(z[p[2]])+float64(z[p[3]]))/2 + dlrDen
	if grad != nil {
		grad[y] -= float32(1 / den)
		grad[t] += float32(1 / den)
		q := num / (den * den)
		grad[p[0]] += float32(q)
		grad[p[2]] -= float32(q / 2)
		grad[p[3]] -= float32(q / 2)
	}
	return -num / den
}
