package prune

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/tensor"
)

// benchSearch times Search of n queries against m references in dim
// dimensions and reports the GEMM part's rate (2·n·m·dim flops a search).
func benchSearch(b *testing.B, n, m, dim int, tune func(s *searcher)) {
	g := tensor.NewRNG(3)
	refs, queries := randMatrix(g, m, dim, 1, 0), randMatrix(g, n, dim, 1, 0)
	s, err := newSearcher("references", refs, nil, dim, KNNOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if tune != nil {
		tune(s)
	}
	qn, err := s.queryNorms("queries", queries, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.search(queries, nil, qn)
	}
	b.ReportMetric(2*float64(n)*float64(m)*float64(dim)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkKNN searches 20,000 queries against 10,000 references in 64
// dimensions for k = 12 at 1 and 2 threads.
func BenchmarkKNN(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads-%d", threads), func(b *testing.B) {
			defer kernels.SetThreads(kernels.SetThreads(threads))
			benchSearch(b, 20000, 10000, 64, nil)
		})
	}
}

// BenchmarkKNNTile times tile shapes around the default, on one thread.
func BenchmarkKNNTile(b *testing.B) {
	for _, rows := range []int{64, 128, 256} {
		for _, cols := range []int{512, 1024, 10000} {
			b.Run(fmt.Sprintf("rows-%d/cols-%d", rows, cols), func(b *testing.B) {
				defer kernels.SetThreads(kernels.SetThreads(1))
				benchSearch(b, 20000, 10000, 64, func(s *searcher) { s.rows, s.cols = rows, cols })
			})
		}
	}
}

// BenchmarkKNNFull is the target size: 1,000,000 queries against 100,000
// references in 64 dimensions, which must take at most 10 minutes on two
// cores and 2 GB. It runs only with BULWARK_KNN_FULL=1, and reports the
// wall time and the peak Go heap.
func BenchmarkKNNFull(b *testing.B) {
	if os.Getenv("BULWARK_KNN_FULL") != "1" {
		b.Skip("set BULWARK_KNN_FULL=1 to run the 1M × 100k search")
	}
	const n, m, dim = 1_000_000, 100_000, 64
	g := tensor.NewRNG(4)
	emb := randMatrix(g, n+m, dim, 1, 0)
	seeds := make([]int, m)
	scores := make([]float32, m)
	for j := range seeds {
		seeds[j] = j * (n + m) / m
		scores[j] = float32(j)
	}
	for b.Loop() {
		start := time.Now()
		if _, err := Extrapolate(emb, dim, seeds, scores, KNNOptions{}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/op-wall")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "MiB-heap-sys")
	b.ReportMetric(2*float64(n)*float64(m)*float64(dim)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
