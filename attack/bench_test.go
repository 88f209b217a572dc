package attack

import (
	"fmt"
	"testing"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestAllocsPerStep: once warmed up, a step of PGD, APGD (with EOT),
// APGD-T, FAB-T or Square (a query) allocates nothing.
// The allocations of a Perturb call with k steps are a + b·k; b, the
// per-step figure, is measured from two step counts.
func TestAllocsPerStep(t *testing.T) {
	f := trained(t)
	for _, c := range []struct {
		name string
		mk   func(steps int) Attack
		n    int // samples; 0 means all 256
	}{
		{"PGD Linf", func(k int) Attack { return &PGD{Eps: 0.1, Steps: k} }, 0},
		{"PGD L2 restarts early-stop", func(k int) Attack { return &PGD{Norm: L2, Eps: 0.5, Steps: k, Restarts: 2, EarlyStop: true} }, 0},
		{"APGD-DLR", func(k int) Attack { return &APGD{Eps: 0.1, Steps: k, Loss: DLR} }, 0},
		{"APGD-CE EOT", func(k int) Attack { return &APGD{Norm: L2, Eps: 0.5, Steps: k, EOT: 3} }, 64},
		// At these radii no sample is broken, so every call makes the same
		// target runs on the same batch (each run allocates a little, for
		// its sub-batch), and Square's candidate batch keeps its size (it
		// is rebuilt, with one allocation, only when half of it is
		// broken). Square's steps are queries.
		{"APGD-T", func(k int) Attack { return &APGDT{Eps: 0.01, Steps: k} }, 64},
		{"FAB-T Linf", func(k int) Attack { return &FAB{Eps: 0.01, Steps: k} }, 64},
		{"FAB-T L2 restarts", func(k int) Attack { return &FAB{Norm: L2, Eps: 0.05, Steps: k, Restarts: 2} }, 64},
		{"Square Linf", func(k int) Attack { return &Square{Eps: 0.01, Queries: k} }, 64},
		{"Square L2", func(k int) Attack { return &Square{Norm: L2, Eps: 0.05, Queries: k} }, 64},
	} {
		t.Run(c.name, func(t *testing.T) {
			x, y := f.x, f.y
			if c.n > 0 {
				x, y = head(f, c.n)
			}
			per := func(k int) float64 {
				a := c.mk(k)
				if _, err := a.Perturb(f.model, x, y); err != nil {
					t.Fatal(err)
				}
				return testing.AllocsPerRun(3, func() {
					if _, err := a.Perturb(f.model, x, y); err != nil {
						t.Fatal(err)
					}
				})
			}
			a4, a12 := per(4), per(12)
			step := (a12 - a4) / 8
			t.Logf("%s: %.0f allocations per call of 4 steps, %.0f of 12: %.2f per step", c.name, a4, a12, step)
			if step > 0 && !raceEnabled {
				t.Errorf("%s: %.2f allocations per step, want 0", c.name, step)
			}
		})
	}
}

// BenchmarkPGD10 is PGD-10 (L∞, ε = 8/255, α = 2/255, random start) at
// batch 128 on random-weight models in eval mode, reporting img/s, on 1 and
// 2 threads. Run it with -benchtime 1x to check it, or a few iterations to
// measure:
//
//	go test -run '^$' -bench PGD10 -benchtime 3x ./attack/
func BenchmarkPGD10(b *testing.B) {
	for _, c := range []struct {
		arch    string
		c, side int
	}{{"resnet20", 3, 32}, {"resnet8", 1, 28}, {"smallcnn", 1, 28}} {
		m, err := nn.New(c.arch, nn.Config{InChannels: c.c, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		m.SetTrain(false)
		const n = 128
		rng := tensor.NewRNG(2)
		x := tensor.Rand(rng, n, c.c, c.side, c.side)
		y := make([]int, n)
		for i := range y {
			y[i] = rng.Intn(10)
		}
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s-%dx%dx%d/threads=%d", c.arch, c.c, c.side, c.side, threads), func(b *testing.B) {
				defer kernels.SetThreads(kernels.SetThreads(threads))
				pgd := &PGD{Eps: 8.0 / 255, Alpha: 2.0 / 255, Steps: 10}
				if _, err := pgd.Perturb(m, x, y); err != nil { // warm up
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := pgd.Perturb(m, x, y); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
			})
		}
	}
}
