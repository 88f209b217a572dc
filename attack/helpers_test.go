package attack

import (
	"math"
	"sync"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/optim"
	"github.com/bulwark-ml/bulwark/tensor"
)

// The test task: 1×8×8 images of noise U(0, 0.4) with one 4×4 quadrant
// brightened by 0.5; the class (of 4) is the quadrant.
const (
	side    = 8
	classes = 4
)

// quadrants makes n samples of the test task.
func quadrants(rng *tensor.RNG, n int) (*tensor.Tensor, []int) {
	x := tensor.New(n, 1, side, side)
	rng.Uniform(x, 0, 0.4)
	y := make([]int, n)
	d := x.Data()
	for i := range n {
		c := rng.Intn(classes)
		y[i] = c
		r0, c0 := (c/2)*side/2, (c%2)*side/2
		for r := r0; r < r0+side/2; r++ {
			for k := c0; k < c0+side/2; k++ {
				d[i*side*side+r*side+k] += 0.5
			}
		}
	}
	return x, y
}

// tinyNet is a small CNN with BatchNorm for the test task.
func tinyNet(seed uint64) nn.Module {
	rng := tensor.NewRNG(seed)
	pad := tensor.ConvParams{PadH: 1, PadW: 1}
	return nn.NewSequential().
		Append("conv1", nn.NewConv2d(rng, 1, 8, 3, pad, true)).
		Append("bn1", nn.NewBatchNorm2d(8)).
		Append("relu1", &nn.ReLU{}).
		Append("pool", nn.NewMaxPool(2)).
		Append("conv2", nn.NewConv2d(rng, 8, 16, 3, pad, true)).
		Append("relu2", &nn.ReLU{}).
		Append("gap", &nn.GlobalAvgPool{}).
		Append("fc", nn.NewLinear(rng, 16, classes, true))
}

// fixture is the trained model and a held-out test set, shared by the
// tests.
type fixture struct {
	model nn.Module
	x     *tensor.Tensor
	y     []int
	ds    data.Dataset
	acc   float64 // clean test accuracy
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
)

// trained returns the shared fixture, training the model on first use
// (about a second: 300 SGD steps of batch 64).
func trained(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() { fixErr = train() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return &fix
}

func train() error {
	rng := tensor.NewRNG(1)
	m := tinyNet(2)
	opt, err := optim.NewSGD(m.Params(), optim.SGDConfig{LR: 0.05, Momentum: 0.9})
	if err != nil {
		return err
	}
	tp := autograd.NewTape()
	xv := autograd.Leaf(nil, false)
	m.SetTrain(true)
	for range 300 {
		x, y := quadrants(rng, 64)
		tp.Reset()
		opt.ZeroGrad()
		xv.Value = x
		loss := tp.CrossEntropy(m.Forward(tp, xv), y, autograd.CEOptions{})
		tp.Backward(loss)
		opt.Step()
	}
	tp.Reset()
	m.SetTrain(false)
	fix.model = m
	fix.x, fix.y = quadrants(rng, 256)
	if fix.ds, err = data.FromTensor(fix.x, fix.y, classes); err != nil {
		return err
	}
	res, err := Evaluate(m, fix.ds, EvalOptions{BatchSize: 128})
	fix.acc = res.CleanAcc()
	return err
}

// checkBall fails t unless every element of adv lies in [0,1] and every
// sample within eps of x in norm (with a relative slack of 1e-6).
func checkBall(t *testing.T, name string, norm Norm, eps float32, x, adv *tensor.Tensor) {
	t.Helper()
	if !tensor.SameShape(x, adv) {
		t.Fatalf("%s: adversarial batch %v for input %v", name, adv.Shape(), x.Shape())
	}
	n := x.Dim(0)
	chw := x.Len() / n
	lim := float64(eps) * (1 + 1e-6)
	for i := range n {
		xs, as := x.Data()[i*chw:(i+1)*chw], adv.Data()[i*chw:(i+1)*chw]
		var worst float64
		for j, v := range as {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%s: sample %d element %d = %v outside [0,1]", name, i, j, v)
			}
			d := math.Abs(float64(v) - float64(xs[j]))
			if norm == LInf {
				worst = max(worst, d)
			} else {
				worst += d * d
			}
		}
		if norm == L2 {
			worst = math.Sqrt(worst)
		}
		if worst > lim {
			t.Fatalf("%s: sample %d moved %.9g in %v, more than ε = %v", name, i, worst, norm, eps)
		}
	}
}
