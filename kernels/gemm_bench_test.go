package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/bulwark-ml/bulwark/internal/testutil"
)

// GemmShape is one benchmarked product: C (M×N) = A (M×K) · B (K×N).
type gemmShape struct {
	name    string
	m, n, k int
}

// gemmBenchShapes are the square sizes and the conv-as-GEMM shapes of
// ResNet-20's forward pass on a batch of 128 3×32×32 images
// (M = output channels, K = input channels·9, N = 128·H·W).
var gemmBenchShapes = []gemmShape{
	{"square-64", 64, 64, 64},
	{"square-256", 256, 256, 256},
	{"square-1024", 1024, 1024, 1024},
	{"square-2048", 2048, 2048, 2048},
	{"resnet20-stem", 16, 128 * 32 * 32, 27},
	{"resnet20-stage1", 16, 128 * 32 * 32, 144},
	{"resnet20-stage2-down", 32, 128 * 16 * 16, 144},
	{"resnet20-stage2", 32, 128 * 16 * 16, 288},
	{"resnet20-stage3-down", 64, 128 * 8 * 8, 288},
	{"resnet20-stage3", 64, 128 * 8 * 8, 576},
}

// BenchmarkSgemm runs bulwark's Sgemm (every implementation, 1 and 2
// threads) and gonum's Sgemm (the implementation behind blas32, at
// GOMAXPROCS 1 and 2) on the same operands, reporting GFLOP/s.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range gemmBenchShapes {
		rng := rand.New(rand.NewPCG(1, 2))
		a, bm, c := randMatrix(rng, s.m, s.k), randMatrix(rng, s.k, s.n), make([]float32, s.m*s.n)
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		report := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(s.name, func(b *testing.B) {
			testutil.ForEachImpl(b, Implementations(), Use, func(b *testing.B) {
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("threads-%d", threads), func(b *testing.B) {
						defer SetThreads(SetThreads(threads))
						Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n) // warm the buffers
						b.ReportAllocs()
						for b.Loop() {
							Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
						}
						report(b)
					})
				}
			})
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("gonum/threads-%d", threads), func(b *testing.B) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
					var impl gonum.Implementation
					b.ReportAllocs()
					for b.Loop() {
						impl.Sgemm(blas.NoTrans, blas.NoTrans, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
					}
					report(b)
				})
			}
		})
	}
}
