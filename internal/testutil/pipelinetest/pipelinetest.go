// Package pipelinetest compares pipeline run directories in tests: two
// runs of one experiment (in one process, as jobs, on a cluster) must
// write the same files, equal but for their times.
package pipelinetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/safetensors"
)

// timeKeys are the JSON keys that differ between any two runs: wall
// times, memory, and "out", the directory a run was written in.
var timeKeys = regexp.MustCompile(`(?i)(second|time|_s$|wall|peak|mib|elapsed|duration|^stages$|^out$)`)

// StripJSON decodes one JSON value and drops the keys of wall times,
// memory and the run directory, at every depth.
func StripJSON(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if timeKeys.MatchString(k) {
					delete(x, k)
				} else {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return v
}

// SameWeights fails the test unless the safetensors files a and b hold
// the same tensors, bit for bit, and the same metadata but for the wall
// time and the run directory a checkpoint records.
func SameWeights(t testing.TB, a, b string) {
	t.Helper()
	x, y := both(t, safetensors.Read, a, b)
	if !slices.Equal(x.Names, y.Names) {
		t.Fatalf("%s and %s hold other tensors: %v, %v", a, b, x.Names, y.Names)
	}
	for _, n := range x.Names {
		u, v := x.Tensors[n].Data(), y.Tensors[n].Data()
		if x.DTypes[n] != y.DTypes[n] || len(u) != len(v) {
			t.Fatalf("%s: tensor %s differs in type or size", b, n)
		}
		for i := range u {
			if math.Float32bits(u[i]) != math.Float32bits(v[i]) {
				t.Fatalf("%s: tensor %s differs from %s's at %d: %v, %v", b, n, a, i, v[i], u[i])
			}
		}
	}
	for k, v := range x.Metadata {
		w := y.Metadata[k]
		switch {
		case timeKeys.MatchString(k):
		case json.Valid([]byte(v)) && strings.HasPrefix(v, "{"):
			if fmt.Sprint(StripJSON(t, []byte(v))) != fmt.Sprint(StripJSON(t, []byte(w))) {
				t.Fatalf("%s: metadata %s differs from %s's:\n%s\n%s", b, k, a, w, v)
			}
		case v != w:
			t.Fatalf("%s: metadata %s is %q, %s's %q", b, k, w, a, v)
		}
	}
}

// both reads the files a and b with read, failing the test if it cannot.
func both[T any](t testing.TB, read func(string) (T, error), a, b string) (T, T) {
	t.Helper()
	x, err := read(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	return x, y
}

// SameFile fails the test unless the files a and b hold the same bytes.
func SameFile(t testing.TB, a, b string) {
	t.Helper()
	if x, y := both(t, os.ReadFile, a, b); !bytes.Equal(x, y) {
		t.Fatalf("%s (%d bytes) and %s (%d bytes) differ", a, len(x), b, len(y))
	}
}

// Files lists the files under dir, relative to it, sorted.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// SameRunDir fails the test unless the run directory got holds the files
// of ref and no others: every .npy byte for byte, every model tensor for
// tensor (SameWeights), every JSON file and JSON-lines line (metrics,
// where an epoch trained twice would show) but for its times. Other
// files (plots, report.md) must be there. It returns the files of ref.
func SameRunDir(t testing.TB, ref, got string) []string {
	t.Helper()
	files := Files(t, ref)
	if other := Files(t, got); !slices.Equal(files, other) {
		t.Fatalf("%s and %s hold other files:\n%v\n%v", ref, got, files, other)
	}
	for _, rel := range files {
		a, b := filepath.Join(ref, rel), filepath.Join(got, rel)
		ext := filepath.Ext(rel)
		switch ext {
		case ".safetensors":
			SameWeights(t, a, b)
			continue
		case ".npy", ".json", ".jsonl":
		default:
			continue
		}
		x, y := both(t, os.ReadFile, a, b)
		switch ext {
		case ".npy":
			if !bytes.Equal(x, y) {
				t.Errorf("%s (%d bytes) and %s (%d bytes) differ", a, len(x), b, len(y))
			}
		case ".json":
			if u, v := StripJSON(t, x), StripJSON(t, y); fmt.Sprint(u) != fmt.Sprint(v) {
				t.Errorf("%s differs beyond its times:\n%v\n%v", rel, u, v)
			}
		case ".jsonl":
			xs, ys := strings.Split(strings.TrimSpace(string(x)), "\n"), strings.Split(strings.TrimSpace(string(y)), "\n")
			if len(xs) != len(ys) {
				t.Errorf("%s: %d lines in %s, %d in %s", rel, len(xs), ref, len(ys), got)
				continue
			}
			for i := range xs {
				if u, v := StripJSON(t, []byte(xs[i])), StripJSON(t, []byte(ys[i])); fmt.Sprint(u) != fmt.Sprint(v) {
					t.Errorf("%s line %d differs beyond its times:\n%v\n%v", rel, i+1, u, v)
				}
			}
		}
	}
	return files
}
