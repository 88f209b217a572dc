package attack

import (
	"fmt"
	"math"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestSquareSchedule: p halves after iterations 10, 50, 200, 500, 1000,
// 2000, 4000, 6000 and 8000 of 10,000 queries, at proportional
// iterations for other budgets unless the schedule is fixed; windows
// cover about p of the image.
func TestSquareSchedule(t *testing.T) {
	q := &Square{Queries: 10000}
	for _, c := range []struct {
		it int
		p  float64
	}{{0, 0.8}, {10, 0.8}, {11, 0.4}, {50, 0.4}, {51, 0.2}, {200, 0.2}, {201, 0.1}, {1000, 0.05}, {1001, 0.025},
		{4001, 0.8 / 128}, {6001, 0.8 / 256}, {8000, 0.8 / 256}, {8001, 0.8 / 512}, {9999, 0.8 / 512}} {
		t.Run(fmt.Sprint(c.it), func(t *testing.T) {
			if got := q.pAt(c.it); got != c.p {
				t.Errorf("10000 queries, iteration %d: p = %v, want %v", c.it, got, c.p)
			}
		})
	}
	q = &Square{Queries: 5000} // rescaled: the halvings come twice as early
	if q.pAt(5) != 0.8 || q.pAt(6) != 0.4 || q.pAt(25) != 0.4 || q.pAt(26) != 0.2 || q.pAt(4001) != 0.8/512 {
		t.Errorf("5000 queries, rescaled: p(5, 6, 25, 26, 4001) = %v %v %v %v %v", q.pAt(5), q.pAt(6), q.pAt(25), q.pAt(26), q.pAt(4001))
	}
	q.FixedSchedule = true // AutoAttack's: the 10,000-query iterations
	if q.pAt(10) != 0.8 || q.pAt(11) != 0.4 || q.pAt(4001) != 0.8/128 || q.pAt(4999) != 0.8/128 {
		t.Errorf("5000 queries, fixed: p(10, 11, 4001, 4999) = %v %v %v %v", q.pAt(10), q.pAt(11), q.pAt(4001), q.pAt(4999))
	}
	// 32×32 images: sqrt(0.8·1024) = 28.6 → 29 (odd already); a tiny p
	// gives 1 in L∞ and 3 in L2; even sides become odd in L2.
	if s := q.side(0.8, 32, 32); s != 29 {
		t.Errorf("side(0.8, 32×32) = %d, want 29", s)
	}
	if s := q.side(0.001, 32, 32); s != 1 {
		t.Errorf("L∞ side(0.001) = %d, want 1", s)
	}
	q.Norm = L2
	if s := q.side(0.001, 32, 32); s != 3 {
		t.Errorf("L2 side(0.001) = %d, want 3", s)
	}
	if s := q.side(0.1, 32, 32); s != 11 { // sqrt(102.4) = 10.1 → 10 → 11
		t.Errorf("L2 side(0.1) = %d, want 11", s)
	}
	if s := q.side(0.8, 8, 8); s != 7 {
		t.Errorf("L2 side(0.8, 8×8) = %d, want 7", s)
	}
}

// TestSquareEta: the pseudo-Gaussian bump has unit norm, is positive in
// its top half and negative in its bottom half, peaks at the centres of
// the halves, and is symmetric left to right.
func TestSquareEta(t *testing.T) {
	var q Square
	for _, s := range []int{1, 3, 4, 7, 10} {
		q.setEta(s)
		var nn float64
		for r := range s {
			for c := range s {
				v := q.eta[r*s+c]
				nn += float64(v) * float64(v)
				if (r < s/2 && v <= 0) || (r >= s/2 && v >= 0) {
					t.Fatalf("side %d: η[%d][%d] = %v has the wrong sign", s, r, c, v)
				}
				if m := q.eta[r*s+(s-1-c)]; s%2 == 1 && m != v {
					t.Fatalf("side %d: η[%d][%d] = %v but its mirror %v", s, r, c, v, m)
				}
			}
		}
		if math.Abs(nn-1) > 1e-5 {
			t.Errorf("side %d: ‖η‖² = %v, want 1", s, nn)
		}
		if s >= 3 {
			top, bottom := s/2, s-s/2
			centre := func(r0, rows int) float32 { return q.eta[(r0+rows/2)*s+s/2] }
			for r := range s {
				for c := range s {
					v := float32(math.Abs(float64(q.eta[r*s+c])))
					if (r < top && v > centre(0, top)) || (r >= top && v > -centre(top, bottom)) {
						t.Fatalf("side %d: |η[%d][%d]| = %v above its half's centre", s, r, c, v)
					}
				}
			}
		}
	}
}

// thresholdNet has masked gradients: it thresholds every pixel at 0.5, a
// step whose gradient is 0 almost everywhere, and classifies 8×8 images
// as 1 when more than 32 pixels are above the threshold: z = (0, Σ [x_j >
// 0.5] − 32.5).
type thresholdNet struct {
	fc    *nn.Linear
	train bool
}

func newThresholdNet() *thresholdNet {
	fc := nn.NewLinear(tensor.NewRNG(1), 64, 2, true)
	w := fc.Weight.Value.Data()
	for j := range w {
		w[j] = float32(j / 64) // row 0 zeros, row 1 ones
	}
	fc.Bias.Value.Data()[0], fc.Bias.Value.Data()[1] = 0, -32.5
	return &thresholdNet{fc: fc}
}

func (s *thresholdNet) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	h := tp.Arena().GetUninit(x.Value.Shape()...)
	for j, v := range x.Value.Data() {
		h.Data()[j] = 0
		if v > 0.5 {
			h.Data()[j] = 1
		}
	}
	// 0·x + step(x): the step's value with a zero gradient.
	v := tp.Add(tp.MulScalar(x, 0), autograd.Leaf(h, false))
	return s.fc.Forward(tp, tp.Flatten(v))
}
func (s *thresholdNet) Params() []nn.Param        { return s.fc.Params() }
func (s *thresholdNet) Buffers() []nn.NamedTensor { return nil }
func (s *thresholdNet) SetTrain(train bool)       { s.train = train }
func (s *thresholdNet) Training() bool            { return s.train }

