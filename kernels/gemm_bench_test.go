package kernels_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/bulwark-ml/bulwark/bench"
	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/kernels"
)

// gemmBenchName is the sub-benchmark name of shape s: the square sizes as
// square-64 ..., the conv-as-GEMM shapes as resnet20-stem ....
func gemmBenchName(s bench.Shape) string {
	if s.Name == "square" {
		return fmt.Sprintf("square-%d", s.M)
	}
	return strings.ReplaceAll(s.Name, " ", "-")
}

// BenchmarkSgemm runs bulwark's Sgemm (every implementation, 1 and 2
// threads) and gonum's Sgemm (the implementation behind blas32, at
// GOMAXPROCS 1 and 2) on the same operands, reporting GFLOP/s. The shapes
// and operands are those of `bulwark bench` (package bench): the square
// sizes and the conv-as-GEMM products of ResNet-20's forward pass.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range append(append([]bench.Shape{}, bench.SquareShapes...), bench.ConvShapes...) {
		a, bm, c := s.Operands()
		report := func(b *testing.B) {
			b.ReportMetric(s.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(gemmBenchName(s), func(b *testing.B) {
			testutil.ForEachImpl(b, kernels.Implementations(), kernels.Use, func(b *testing.B) {
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("threads-%d", threads), func(b *testing.B) {
						defer kernels.SetThreads(kernels.SetThreads(threads))
						kernels.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, bm, s.N, 0, c, s.N) // warm the buffers
						b.ReportAllocs()
						for b.Loop() {
							kernels.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, bm, s.N, 0, c, s.N)
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
						impl.Sgemm(blas.NoTrans, blas.NoTrans, s.M, s.N, s.K, 1, a, s.K, bm, s.N, 0, c, s.N)
					}
					report(b)
				})
			}
		})
	}
}
