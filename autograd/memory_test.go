package autograd

import (
	"math"
	"testing"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// smallNet is conv→bn→relu→maxpool→flatten→linear, the graph of the
// memory tests and the benchmark.
type smallNet struct {
	w, b, g, beta, wl, bl *Var
	st                    *BatchNormState
}

func newSmallNet(rng *tensor.RNG, cin, c, hw, classes int, requiresGrad bool) *smallNet {
	p := func(lo, hi float32, shape ...int) *Var { return Leaf(randT(rng, lo, hi, shape...), requiresGrad) }
	return &smallNet{
		w: p(-0.3, 0.3, c, cin, 3, 3), b: p(-0.1, 0.1, c),
		g: p(0.5, 1.5, c), beta: p(-0.5, 0.5, c),
		wl: p(-0.1, 0.1, classes, c*hw*hw/4), bl: p(-0.1, 0.1, classes),
		st: &BatchNormState{RunningMean: tensor.New(c), RunningVar: tensor.New(c).Fill(1)},
	}
}

func (m *smallNet) params() []*Var { return []*Var{m.w, m.b, m.g, m.beta, m.wl, m.bl} }

// step runs one training step's forward and backward on tp and returns
// the loss.
func (m *smallNet) step(tp *Tape, x *Var, labels []int) float32 {
	tp.Reset()
	h := tp.Conv2d(x, m.w, m.b, tensor.ConvParams{PadH: 1, PadW: 1})
	h = tp.Relu(tp.BatchNorm2d(h, m.g, m.beta, m.st, true))
	h = tp.Flatten(tp.MaxPool2d(h, tensor.PoolParams{KernelH: 2, KernelW: 2}))
	loss := tp.CrossEntropy(tp.Linear(h, m.wl, m.bl), labels, CEOptions{LabelSmoothing: 0.1})
	tp.Backward(loss)
	for _, p := range m.params() {
		p.ZeroGrad()
	}
	x.ZeroGrad()
	return loss.Value.Data()[0]
}

// TestStepMemory runs 20 training steps and checks that the arena stops
// growing after the first and that a warmed step allocates nothing (we
// allow one allocation of slack), both for training (parameters require
// grad) and for an attack (only the input does).
func TestStepMemory(t *testing.T) {
	rng := tensor.NewRNG(30)
	const n, hw = 8, 8
	for _, attack := range []bool{false, true} {
		m := newSmallNet(rng, 3, 6, hw, 5, !attack)
		x := Leaf(randT(rng, 0, 1, n, 3, hw, hw), attack)
		labels := []int{0, 1, 2, 3, 4, 0, 1, 2}
		tp := NewTape()
		m.step(tp, x, labels)
		cap1 := tp.Arena().Cap()
		for i := 1; i < 20; i++ {
			m.step(tp, x, labels)
			if c := tp.Arena().Cap(); c != cap1 {
				t.Fatalf("attack=%v: step %d: arena holds %d floats, %d after the first step", attack, i+1, c, cap1)
			}
		}
		allocs := testing.AllocsPerRun(10, func() { m.step(tp, x, labels) })
		t.Logf("attack=%v: arena %d floats; %.0f allocations per warmed step (%d ops)", attack, cap1, allocs, tp.Len())
		if allocs > 1 && !raceEnabled {
			t.Errorf("attack=%v: %.0f allocations per warmed step, want at most 1", attack, allocs)
		}
	}
}

// TestThreadCounts runs the benchmark CNN with one thread and with
// several, which takes the parallel paths of BatchNorm2d and the
// elementwise kernels (also under -race), and checks that the loss and
// gradients agree.
func TestThreadCounts(t *testing.T) {
	run := func(threads int) (float32, [][]float32) {
		defer kernels.SetThreads(kernels.SetThreads(threads))
		rng := tensor.NewRNG(40)
		m := newBenchCNN(rng, true)
		x := Leaf(randT(rng, 0, 1, 8, 3, 32, 32), true)
		tp := NewTape()
		loss := m.loss(tp, x, []int{0, 1, 2, 3, 4, 5, 6, 7})
		tp.Backward(loss)
		var grads [][]float32
		for _, p := range append(m.params(), x) {
			grads = append(grads, p.Grad.Data())
		}
		return loss.Value.Data()[0], grads
	}
	l1, g1 := run(1)
	l4, g4 := run(4)
	if math.Abs(float64(l1-l4)) > 1e-5 {
		t.Errorf("loss %v with 1 thread, %v with 4", l1, l4)
	}
	for i := range g1 {
		var diff, norm float64
		for k, v := range g1[i] {
			d := float64(v - g4[i][k])
			diff += d * d
			norm += float64(v) * float64(v)
		}
		if math.Sqrt(diff) > 1e-4*math.Sqrt(norm) {
			t.Errorf("gradient %d differs between 1 and 4 threads: ‖Δ‖ = %g, ‖g‖ = %g", i, math.Sqrt(diff), math.Sqrt(norm))
		}
	}
}

// TestBackwardReleasesGradients checks that a backward pass through a
// deep chain holds only the gradients alive at once: its arena grows by a
// few gradient buffers over the forward pass, not by one per op. Views,
// passed-through gradients (AddScalar, Add) and scratch (Mul by a
// broadcast) are all in the chain, and the input's gradient is checked
// against the chain's closed form.
func TestBackwardReleasesGradients(t *testing.T) {
	const depth, n = 40, 1024
	tp := NewTape()
	x := Leaf(tensor.New(n).Fill(0.5), true)
	half := Leaf(tensor.New(1).Fill(0.5), false)
	h := x
	for i := range depth {
		switch i % 4 {
		case 0:
			h = tp.MulScalar(h, 2)
		case 1:
			h = tp.Reshape(tp.AddScalar(h, 1), 32, 32)
		case 2:
			h = tp.Flatten(tp.Add(h, tp.Relu(h)))
		case 3:
			h = tp.Mul(h, half)
		}
	}
	loss := tp.Sum(h)
	forward := tp.Arena().Cap()
	tp.Backward(loss)
	// Per 4 ops, d/dx is 2·2·0.5 = 2 (every value stays positive).
	want := float32(math.Pow(2, depth/4))
	if g := x.Grad.Data(); g[0] != want || g[n-1] != want {
		t.Fatalf("∂loss/∂x = %v, want %v", g[0], want)
	}
	if grew := tp.Arena().Cap() - forward; grew > 4*n {
		t.Errorf("backward grew the arena by %d floats (%.1f gradients of %d), want at most 4 held at once", grew, float64(grew)/n, n)
	}
}
