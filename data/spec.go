package data

import (
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Specs lists the dataset specs Open accepts, for help texts and errors.
const Specs = "mnist, fashion-mnist, cifar10:DIR, cifar100:DIR, npz:FILE.npz, npy:X.npy,Y.npy, synth:BASE:N[:SEED][:tail=A][:deform=F]; " +
	"any of them may end in [a:b] or [balanced:N] to take a subset of its training split"

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// the four Fashion-MNIST IDX files (gzipped).
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// gomnist is the Go module whose data/ folder carries the MNIST IDX files;
// `make data` copies them from the module cache into ./data/mnist.
const gomnist = "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63"

// Open opens the dataset a spec names:
//
//	mnist             MNIST from $BULWARK_DATA/mnist (default ./data/mnist),
//	                  else from the GoMNIST module in the Go module cache
//	fashion-mnist     Fashion-MNIST from $BULWARK_DATA/fashion-mnist if
//	                  BULWARK_DATA is set, else FashionMNISTDir, else
//	                  ./data/fashion-mnist
//	cifar10:DIR       CIFAR-10 binary version in DIR (ReadCIFAR10)
//	cifar100:DIR      CIFAR-100 binary version in DIR (ReadCIFAR100)
//	npz:FILE.npz      images and labels in one .npz (OpenNpz)
//	npy:X.npy,Y.npy   images and labels in two .npy files (OpenNpy)
//	synth:BASE:N[:SEED][:tail=A][:deform=F]
//	                  N samples deformed on the fly from BASE's training
//	                  split (NewSynthetic, DefaultSynthOptions; SEED
//	                  defaults to 0; tail=A sets SynthOptions.Tail to A > 0
//	                  for a long tail of strongly deformed samples;
//	                  deform=F ≥ 0 scales the deformations, Scaled), with
//	                  BASE's test split
//
// The first four give a training and a test set. npz and npy give one set,
// returned as train with test nil; to evaluate on another set, open a
// second spec and take its test set (or its train set, for npz and npy).
// `make data` fetches MNIST and Fashion-MNIST.
//
// Any spec may end in a subset suffix, which applies to its training
// split only (the test split is returned unchanged):
//
//	SPEC[a:b]         training samples a to b-1, as a Python slice; a
//	                  defaults to 0 and b to the split's size, and both
//	                  must be non-negative, with a < b ≤ size
//	SPEC[balanced:N]  N training samples balanced over the C classes: the
//	                  first ⌊N/C⌋ samples of each class in file order,
//	                  plus one more of each of the N mod C lowest-numbered
//	                  classes
//
// Either keeps the samples in their original order, and closing the
// subset closes the set it was taken from. A spec ending in ']' is always
// read as having a suffix; suffixes nest (SPEC[0:1000][balanced:100]) and
// fit inside a synth spec's BASE (synth:fashion-mnist[balanced:2000]:20000
// draws its pool from those 2,000 samples only).
func Open(spec string) (train, test Dataset, err error) {
	if strings.HasSuffix(spec, "]") {
		if k := strings.LastIndexByte(spec, '['); k > 0 {
			return openSubset(spec, spec[:k], spec[k+1:len(spec)-1])
		}
	}
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case spec == "mnist":
		return readMNISTFrom(spec, mnistDirs())
	case spec == "fashion-mnist":
		return readMNISTFrom(spec, fashionDirs())
	case kind == "cifar10" && arg != "":
		return ReadCIFAR10(arg)
	case kind == "cifar100" && arg != "":
		return ReadCIFAR100(arg)
	case kind == "npz" && arg != "":
		ds, err := OpenNpz(arg)
		return ds, nil, err
	case kind == "npy" && arg != "":
		x, y, ok := strings.Cut(arg, ",")
		if !ok || x == "" || y == "" || strings.Contains(y, ",") {
			return nil, nil, fmt.Errorf("data: spec %q: want npy:X.npy,Y.npy (images, labels)", spec)
		}
		ds, err := OpenNpy(x, y)
		return ds, nil, err
	case kind == "synth" && arg != "":
		return openSynth(spec, arg)
	}
	return nil, nil, fmt.Errorf("data: unknown dataset spec %q; want one of: %s", spec, Specs)
}

// dataRoot is $BULWARK_DATA, or ./data.
func dataRoot() string {
	if r := os.Getenv("BULWARK_DATA"); r != "" {
		return r
	}
	return "data"
}

// mnistDirs lists where Open looks for MNIST, in order.
func mnistDirs() []string {
	dirs := []string{filepath.Join(dataRoot(), "mnist")}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" && build.Default.GOPATH != "" {
		cache = filepath.Join(filepath.SplitList(build.Default.GOPATH)[0], "pkg", "mod")
	}
	if cache != "" {
		dirs = append(dirs, filepath.Join(cache, filepath.FromSlash(gomnist), "data"))
	}
	return dirs
}

