package prune

import (
	"math"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil"
	"github.com/bulwark-ml/bulwark/tensor"
)

// orthonormalColumns returns an n×d matrix (row-major, float64) of random
// columns made orthonormal by Gram–Schmidt; with centre set, each column
// is first made to sum to zero (orthogonal to the all-ones vector).
func orthonormalColumns(rng *tensor.RNG, n, d int, centre bool) []float64 {
	a := make([]float64, n*d)
	for i := range a {
		a[i] = rng.Float64() - 0.5
	}
	col := func(j int) func(r int) *float64 { return func(r int) *float64 { return &a[r*d+j] } }
	for j := range d {
		c := col(j)
		if centre {
			var s float64
			for r := range n {
				s += *c(r)
			}
			for r := range n {
				*c(r) -= s / float64(n)
			}
		}
		for pass := 0; pass < 2; pass++ { // twice, for accuracy
			for i := range j {
				p := col(i)
				var dot float64
				for r := range n {
					dot += *c(r) * *p(r)
				}
				for r := range n {
					*c(r) -= dot * *p(r)
				}
			}
		}
		var ss float64
		for r := range n {
			ss += *c(r) * *c(r)
		}
		for r := range n {
			*c(r) /= math.Sqrt(ss)
		}
	}
	return a
}

// stretched returns n points mu + Σ_j sigma[j]·z[r,j]·q_j, where the q_j
// (rows of q) are orthonormal and the columns of z are centred,
// orthogonal and of sample variance 1, so that the sample covariance is
// exactly Σ_j sigma[j]²·q_j·q_jᵀ. It also returns q and z.
func stretched(n int, mu, sigma []float64) (x []float32, q, z []float64) {
	rng := tensor.NewRNG(11)
	dim := len(mu)
	q = orthonormalColumns(rng, dim, dim, false) // columns orthonormal, so rows too
	z = orthonormalColumns(rng, n, dim, true)
	for i := range z {
		z[i] *= math.Sqrt(float64(n - 1))
	}
	x = make([]float32, n*dim)
	for r := range n {
		for i := range dim {
			v := mu[i]
			for j := range dim {
				v += sigma[j] * z[r*dim+j] * q[j*dim+i]
			}
			x[r*dim+i] = float32(v)
		}
	}
	return x, q, z
}

func TestFitPCA(t *testing.T) {
	const n = 600
	mu := []float64{3, -1, 0.5, 2, 0, -4, 1, 7}
	sigma := []float64{5, 3, 2, 1.5, 1, 0.5, 0.2, 0.1}
	dim := len(mu)
	x, q, z := stretched(n, mu, sigma)
	for _, k := range []int{1, 3, dim} {
		p, err := FitPCA(x, n, dim, k)
		if err != nil {
			t.Fatal(err)
		}
		if p.Dim != dim || p.K != k || len(p.Components) != k*dim || len(p.Variance) != k {
			t.Fatalf("k=%d: shape %d, %d, %d, %d", k, p.Dim, p.K, len(p.Components), len(p.Variance))
		}
		for i := range dim {
			if !testutil.Near(float64(p.Mean[i]), mu[i], 1e-5) {
				t.Errorf("k=%d: mean[%d] = %g, want %g", k, i, p.Mean[i], mu[i])
			}
		}
		for j := range k {
			if !testutil.Near(p.Variance[j], sigma[j]*sigma[j], 1e-4) {
				t.Errorf("k=%d: variance %d = %g, want %g", k, j, p.Variance[j], sigma[j]*sigma[j])
			}
			comp := p.Components[j*dim : (j+1)*dim]
			// The sign convention: the largest entry is positive.
			big := 0
			for i := range comp {
				if math.Abs(float64(comp[i])) > math.Abs(float64(comp[big])) {
					big = i
				}
			}
			if comp[big] < 0 {
				t.Errorf("k=%d: component %d has a negative largest entry", k, j)
			}
			sign := math.Copysign(1, q[j*dim+big])
			for i := range comp {
				if math.Abs(float64(comp[i])-sign*q[j*dim+i]) > 1e-4 {
					t.Errorf("k=%d: component %d = %v, want ±%v", k, j, comp, q[j*dim:(j+1)*dim])
					break
				}
			}
		}
	}

	// All components: the projections are ±sigma_j·z_j, their covariance
	// is diagonal with Variance on the diagonal, and the mean projects to 0.
	p, err := FitPCA(x, n, dim, dim)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := p.Project(x, n)
	if err != nil {
		t.Fatal(err)
	}
	for j := range dim {
		// Sign of component j relative to q_j.
		var dot float64
		for i := range dim {
			dot += float64(p.Components[j*dim+i]) * q[j*dim+i]
		}
		for r := range n {
			if want := math.Copysign(1, dot) * sigma[j] * z[r*dim+j]; math.Abs(float64(proj[r*dim+j])-want) > 1e-4*sigma[0] {
				t.Fatalf("row %d component %d: projection %g, want %g", r, j, proj[r*dim+j], want)
			}
		}
	}
	for a := range dim {
		for b := range dim {
			var c float64
			for r := range n {
				c += float64(proj[r*dim+a]) * float64(proj[r*dim+b])
			}
			c /= n - 1
			want := 0.0
			if a == b {
				want = p.Variance[a]
			}
			if !testutil.Near(c, want, 1e-4) {
				t.Errorf("covariance of projections [%d,%d] = %g, want %g", a, b, c, want)
			}
		}
	}
	zero, err := p.Project(p.Mean, 1)
	if err != nil {
		t.Fatal(err)
	}
	for j, v := range zero {
		if v != 0 {
			t.Errorf("the mean projects to %g on component %d", v, j)
		}
	}
}

