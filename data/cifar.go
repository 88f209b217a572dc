package data

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// cifarImage is the size of one CIFAR image: 3 planes of 32×32 bytes.
const cifarImage = 3 * 32 * 32

// cifarFormat describes one CIFAR binary version: its file names (and the
// folder its archive unpacks to), and its label bytes before each image
// with their class counts.
type cifarFormat struct {
	name        string
	sub         string
	train, test []string
	labelLimits []int // class count of each label byte
	label       int   // which label byte is the class
}

var (
	cifar10 = cifarFormat{
		name: "CIFAR-10", sub: "cifar-10-batches-bin",
		train: []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
			"data_batch_4.bin", "data_batch_5.bin"},
		test:        []string{"test_batch.bin"},
		labelLimits: []int{10},
	}
	cifar100 = cifarFormat{
		name: "CIFAR-100", sub: "cifar-100-binary",
		train:       []string{"train.bin"},
		test:        []string{"test.bin"},
		labelLimits: []int{20, 100}, // coarse, fine
		label:       1,
	}
)

// ReadCIFAR10 reads the CIFAR-10 binary version from dir (or from its
// cifar-10-batches-bin subfolder): data_batch_1.bin … data_batch_5.bin
// for training and test_batch.bin for testing, records of one label byte
// and a 3×32×32 image.
func ReadCIFAR10(dir string) (train, test Dataset, err error) {
	return cifar10.read(dir)
}

// ReadCIFAR100 reads the CIFAR-100 binary version from dir (or from its
// cifar-100-binary subfolder): train.bin and test.bin, records of a coarse
// and a fine label byte and a 3×32×32 image. Labels are the 100 fine
// classes.
func ReadCIFAR100(dir string) (train, test Dataset, err error) {
	return cifar100.read(dir)
}

// read reads the training and test sets of format f from dir.
func (f *cifarFormat) read(dir string) (train, test Dataset, err error) {
	if findFile(dir, f.train[0]) == "" && findFile(filepath.Join(dir, f.sub), f.train[0]) != "" {
		dir = filepath.Join(dir, f.sub)
	}
	if train, err = f.readFiles(dir, f.train); err != nil {
		return nil, nil, err
	}
	if test, err = f.readFiles(dir, f.test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// readFiles reads and concatenates the records of dir/names, checking
// every file's size before reading any.
func (f *cifarFormat) readFiles(dir string, names []string) (Dataset, error) {
	rec := len(f.labelLimits) + cifarImage
	paths := make([]string, len(names))
	sizes := make([]int, len(names))
	total := 0
	for i, name := range names {
		paths[i] = filepath.Join(dir, name)
		st, err := os.Stat(paths[i])
		if err != nil {
			return nil, fmt.Errorf("data: %s: %w", f.name, err)
		}
		if size := st.Size(); size == 0 || size%int64(rec) != 0 || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("data: %s: size %d is not a positive multiple of the %d-byte %s record", paths[i], size, rec, f.name)
		}
		sizes[i] = int(st.Size())
		total += sizes[i]
	}
	mem := make([]byte, total)
	at := 0
	for i, path := range paths {
		k := sizes[i]
		if err := readFileInto(path, mem[at:at+k]); err != nil {
			return nil, err
		}
		for r := at; r < at+k; r += rec {
			for j, limit := range f.labelLimits {
				if v := int(mem[r+j]); v >= limit {
					return nil, fmt.Errorf("data: %s: record %d: label byte %d is %d, want < %d", path, (r-at)/rec, j, v, limit)
				}
			}
		}
		at += k
	}
	n := len(mem) / rec
	s := &byteSet{
		labels: labels{y: make([]int32, n), classes: f.labelLimits[f.label]},
		name:   filepath.Join(dir, names[0]), c: 3, h: 32, w: 32,
		dt:   dtype{kind: 'u', size: 1},
		base: int64(len(f.labelLimits)), rec: int64(rec),
		inMem: true, mem: mem,
	}
	for i := range n {
		s.y[i] = int32(mem[i*rec+f.label])
	}
	return s, nil
}

// readFileInto reads the file at path, which must be exactly len(dst)
// bytes long, into dst.
func readFileInto(path string, dst []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, dst); err != nil {
		return fmt.Errorf("data: %s: reading %d bytes: %w", path, len(dst), err)
	}
	if k, _ := f.Read(make([]byte, 1)); k != 0 {
		return fmt.Errorf("data: %s grew past %d bytes while being read", path, len(dst))
	}
	return nil
}
