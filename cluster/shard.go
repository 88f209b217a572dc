package cluster

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
)

// Shard is one unit of work of a sharded pipeline: the items Lo to Hi-1
// (rows of a pool, positions in a query list, test samples).
type Shard struct {
	Index, Lo, Hi int
	Name          string // a grid job's name, instead of its items
}

func (s Shard) String() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("shard %d (items %d to %d)", s.Index, s.Lo, s.Hi-1)
}

// planShards cuts n items into shards of size items, size rounded up to
// a multiple of align: a shard then starts where a batch or a tile of
// the single-process computation starts, which keeps every floating-point
// result bit-identical to it. No items make one empty shard.
func planShards(n, size, align int) []Shard {
	align = max(align, 1)
	size = max((size+align-1)/align*align, align)
	if n == 0 { // one empty shard, so that the output is still written
		return []Shard{{}}
	}
	var out []Shard
	for lo := 0; lo < n; lo += size {
		out = append(out, Shard{Index: len(out), Lo: lo, Hi: min(n, lo+size)})
	}
	return out
}

// Run controls how the shards of a pipeline run: where their files go,
// how often a failing shard is tried, and an injected fault for tests.
type Run struct {
	// Work is the directory of the shard files and markers, on storage
	// that every worker and the launcher share.
	Work string
	// Attempts is how many times a worker tries a shard before the
	// pipeline fails. Prism fails the whole job on the first bundle error
	// and Flink, Spark and Dataflow retry a bundle a few times; this
	// retry, inside the worker, works on every runner.
	Attempts int
	// FailShard, if ≥ 0, makes the first FailTimes attempts at that shard
	// fail (a marker file in Work counts them across workers and
	// retries): the fault injection of the tests.
	FailShard, FailTimes int
	// FaultAfter makes an injected fault come after the attempt's work
	// succeeded, as when a worker is lost before it reports: the retry
	// must find the work done (the grid's jobs). Otherwise the fault
	// comes first and the attempt does nothing.
	FaultAfter bool
}

// ParseFault parses --inject-fault, SHARD or SHARD:TIMES (TIMES 1 if
// left out), into r.
func (r *Run) ParseFault(s string) error {
	r.FailShard, r.FailTimes = -1, 0
	if s == "" {
		return nil
	}
	sh, times, ok := strings.Cut(s, ":")
	k, err := strconv.Atoi(sh)
	t := 1
	if ok && err == nil {
		t, err = strconv.Atoi(times)
	}
	if err != nil || k < 0 || t < 1 {
		return fmt.Errorf("--inject-fault: %q, want SHARD or SHARD:TIMES", s)
	}
	r.FailShard, r.FailTimes = k, t
	return nil
}

// errorFile names the marker holding shard i's final error.
func (r *Run) errorFile(i int) string { return join(r.Work, fmt.Sprintf("shard-%05d.error", i)) }

// faultFile names the marker counting the injected faults of shard i.
func (r *Run) faultFile(i int) string { return join(r.Work, fmt.Sprintf("shard-%05d.fault", i)) }

// inject returns the injected fault for shard i, if one is due.
func (r *Run) inject(ctx context.Context, i int) error {
	if i != r.FailShard || r.FailTimes < 1 {
		return nil
	}
	p := r.faultFile(i)
	done := 0
	if ok, _ := exists(ctx, p); ok {
		if b, err := readAll(ctx, p); err == nil {
			done, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if done >= r.FailTimes {
		return nil
	}
	if err := writeAtomic(ctx, p, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, done+1)
		return err
	}); err != nil {
		return err
	}
	return fmt.Errorf("injected fault %d of %d", done+1, r.FailTimes)
}

// do runs work for shard s, trying it up to Attempts times. The final
// error names the shard and what (the file or input it works on), and
// is also left in Work as a marker the launcher reports: a runner's
// error wraps it in pages of its own.
func (r *Run) do(ctx context.Context, s Shard, what string, work func() error) error {
	attempts := max(r.Attempts, 1)
	var err error
	for a := 1; a <= attempts; a++ {
		if r.FaultAfter {
			if err = work(); err == nil {
				err = r.inject(ctx, s.Index)
			}
		} else if err = r.inject(ctx, s.Index); err == nil {
			err = work()
		}
		if err == nil {
			return nil
		}
		log.Printf("bulwark-cluster: %v of %s: attempt %d of %d failed: %v", s, what, a, attempts, err)
	}
	err = fmt.Errorf("%v of %s failed %d time(s), the last with: %w", s, what, attempts, err)
	_ = writeAtomic(ctx, r.errorFile(s.Index), func(w io.Writer) error {
		_, e := fmt.Fprintln(w, err.Error())
		return e
	})
	return err
}

// explain turns the error of a failed pipeline into the first shard
// error the workers left in Work, which names the shard and the file,
// or returns err as it is.
func (r *Run) explain(ctx context.Context, shards []Shard, err error) error {
	if err == nil {
		return nil
	}
	for _, s := range shards {
		p := r.errorFile(s.Index)
		if ok, _ := exists(ctx, p); ok {
			if b, e := readAll(ctx, p); e == nil {
				return fmt.Errorf("%s", strings.TrimSpace(string(b)))
			}
		}
	}
	return err
}

// reset removes the error markers a run left in Work, so that a rerun
// starts clean (shard files stay: finished shards are not redone).
func (r *Run) reset(ctx context.Context, shards []Shard) {
	for _, s := range shards {
		_ = remove(ctx, r.errorFile(s.Index))
	}
}

// cleanup removes Work's markers and files once the output is committed.
func (r *Run) cleanup(ctx context.Context, shards []Shard, files func(Shard) []string) {
	for _, s := range shards {
		_ = remove(ctx, r.errorFile(s.Index), r.faultFile(s.Index))
		if files != nil {
			_ = remove(ctx, files(s)...)
		}
	}
	if !isRemote(r.Work) {
		_ = os.Remove(r.Work) // only if empty
	}
}
