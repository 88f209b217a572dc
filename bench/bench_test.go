package bench

import (
	"strings"
	"testing"
	"time"
)

func TestPeak(t *testing.T) {
	g, what := Peak(1, 20*time.Millisecond)
	if probe.loop == nil {
		if g != 0 || what != "" {
			t.Fatalf("no probe here, but Peak returned %v %q", g, what)
		}
		t.Skip("no FMA probe on this CPU or build")
	}
	if g <= 0 || what == "" {
		t.Fatalf("Peak = %v %q, want a positive figure and a name", g, what)
	}
}

func TestRunSgemmAndTable(t *testing.T) {
	shapes := []Shape{{"tiny", 7, 9, 5}}
	res := RunSgemm(shapes, Options{Threads: []int{1, 2}, MinTime: time.Millisecond, Reps: 1, Gonum: true})
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2", len(res))
	}
	for _, r := range res {
		if r.GFLOPS <= 0 || r.Gonum <= 0 {
			t.Fatalf("non-positive figure in %+v", r)
		}
	}
	var sb strings.Builder
	if err := WriteTable(&sb, res, map[int]float64{1: 100}); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"kernel", "tiny 7×9×5", "× gonum", "% FMA peak"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 3 {
		t.Fatalf("table has %d lines, want a header and 2 rows:\n%s", lines, out)
	}
}