// fashionDirs lists where Open looks for Fashion-MNIST, in order.
func fashionDirs() []string {
	if r := os.Getenv("BULWARK_DATA"); r != "" {
		return []string{filepath.Join(r, "fashion-mnist"), FashionMNISTDir}
	}
	return []string{FashionMNISTDir, filepath.Join("data", "fashion-mnist")}
}

// readMNISTFrom reads the MNIST-format set of spec from the first of dirs
// that holds its training images.
func readMNISTFrom(spec string, dirs []string) (train, test Dataset, err error) {
	for _, d := range dirs {
		if findFile(d, mnistFiles[0], mnistFiles[0]+".gz") != "" {
			return ReadMNIST(d)
		}
	}
	return nil, nil, fmt.Errorf("data: %s: no IDX files in %s (run `make data`, or set BULWARK_DATA to the folder holding %s/)",
		spec, strings.Join(dirs, ", "), spec)
}

// openSubset opens spec = parent + "[" + sel + "]": parent's training
// split cut down as sel says (see Open), and parent's test split.
func openSubset(spec, parent, sel string) (train, test Dataset, err error) {
	tr, te, err := Open(parent)
	if err != nil {
		return nil, nil, fmt.Errorf("data: spec %q: %w", spec, err)
	}
	var idx []int
	if ns, ok := strings.CutPrefix(sel, "balanced:"); ok {
		idx, err = balancedIndices(tr, ns)
	} else {
		idx, err = sliceIndices(tr.Len(), sel)
	}
	var sub Dataset
	if err == nil {
		sub, err = Subset(tr, idx)
	}
	if err != nil {
		Close(tr)
		if te != nil {
			Close(te)
		}
		return nil, nil, fmt.Errorf("data: spec %q: %w", spec, err)
	}
	return ownedSubset{Dataset: sub, parent: tr}, te, nil
}

// ownedSubset is a Subset view that owns its parent, as Open's other sets
// own their files: closing it closes the parent (Subset alone does not,
// since its caller keeps the parent).
type ownedSubset struct {
	Dataset
	parent Dataset
}

// Close closes the parent set.
func (s ownedSubset) Close() error { return Close(s.parent) }

// sliceIndices returns a..b-1 for sel = "a:b" (either may be empty) over
// a training split of n samples.
func sliceIndices(n int, sel string) ([]int, error) {
	const want = "want [a:b] (non-negative integers, either may be omitted) or [balanced:N]"
	as, bs, ok := strings.Cut(sel, ":")
	if !ok {
		return nil, fmt.Errorf("subset [%s]: %s", sel, want)
	}
	bound := func(s string, def int) (int, error) {
		if s == "" {
			return def, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("subset [%s]: bound %q is not a non-negative integer; %s", sel, s, want)
		}
		return v, nil
	}
	a, err := bound(as, 0)
	if err != nil {
		return nil, err
	}
	b, err := bound(bs, n)
	if err != nil {
		return nil, err
	}
	if b > n || a >= b {
		return nil, fmt.Errorf("subset [%s]: samples [%d, %d) are out of range or none: the training split has %d samples", sel, a, b, n)
	}
	idx := make([]int, b-a)
	for j := range idx {
		idx[j] = a + j
	}
	return idx, nil
}

// balancedIndices returns the indices, in increasing order, of a subset
// of ds with N = ns samples balanced over its C classes: the first
// ⌊N/C⌋ samples of each class, plus one more for each class below N mod C.
func balancedIndices(ds Dataset, ns string) ([]int, error) {
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("subset [balanced:%s]: N %q is not a positive integer", ns, ns)
	}
	c, size := ds.Classes(), ds.Len()
	if n > size {
		return nil, fmt.Errorf("subset [balanced:%d]: the training split has only %d samples", n, size)
	}
	if c < 1 {
		return nil, fmt.Errorf("subset [balanced:%d]: the training split has no classes", n)
	}
	quota := func(k int) int {
		if k < n%c {
			return n/c + 1
		}
		return n / c
	}
	taken := make([]int, c)
	idx := make([]int, 0, n)
	for i := 0; i < size && len(idx) < n; i++ {
		if k := ds.Label(i); taken[k] < quota(k) {
			taken[k]++
			idx = append(idx, i)
		}
	}
	for k, t := range taken {
		if t < quota(k) {
			return nil, fmt.Errorf("subset [balanced:%d]: class %d has %d training samples, fewer than the %d that %d samples over %d classes take from it",
				n, k, t, quota(k), n, c)
		}
	}
	return idx, nil
}
