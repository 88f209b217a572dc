package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/bulwark-ml/bulwark/kernels"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Shape is one matrix product C (M×N) = A (M×K) · B (K×N).
type Shape struct {
	Name    string
	M, N, K int
}

// Flops is the number of floating-point operations of the product.
func (s Shape) Flops() float64 { return 2 * float64(s.M) * float64(s.N) * float64(s.K) }

// Operands returns the operands every measurement of s uses: A (M×K) and
// B (K×N) drawn from a normal distribution with a seed fixed by the
// shape, so that each run times the same numbers, and C (M×N) zeroed.
func (s Shape) Operands() (a, b, c []float32) {
	rng := rand.New(rand.NewPCG(1, uint64(s.M*s.N*s.K)))
	return randSlice(rng, s.M*s.K), randSlice(rng, s.K*s.N), make([]float32, s.M*s.N)
}

// SquareShapes are the square products of the suite.
var SquareShapes = []Shape{
	{"square", 64, 64, 64},
	{"square", 256, 256, 256},
	{"square", 1024, 1024, 1024},
	{"square", 2048, 2048, 2048},
}

// ConvShapes are the conv-as-GEMM products of ResNet-20's forward pass on a
// batch of 128 3×32×32 images: M output channels, K = input channels·3·3,
// N = 128·H·W output positions.
var ConvShapes = []Shape{
	{"resnet20 stem", 16, 128 * 32 * 32, 27},
	{"resnet20 stage1", 16, 128 * 32 * 32, 144},
	{"resnet20 stage2 down", 32, 128 * 16 * 16, 144},
	{"resnet20 stage2", 32, 128 * 16 * 16, 288},
	{"resnet20 stage3 down", 64, 128 * 8 * 8, 288},
	{"resnet20 stage3", 64, 128 * 8 * 8, 576},
}

// Result is one row of the Sgemm table.
type Result struct {
	Shape   Shape
	Impl    string  // kernel implementation
	Threads int     // threads used by both bulwark and gonum
	GFLOPS  float64 // bulwark's Sgemm
	Gonum   float64 // gonum's Sgemm on the same operands; 0 if skipped
}

// Options configure RunSgemm.
type Options struct {
	Threads  []int         // thread counts to measure
	MinTime  time.Duration // minimum measured time per figure
	Reps     int           // best of this many timed runs
	Gonum    bool          // also run gonum
	MaxGonum float64       // skip gonum above this many flops (it is slow)
}

// RunSgemm measures the active implementation on each shape and thread
// count, and gonum beside it. Each figure is the best of opts.Reps runs, each
// repeating the product for at least opts.MinTime.
func RunSgemm(shapes []Shape, opts Options) []Result {
	var out []Result
	for _, s := range shapes {
		a, b, c := s.Operands()
		for _, t := range opts.Threads {
			r := Result{Shape: s, Impl: kernels.Implementation(), Threads: t}
			prev := kernels.SetThreads(t)
			r.GFLOPS = s.Flops() / timeIt(opts, func() {
				kernels.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, c, s.N)
			}) / 1e9
			kernels.SetThreads(prev)
			if opts.Gonum && (opts.MaxGonum == 0 || s.Flops() <= opts.MaxGonum) {
				procs := runtime.GOMAXPROCS(t)
				var impl gonum.Implementation
				r.Gonum = s.Flops() / timeIt(opts, func() {
					impl.Sgemm(blas.NoTrans, blas.NoTrans, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, c, s.N)
				}) / 1e9
				runtime.GOMAXPROCS(procs)
			}
			out = append(out, r)
		}
	}
	return out
}

// timeIt returns the best seconds per call of f.
func timeIt(opts Options, f func()) float64 {
	f() // warm up caches and buffers
	best := 0.0
	for range max(opts.Reps, 1) {
		n := 0
		t0 := time.Now()
		for n == 0 || time.Since(t0) < opts.MinTime {
			f()
			n++
		}
		if per := time.Since(t0).Seconds() / float64(n); best == 0 || per < best {
			best = per
		}
	}
	return best
}

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// WriteTable prints results as an aligned table: kernel, shape, threads,
// GFLOP/s, the ratio to gonum and the percent of the FMA peak for that
// thread count (peak maps threads to GFLOP/s; missing entries print "-").
func WriteTable(w io.Writer, results []Result, peak map[int]float64) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kernel\tshape (M×N×K)\tthreads\tGFLOP/s\tgonum GFLOP/s\t× gonum\t% FMA peak\t")
	for _, r := range results {
		gonumCol, ratio, pct := "-", "-", "-"
		if r.Gonum > 0 {
			gonumCol = fmt.Sprintf("%.1f", r.Gonum)
			ratio = fmt.Sprintf("%.1f×", r.GFLOPS/r.Gonum)
		}
		if p := peak[r.Threads]; p > 0 {
			pct = fmt.Sprintf("%.0f%%", 100*r.GFLOPS/p)
		}
		fmt.Fprintf(tw, "sgemm/%s\t%s %d×%d×%d\t%d\t%.1f\t%s\t%s\t%s\t\n",
			r.Impl, r.Shape.Name, r.Shape.M, r.Shape.N, r.Shape.K, r.Threads, r.GFLOPS, gonumCol, ratio, pct)
	}
	return tw.Flush()
}
