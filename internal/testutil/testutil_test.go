package testutil

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckPanic(t *testing.T) {
	for _, c := range []struct {
		name  string
		f     func()
		wants []string
		fails string // what the failure must mention; "" for none
	}{
		{"no panic", func() {}, nil, "no panic"},
		{"no panic with wants", func() {}, []string{"x"}, `want one mentioning ["x"]`},
		{"any panic", func() { panic("boom") }, nil, ""},
		{"all mentioned", func() { panic("tensor.Add: shapes [2 3] and [4]") }, []string{"tensor.Add", "[2 3]", "[4]"}, ""},
		{"one missing", func() { panic("tensor.Add: shapes [2 3] and [4]") }, []string{"tensor.Add", "[5]"}, `does not mention "[5]"`},
		{"error value", func() { panic(errors.New("bad input")) }, []string{"bad input"}, ""},
		{"panic nil", func() { panic(nil) }, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{TB: t}
			CheckPanic(r, c.f, c.wants...)
			switch {
			case c.fails == "" && len(r.errs) > 0:
				t.Errorf("failed: %q", r.errs)
			case c.fails != "" && (len(r.errs) != 1 || !strings.Contains(r.errs[0], c.fails)):
				t.Errorf("failures %q, want one mentioning %q", r.errs, c.fails)
			}
		})
	}
}

// fakeRunner is a Runner that records its subtests' names and fatal
// failures; like testing's, a subtest runs on its own goroutine, which
// Fatal ends.
type fakeRunner struct {
	names  []string
	fatals []string
}

func (f *fakeRunner) Helper() {}

func (f *fakeRunner) Fatal(args ...any) {
	f.fatals = append(f.fatals, fmt.Sprint(args...))
	runtime.Goexit()
}

func (f *fakeRunner) Run(name string, g func(*fakeRunner)) bool {
	f.names = append(f.names, name)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g(f)
	}()
	<-done
	return len(f.fatals) == 0
}

func TestForEachImpl(t *testing.T) {
	var log []string
	use := func(name string) (func(), error) {
		if name == "missing" {
			return nil, errors.New("not supported")
		}
		log = append(log, "use "+name)
		return func() { log = append(log, "restore "+name) }, nil
	}
	f := &fakeRunner{}
	ForEachImpl(f, []string{"avx2", "generic"}, use, func(*fakeRunner) { log = append(log, "run") })
	if want := []string{"avx2", "generic"}; !slices.Equal(f.names, want) {
		t.Errorf("subtests %v, want %v", f.names, want)
	}
	if want := []string{"use avx2", "run", "restore avx2", "use generic", "run", "restore generic"}; !slices.Equal(log, want) {
		t.Errorf("calls %v, want %v", log, want)
	}
	// A refused implementation is a fatal failure of its subtest.
	f = &fakeRunner{}
	ForEachImpl(f, []string{"missing"}, use, func(*fakeRunner) { t.Error("ran without the implementation") })
	if len(f.fatals) != 1 || !strings.Contains(f.fatals[0], "not supported") {
		t.Errorf("fatal failures %q, want one with use's error", f.fatals)
	}
}

func TestNear(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		a, b, tol float64
		want      bool
	}{
		{1, 1, 0, true},
		{0, 1e-7, 1e-6, true},  // absolute below 1
		{0, 2e-6, 1e-6, false}, // absolute below 1
		{1000.5, 1000, 1e-3, true},
		{1002, 1000, 1e-3, false},
		{-1000.5, -1000, 1e-3, true}, // relative to |b|
		{nan, nan, 1, false},
		{nan, 0, 1, false},
		{0, nan, 1, false},
	} {
		t.Run(fmt.Sprintf("%v_%v_%v", c.a, c.b, c.tol), func(t *testing.T) {
			if got := Near(c.a, c.b, c.tol); got != c.want {
				t.Errorf("Near(%v, %v, %v) = %v, want %v", c.a, c.b, c.tol, got, c.want)
			}
		})
	}
}

func TestClose(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		got, want, scale, tol float64
		ok                    bool
	}{
		{1, 1, 0, 0, true},
		{1.5, 1, 10, 0.05, true},
		{1.5, 1, 10, 0.04, false},
		{1e-9, 0, 0, 1, false}, // no scale, no slack
		{nan, nan, 1, 0, true},
		{nan, 1, 1, 1, false},
		{1, nan, 1, 1, false},
		{inf, inf, 1, 0, true},
		{inf, -inf, 1, 1, false},
	} {
		t.Run(fmt.Sprintf("%v_%v_%v_%v", c.got, c.want, c.scale, c.tol), func(t *testing.T) {
			if ok := Close(c.got, c.want, c.scale, c.tol); ok != c.ok {
				t.Errorf("Close(%v, %v, %v, %v) = %v, want %v", c.got, c.want, c.scale, c.tol, ok, c.ok)
			}
		})
	}
}

func TestCentralDiff(t *testing.T) {
	x := []float64{1, 3, 5}
	var calls int
	cube := func() float64 { calls++; return x[1] * x[1] * x[1] }
	// ((3+h)³ − (3−h)³)/2h = 27 + h² exactly in reals.
	if got := CentralDiff(x, 1, 0.5, cube); got != 27.25 || calls != 2 || x[1] != 3 {
		t.Errorf("CentralDiff of x³ at 3, h 0.5: %v after %d calls, x[1] left at %v; want 27.25, 2 calls, 3", got, calls, x[1])
	}
	y := []float32{2}
	if got := CentralDiff(y, 0, 0.25, func() float64 { return float64(y[0]) * float64(y[0]) }); got != 4 || y[0] != 2 {
		t.Errorf("CentralDiff of y² at 2, h 0.25: %v, y[0] left at %v; want 4 and 2", got, y[0])
	}
}

func TestStopAfter(t *testing.T) {
	var hook func(epoch int, model string) error
	ctx := StopAfter(&hook, 1)
	if err := hook(0, "m"); err != nil || ctx.Err() != nil {
		t.Fatalf("after epoch 0: hook %v, context %v; want neither", err, ctx.Err())
	}
	if err := hook(1, "m"); err != nil || ctx.Err() == nil {
		t.Fatalf("after epoch 1: hook %v, context %v; want a cancelled context", err, ctx.Err())
	}
}
