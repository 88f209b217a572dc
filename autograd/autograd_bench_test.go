package autograd

import (
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// benchCNN is a small CIFAR-sized CNN: three conv→bn→relu stages (16, 32
// and 32 channels, the second with stride 2), global average pooling and
// a linear classifier.
type benchCNN struct {
	w          [3]*Var
	g, b       [3]*Var
	st         [3]*BatchNormState
	wl, bl     *Var
	convParams [3]tensor.ConvParams
}

func newBenchCNN(rng *tensor.RNG, requiresGrad bool) *benchCNN {
	m := &benchCNN{}
	chans := [4]int{3, 16, 32, 32}
	for i := range 3 {
		m.w[i] = Leaf(randT(rng, -0.2, 0.2, chans[i+1], chans[i], 3, 3), requiresGrad)
		m.g[i] = Leaf(tensor.New(chans[i+1]).Fill(1), requiresGrad)
		m.b[i] = Leaf(tensor.New(chans[i+1]), requiresGrad)
		m.st[i] = &BatchNormState{RunningMean: tensor.New(chans[i+1]), RunningVar: tensor.New(chans[i+1]).Fill(1)}
		m.convParams[i] = tensor.ConvParams{PadH: 1, PadW: 1}
	}
	m.convParams[1].StrideH, m.convParams[1].StrideW = 2, 2
	m.wl = Leaf(randT(rng, -0.2, 0.2, 10, 32), requiresGrad)
	m.bl = Leaf(tensor.New(10), requiresGrad)
	return m
}

func (m *benchCNN) params() []*Var {
	ps := []*Var{m.wl, m.bl}
	for i := range 3 {
		ps = append(ps, m.w[i], m.g[i], m.b[i])
	}
	return ps
}

func (m *benchCNN) loss(tp *Tape, x *Var, labels []int) *Var {
	h := x
	for i := range 3 {
		h = tp.Relu(tp.BatchNorm2d(tp.Conv2d(h, m.w[i], nil, m.convParams[i]), m.g[i], m.b[i], m.st[i], true))
	}
	return tp.CrossEntropy(tp.Linear(tp.GlobalAvgPool2d(h), m.wl, m.bl), labels, CEOptions{})
}

// BenchmarkStep measures forward+backward of benchCNN at batch 64 on
// 32×32 images: "train" wants parameter gradients, "attack" only the
// input's (as PGD does).
func BenchmarkStep(b *testing.B) {
	const n = 64
	for _, mode := range []string{"train", "attack"} {
		b.Run(mode, func(b *testing.B) {
			rng := tensor.NewRNG(1)
			m := newBenchCNN(rng, mode == "train")
			x := Leaf(randT(rng, 0, 1, n, 3, 32, 32), mode == "attack")
			labels := make([]int, n)
			for i := range labels {
				labels[i] = i % 10
			}
			ps := append(m.params(), x)
			tp := NewTape()
			step := func() {
				tp.Reset()
				tp.Backward(m.loss(tp, x, labels))
				for _, p := range ps {
					p.ZeroGrad()
				}
			}
			step()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}