// thresholdData makes n class-0 images: sample i has i mod 8 pixels at
// 0.7, the rest 0.03 to 0.07 below the threshold. At ε = 0.1 (L∞) each of
// those can cross it, but the gradient is 0, and a random start lifts
// each across with probability about 1/4, far from the 26 or more of 64
// needed.
func thresholdData(n int) (*tensor.Tensor, []int) {
	x := tensor.New(n, 1, 8, 8)
	tensor.NewRNG(5).Uniform(x, 0.43, 0.47)
	for i := range n {
		for j := range i % 8 {
			x.Data()[i*64+9*j] = 0.7
		}
	}
	return x, make([]int, n)
}

// TestSquareBeatsMaskedGradients: on a model whose gradient is 0, PGD and
// APGD find nothing, while Square, which needs only the model's outputs,
// breaks (nearly) every sample.
func TestSquareBeatsMaskedGradients(t *testing.T) {
	m := newThresholdNet()
	x, y := thresholdData(32)
	ds, err := data.FromTensor(x, y, 2)
	if err != nil {
		t.Fatal(err)
	}
	attacks := []Attack{
		&PGD{Eps: 0.1, Steps: 20, Seed: 1},
		&APGD{Eps: 0.1, Steps: 50, Loss: CE, Seed: 1},
		&Square{Eps: 0.1, Queries: 300, Seed: 1},
	}
	res, err := Evaluate(m, ds, EvalOptions{}, attacks...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%v", res)
	if res.Clean != 32 || res.Robust[0] != 32 || res.Robust[1] != 32 {
		t.Errorf("clean %d, PGD %d, APGD %d of 32 correct; want all three 32 (the gradient is 0)", res.Clean, res.Robust[0], res.Robust[1])
	}
	if res.Robust[2] > 2 {
		t.Errorf("Square leaves %d of 32 correct, want (nearly) none", res.Robust[2])
	}
}
