// Package bench holds bulwark's benchmark suites and the machine-peak
// probe behind `bulwark bench`: Sgemm on square and ResNet-20 conv shapes,
// side by side with gonum's pure-Go BLAS, as GFLOP/s and as a fraction of
// this machine's measured FMA peak.
package bench

import (
	"math"
	"runtime"
	"sync"
	"time"
)

// fmaProbe is a register-only FMA loop in assembly for this architecture.
type fmaProbe struct {
	name         string
	flopsPerIter float64
	loop         func(n int)
}

// probe is set by the per-architecture files when the CPU has FMA; its
// loop is nil otherwise (purego builds, other architectures).
var probe fmaProbe

// Peak measures the float32 FMA peak in GFLOP/s on the given number of
// threads by running the probe loop on each, pinned to OS threads, for
// about d, best of three. It returns 0 and "" when no probe exists here.
func Peak(threads int, d time.Duration) (gflops float64, what string) {
	// maxProbe bounds the probe's iterations: 2^34, or what a 32-bit int
	// holds.
	const maxProbe = min(1<<34, math.MaxInt/4)
	if probe.loop == nil {
		return 0, ""
	}
	// Calibrate the iteration count to about d/3 per repetition.
	n := 1 << 16
	for {
		t0 := time.Now()
		probe.loop(n)
		if el := time.Since(t0); el > d/30 || n > maxProbe/4 {
			n = int(min(float64(maxProbe), float64(n)*float64(d/3)/float64(max(el, time.Microsecond))))
			break
		}
		n *= 4
	}
	best := 0.0
	for range 3 {
		var wg sync.WaitGroup
		t0 := time.Now()
		for range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				probe.loop(n)
			}()
		}
		wg.Wait()
		g := float64(threads) * float64(n) * probe.flopsPerIter / time.Since(t0).Seconds() / 1e9
		best = max(best, g)
	}
	return best, probe.name
}
