package prune

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/bulwark-ml/bulwark/kernels"
)

// PCA is a fitted principal-component projection: the model-free
// embedding (raw pixels, reduced) that kNN extrapolation can be compared
// against.
type PCA struct {
	Dim, K int
	// Mean is the mean of the fitted rows, subtracted before projecting.
	Mean []float32
	// Components holds the K principal axes as unit rows, K×Dim
	// row-major, by decreasing variance. Each is signed so that its
	// largest-magnitude entry (the first, among equals) is positive, which
	// makes the fit deterministic.
	Components []float32
	// Variance[j] is the sample variance (divided by n−1) of the fitted
	// rows along component j: the covariance matrix's eigenvalue.
	Variance []float64
}

// pcaBlock is how many centred rows FitPCA converts to float64 at a time.
const pcaBlock = 256

// FitPCA fits the top k principal components of the n rows of x (n×dim,
// row-major). It needs n ≥ 2, 1 ≤ k ≤ min(n, dim) and finite x.
//
// The dim×dim covariance is accumulated in float64 from blocks of
// centred rows (a symmetric rank-k update per block) and decomposed by
// gonum's EigenSym: O(n·dim² + dim³) time and 2·dim² float64s of memory.
// The eigenvectors dominate and run on one core: about 6 s at dim = 768
// and 75 s at 1536 on a 2-core test machine, so some 10 minutes and
// 150 MB at 3072 (CIFAR's 32·32·3).
func FitPCA(x []float32, n, dim, k int) (*PCA, error) {
	if n < 2 || dim < 1 {
		return nil, fmt.Errorf("pca: %d rows of dimension %d, need at least 2 rows and dimension 1", n, dim)
	}
	if len(x) != n*dim {
		return nil, fmt.Errorf("pca: x has %d values, want n·dim = %d·%d = %d", len(x), n, dim, n*dim)
	}
	if k < 1 || k > min(n, dim) {
		return nil, fmt.Errorf("pca: %d components of %d rows of dimension %d, want 1 ≤ k ≤ %d", k, n, dim, min(n, dim))
	}
	if j := firstNonFinite(x); j >= 0 {
		return nil, fmt.Errorf("pca: row %d, entry %d is %v", j/dim, j%dim, x[j])
	}
	mean := make([]float64, dim)
	for r := range n {
		for j, v := range x[r*dim : (r+1)*dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	// Upper triangle of Σ (x−μ)ᵀ(x−μ), in blocks of rows.
	cov := make([]float64, dim*dim)
	buf := make([]float64, min(n, pcaBlock)*dim)
	impl := blas64.Implementation()
	for r0 := 0; r0 < n; r0 += pcaBlock {
		rows := min(pcaBlock, n-r0)
		for i, v := range x[r0*dim : (r0+rows)*dim] {
			buf[i] = float64(v) - mean[i%dim]
		}
		impl.Dsyrk(blas.Upper, blas.Trans, dim, rows, 1/float64(n-1), buf, dim, 1, cov, dim)
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(dim, cov), true) {
		return nil, fmt.Errorf("pca: the eigendecomposition of the %d×%d covariance did not converge", dim, dim)
	}
	values := eig.Values(nil) // ascending
	vectors := eig.RawQ()     // eigenvectors as columns, not copied
	p := &PCA{Dim: dim, K: k, Mean: make([]float32, dim), Components: make([]float32, k*dim), Variance: make([]float64, k)}
	for j, v := range mean {
		p.Mean[j] = float32(v)
	}
	for c := range k {
		col := dim - 1 - c
		p.Variance[c] = max(values[col], 0) // rounding can leave −1e-17
		axis := mat.Col(nil, col, vectors)
		sign := 1.0
		big := 0
		for j, v := range axis {
			if math.Abs(v) > math.Abs(axis[big]) {
				big = j
			}
		}
		if axis[big] < 0 {
			sign = -1
		}
		row := p.Components[c*dim : (c+1)*dim]
		for j, v := range axis {
			row[j] = float32(sign * v)
		}
	}
	return p, nil
}

// check returns an error unless p's fields agree with each other.
func (p *PCA) check() error {
	if p.Dim < 1 || p.K < 1 || len(p.Mean) != p.Dim || len(p.Components) != p.K*p.Dim || len(p.Variance) != p.K {
		return fmt.Errorf("pca: inconsistent fit: Dim=%d K=%d with %d means, %d component values and %d variances",
			p.Dim, p.K, len(p.Mean), len(p.Components), len(p.Variance))
	}
	if err := checkFinite("mean", p.Mean); err != nil {
		return fmt.Errorf("pca: %w", err)
	}
	if err := checkFinite("components", p.Components); err != nil {
		return fmt.Errorf("pca: %w", err)
	}
	return nil
}

// Project returns the coordinates of the n rows of x (n×Dim, row-major)
// along the components: (x − Mean)·Componentsᵀ, n×K row-major. The rows
// are centred in blocks and multiplied by the float32 GEMM.
func (p *PCA) Project(x []float32, n int) ([]float32, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if n < 0 || len(x) != n*p.Dim {
		return nil, fmt.Errorf("pca: x has %d values, want n·Dim = %d·%d", len(x), n, p.Dim)
	}
	if j := firstNonFinite(x); j >= 0 {
		return nil, fmt.Errorf("pca: row %d, entry %d is %v", j/p.Dim, j%p.Dim, x[j])
	}
	out := make([]float32, n*p.K)
	buf := make([]float32, min(n, pcaBlock)*p.Dim)
	for r0 := 0; r0 < n; r0 += pcaBlock {
		rows := min(pcaBlock, n-r0)
		for i, v := range x[r0*p.Dim : (r0+rows)*p.Dim] {
			buf[i] = v - p.Mean[i%p.Dim]
		}
		kernels.Sgemm(false, true, rows, p.K, p.Dim, 1, buf, p.Dim, p.Components, p.Dim, 0, out[r0*p.K:], p.K)
	}
	return out, nil
}

// PixelEmbedding fits a PCA of k components on all n rows of x (n×dim)
// and returns their projections (n×k), each scaled to unit L2 norm if
// normalize is set (an all-zero row stays zero), as Embed does.
func PixelEmbedding(x []float32, n, dim, k int, normalize bool) ([]float32, error) {
	p, err := FitPCA(x, n, dim, k)
	if err != nil {
		return nil, err
	}
	emb, err := p.Project(x, n)
	if err != nil {
		return nil, err
	}
	if normalize {
		NormalizeRows(emb, k)
	}
	return emb, nil
}

// NormalizeRows scales every row of the row-major matrix x (of dim
// columns) to unit L2 norm, computed in float64; an all-zero row stays
// zero.
func NormalizeRows(x []float32, dim int) {
	for lo := 0; lo+dim <= len(x); lo += dim {
		row := x[lo : lo+dim]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		if ss > 0 {
			s := float32(1 / math.Sqrt(ss))
			for j := range row {
				row[j] *= s
			}
		}
	}
}
