// Package testutil holds the helpers that the engine's tests share:
// CheckPanic for the panics that name an op and its shapes, ForEachImpl to
// run a test on every kernel implementation, Near and Close to compare
// floats within a tolerance, CentralDiff for the numeric side of a
// gradient check, and StopAfter to end a training run after an epoch.
//
// It imports no package of the engine, so that any package's internal
// tests can use it without an import cycle: what it needs of an engine
// package (kernels.Implementations and kernels.Use, say) is passed in.
// Helpers that need an engine type live in a subpackage (tensortest).
package testutil

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
)

// CheckPanic fails t unless f panics with a message containing every one
// of wants; with no wants, any panic passes. The message is fmt.Sprint of
// the panic value, so a panicked error counts by its Error text.
func CheckPanic(t testing.TB, f func(), wants ...string) {
	t.Helper()
	r := recovered(f)
	if r == nil {
		if len(wants) == 0 {
			t.Errorf("no panic")
		} else {
			t.Errorf("no panic; want one mentioning %q", wants)
		}
		return
	}
	msg := fmt.Sprint(r)
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("panic %q does not mention %q", msg, w)
		}
	}
}

// recovered runs f and returns what it panicked with, nil if it returned.
// (A panic(nil) recovers as a *runtime.PanicNilError.) Failures are
// reported after it returns, so that they point at CheckPanic's caller
// rather than at the code that panicked.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// Runner is what ForEachImpl needs of a *testing.T or a *testing.B.
type Runner[T any] interface {
	Helper()
	Fatal(args ...any)
	Run(name string, f func(T)) bool
}

// ForEachImpl runs f as a subtest (or sub-benchmark) per name in impls,
// named after it, with use(name) in force while f runs:
//
//	testutil.ForEachImpl(t, kernels.Implementations(), kernels.Use, f)
//
// so that a test checks the SIMD and the pure-Go kernels alike. An
// implementation use refuses fails that subtest.
func ForEachImpl[T Runner[T]](t T, impls []string, use func(name string) (restore func(), err error), f func(t T)) {
	t.Helper()
	for _, name := range impls {
		t.Run(name, func(t T) {
			restore, err := use(name)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
}

// Near reports whether a is within tol of b, absolutely where |b| ≤ 1 and
// relatively beyond: |a−b| ≤ tol·max(1, |b|). A NaN is near nothing.
func Near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

// Close reports whether got is within tol·scale of want, scale being the
// size of what the computation added up (Σ|x_i·y_i| for a dot product,
// say), so that rounding errors are judged against it. got equal to want
// is close whatever the tolerance, and so is NaN to NaN.
func Close(got, want, scale, tol float64) bool {
	return got == want || math.IsNaN(got) && math.IsNaN(want) || math.Abs(got-want) <= tol*scale
}

// CentralDiff returns the central difference (f(x+h) − f(x−h))/2h of f
// in element i of x, which f reads: it moves x[i] by ±h (rounded to x's
// type), calls f at each point and restores x[i]. It is the numeric
// gradient that hand-written gradient checks compare the analytic one
// against.
func CentralDiff[T float32 | float64](x []T, i int, h float64, f func() float64) float64 {
	v := x[i]
	x[i] = v + T(h)
	lp := f()
	x[i] = v - T(h)
	lm := f()
	x[i] = v
	return (lp - lm) / (2 * h)
}

// StopAfter sets *hook, an end-of-epoch hook such as
// train.Options.OnEpochEnd, to one that cancels the returned context after
// epoch e (0-based): the run then ends as a kill would, once that epoch's
// checkpoint is written.
func StopAfter[M any](hook *func(epoch int, model M) error, e int) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	*hook = func(epoch int, _ M) error {
		if epoch == e {
			cancel()
		}
		return nil
	}
	return ctx
}
