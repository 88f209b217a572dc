package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/bench"
	"github.com/bulwark-ml/bulwark/kernels"
)

// runBench implements `bulwark bench`.
func runBench(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	threadsFlag := fs.String("threads", "1,2", "comma-separated thread counts to measure")
	impl := fs.String("impl", kernels.Implementation(), "kernel implementation: "+strings.Join(kernels.Implementations(), ", "))
	quick := fs.Bool("quick", false, "small shapes and short timings only (a smoke run)")
	noGonum := fs.Bool("no-gonum", false, "skip the gonum baseline")
	minTime := fs.Duration("time", 300*time.Millisecond, "minimum measured time per figure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	threads, err := parseThreads(*threadsFlag)
	if err != nil {
		return err
	}
	if *minTime <= 0 {
		return fmt.Errorf("bench: --time must be positive, got %v", *minTime)
	}
	restore, err := kernels.Use(*impl)
	if err != nil {
		return fmt.Errorf("bench: --impl: %w", err)
	}
	defer restore()

	shapes := append(append([]bench.Shape{}, bench.SquareShapes...), bench.ConvShapes...)
	opts := bench.Options{Threads: threads, MinTime: *minTime, Reps: 3, Gonum: !*noGonum, MaxGonum: 3e9}
	if *quick {
		shapes = []bench.Shape{bench.SquareShapes[0], bench.SquareShapes[1]}
		opts.MinTime, opts.Reps = 20*time.Millisecond, 1
	}

	peak := map[int]float64{}
	fmt.Fprintf(stdout, "bulwark bench: implementation %s, blocking %+v\n%s", *impl, kernels.CurrentBlocking(), kernels.Describe())
	for _, t := range threads {
		g, what := bench.Peak(t, max(opts.MinTime, 100*time.Millisecond))
		if g > 0 {
			peak[t] = g
			fmt.Fprintf(stdout, "FMA peak, %d thread(s): %.1f GFLOP/s (%s probe)\n", t, g, what)
		}
	}
	fmt.Fprintln(stdout)
	return bench.WriteTable(stdout, bench.RunSgemm(shapes, opts), peak)
}

// parseThreads parses a list such as "1,2".
func parseThreads(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bench: --threads: %q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
