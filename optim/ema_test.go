package optim

import (
	"math"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/internal/testutil/tensortest"
	"github.com/bulwark-ml/bulwark/tensor"
)

func TestEMA(t *testing.T) {
	w := autograd.Leaf(tensortest.FromSlice(t, []float32{1, 2}, 2), true)
	mean := tensortest.FromSlice(t, []float32{10}, 1)
	e, err := NewEMA([]Param{{Name: "w", Var: w}}, []Buffer{{Name: "bn.running_mean", T: mean}}, EMAConfig{Decay: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// shadow starts at the values; each update: s = 0.5·s + 0.5·x.
	w.Value.Data()[0], w.Value.Data()[1], mean.Data()[0] = 3, 2, 20
	e.Update() // s = (2, 2), 15
	w.Value.Data()[0], mean.Data()[0] = 5, 30
	e.Update() // s = (3.5, 2), 22.5
	st := e.State()
	if got := st["w"].Data(); got[0] != 3.5 || got[1] != 2 {
		t.Errorf("shadow w = %v, want [3.5 2]", got)
	}
	if got := st["bn.running_mean"].Data()[0]; got != 22.5 {
		t.Errorf("shadow running mean = %g, want 22.5", got)
	}
	e.Apply()
	if w.Value.Data()[0] != 3.5 || mean.Data()[0] != 22.5 {
		t.Errorf("after Apply: w %v, mean %v", w.Value.Data(), mean.Data())
	}
	e.Restore()
	if w.Value.Data()[0] != 5 || mean.Data()[0] != 30 {
		t.Errorf("after Restore: w %v, mean %v", w.Value.Data(), mean.Data())
	}
	if e.Updates() != 2 {
		t.Errorf("Updates = %d", e.Updates())
	}
}

func TestEMAWarmupAndCopyBuffers(t *testing.T) {
	w := autograd.Leaf(tensortest.FromSlice(t, []float32{0}, 1), true)
	v := tensortest.FromSlice(t, []float32{0}, 1)
	e, err := NewEMA([]Param{{Name: "w", Var: w}}, []Buffer{{Name: "bn.running_var", T: v}}, EMAConfig{Decay: 0.999, Warmup: true, CopyBuffers: true})
	if err != nil {
		t.Fatal(err)
	}
	// decay_t = min(0.999, (1+t)/(10+t)): 0.1, 2/11, 0.25, ...
	shadow := 0.0
	for k, want := range []float64{0.1, 2.0 / 11, 0.25} {
		if d := float64(e.Decay()); math.Abs(d-want) > 1e-7 {
			t.Errorf("update %d: decay %g, want %g", k, d, want)
		}
		x := float64(k + 1)
		w.Value.Data()[0], v.Data()[0] = float32(x), float32(x)
		e.Update()
		shadow = want*shadow + (1-want)*x
		st := e.State()
		if got := float64(st["w"].Data()[0]); math.Abs(got-shadow) > 1e-6 {
			t.Errorf("update %d: shadow %g, want %g", k, got, shadow)
		}
		if got := st["bn.running_var"].Data()[0]; got != float32(x) {
			t.Errorf("update %d: copied buffer %g, want %g", k, got, x)
		}
	}
	for range 10000 {
		e.Update()
	}
	if d := e.Decay(); d != 0.999 {
		t.Errorf("decay after warm-up %g, want 0.999", d)
	}
}

func TestEMALoadState(t *testing.T) {
	w := autograd.Leaf(tensortest.FromSlice(t, []float32{1, 2}, 2), true)
	e, err := NewEMA([]Param{{Name: "w", Var: w}}, nil, EMAConfig{Decay: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.LoadState(map[string]*tensor.Tensor{"w": tensortest.FromSlice(t, []float32{7, 8}, 2)}, 5); err != nil {
		t.Fatal(err)
	}
	if e.Updates() != 5 || e.State()["w"].Data()[0] != 7 {
		t.Errorf("LoadState: updates %d, shadow %v", e.Updates(), e.State()["w"].Data())
	}
	for name, m := range map[string]map[string]*tensor.Tensor{
		"missing": {},
		"shape":   {"w": tensor.New(1, 2)},
		"extra":   {"w": tensor.New(2), "v": tensor.New(2)},
	} {
		t.Run(name, func(t *testing.T) {
			if err := e.LoadState(m, 1); err == nil {
				t.Errorf("LoadState accepted %s state", name)
			}
		})
	}
	if e.State()["w"].Data()[0] != 7 {
		t.Error("a failed LoadState changed the shadow")
	}
	if _, err := NewEMA([]Param{{Name: "w", Var: w}}, []Buffer{{Name: "w", T: tensor.New(1)}}, EMAConfig{Decay: 0.9}); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("duplicate name: err = %v", err)
	}
	if _, err := NewEMA(nil, nil, EMAConfig{Decay: 1.5}); err == nil {
		t.Error("decay 1.5 accepted")
	}
}

func TestEMAMisuse(t *testing.T) {
	w := autograd.Leaf(tensor.New(2), true)
	e, err := NewEMA([]Param{{Name: "w", Var: w}}, nil, EMAConfig{Decay: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckPanic(t, e.Restore, "optim.EMA.Restore: called without Apply")
	e.Apply()
	testutil.CheckPanic(t, e.Apply, "optim.EMA.Apply: already applied")
	testutil.CheckPanic(t, e.Update, "optim.EMA.Update: called between Apply and Restore")
}