func TestPixelEmbedding(t *testing.T) {
	// Rows v, −v, ..., and an all-zero row: the mean is exactly zero, so
	// the zero row projects to zero.
	const n, dim, k = 41, 6, 3
	rng := tensor.NewRNG(12)
	x := make([]float32, n*dim)
	for r := 0; r+1 < n; r += 2 {
		for i := range dim {
			v := rng.Float32() - 0.5
			x[r*dim+i], x[(r+1)*dim+i] = v, -v
		}
	}
	emb, err := PixelEmbedding(x, n, dim, k, true)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := PixelEmbedding(x, n, dim, k, false)
	if err != nil {
		t.Fatal(err)
	}
	for r := range n {
		var ss, rawSS float64
		for j := range k {
			ss += float64(emb[r*k+j]) * float64(emb[r*k+j])
			rawSS += float64(raw[r*k+j]) * float64(raw[r*k+j])
		}
		if r == n-1 {
			if ss != 0 {
				t.Errorf("the zero row embeds with norm² %g", ss)
			}
			continue
		}
		if !testutil.Near(ss, 1, 1e-5) {
			t.Errorf("row %d: norm² %g after normalizing", r, ss)
		}
		// Normalizing only rescales.
		for j := range k {
			if !testutil.Near(float64(emb[r*k+j]), float64(raw[r*k+j])/math.Sqrt(rawSS), 1e-5) {
				t.Errorf("row %d: %v is not %v normalized", r, emb[r*k:(r+1)*k], raw[r*k:(r+1)*k])
				break
			}
		}
	}
	if _, err := PixelEmbedding(x, n, dim, 0, true); err == nil {
		t.Error("k = 0: no error")
	}
}

func TestPCAErrors(t *testing.T) {
	x := make([]float32, 15)
	for i := range x {
		x[i] = float32(i * i % 7)
	}
	nan := append([]float32(nil), x...)
	nan[7] = float32(math.NaN())
	inf := append([]float32(nil), x...)
	inf[14] = float32(math.Inf(-1))
	for _, c := range []struct {
		name      string
		x         []float32
		n, dim, k int
		want      string
	}{
		{"one row", x[:5], 1, 5, 1, "1 rows of dimension 5, need at least 2 rows"},
		{"zero dim", x, 3, 0, 1, "need at least 2 rows and dimension 1"},
		{"ragged", x, 3, 4, 1, "x has 15 values, want n·dim = 3·4 = 12"},
		{"zero components", x, 3, 5, 0, "0 components of 3 rows of dimension 5, want 1 ≤ k ≤ 3"},
		{"k above rows", x, 3, 5, 4, "want 1 ≤ k ≤ 3"},
		{"k above dim", x, 5, 3, 4, "want 1 ≤ k ≤ 3"},
		{"NaN", nan, 3, 5, 2, "row 1, entry 2 is NaN"},
		{"-Inf", inf, 3, 5, 2, "row 2, entry 4 is -Inf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := FitPCA(c.x, c.n, c.dim, c.k); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("FitPCA(n=%d, dim=%d, k=%d): %v, want error containing %q", c.n, c.dim, c.k, err, c.want)
			}
		})
	}
	p, err := FitPCA(x, 3, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := p.Project(nil, 0); err != nil || len(out) != 0 {
		t.Errorf("projecting no rows: %v, %v", out, err)
	}
	bad := *p
	bad.Components = bad.Components[:9]
	for _, c := range []struct {
		name string
		p    *PCA
		x    []float32
		n    int
		want string
	}{
		{"ragged", p, x, 2, "x has 15 values, want n·Dim = 2·5"},
		{"negative n", p, x, -3, "want n·Dim = -3·5"},
		{"NaN", p, nan, 3, "row 1, entry 2 is NaN"},
		{"inconsistent", &bad, x, 3, "inconsistent fit: Dim=5 K=2 with 5 means, 9 component values and 2 variances"},
		{"NaN mean", &PCA{Dim: 1, K: 1, Mean: []float32{float32(math.NaN())}, Components: []float32{1}, Variance: []float64{1}}, x[:2], 2, "mean[0] is NaN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.p.Project(c.x, c.n); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Project(%d rows): %v, want error containing %q", c.n, err, c.want)
			}
		})
	}
}
