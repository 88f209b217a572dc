package tensor

import (
	"fmt"
	"testing"
)

// BenchmarkMatMul measures a 256³ product into a provided output for each
// transpose combination, reporting GFLOP/s (2·m·n·k per product).
func BenchmarkMatMul(b *testing.B) {
	const n = 256
	g := NewRNG(1)
	x, y, out := Randn(g, n, n), Randn(g, n, n), New(n, n)
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		b.Run(fmt.Sprintf("%d³/transA=%v,transB=%v", n, tr[0], tr[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MatMul(out, x, y, tr[0], tr[1])
			}
			b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkBatchedMatMul measures a batch of small products, the shape of
// attention-like or per-sample work, which is spread over threads by batch.
func BenchmarkBatchedMatMul(b *testing.B) {
	const batch, m, n, k = 256, 32, 32, 32
	g := NewRNG(2)
	x, y, out := Randn(g, batch, m, k), Randn(g, batch, k, n), New(batch, m, n)
	b.ReportAllocs()
	for b.Loop() {
		BatchedMatMul(out, x, y, false, false)
	}
	b.ReportMetric(2*batch*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
