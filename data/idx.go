package data

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// IDX magic numbers: two zero bytes, element type 0x08 (unsigned byte),
// and the number of dimensions.
const (
	idxImages = 0x00000803
	idxLabels = 0x00000801
)

// Limits on IDX dimensions, to reject corrupt headers early.
const (
	maxIDXSide  = 1 << 12
	maxIDXCount = 1 << 28
)

// MNIST file names, as the MNIST site, the GoMNIST module and the Debian
// dataset-fashion-mnist package name them (each may also end in .gz).
var mnistFiles = [4]string{
	"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
}

// ReadMNIST reads the MNIST (or Fashion-MNIST) training and test sets
// from dir, which holds the four files of mnistFiles, raw or gzipped
// (name + ".gz").
func ReadMNIST(dir string) (train, test Dataset, err error) {
	var paths [4]string
	for i, name := range mnistFiles {
		if paths[i] = findFile(dir, name, name+".gz"); paths[i] == "" {
			return nil, nil, fmt.Errorf("data: %s: no %s[.gz] (want the four MNIST IDX files; `make data` fetches MNIST and Fashion-MNIST)", dir, name)
		}
	}
	if train, err = ReadIDX(paths[0], paths[1]); err != nil {
		return nil, nil, err
	}
	if test, err = ReadIDX(paths[2], paths[3]); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// findFile returns the first of dir/names that is a regular file, or "".
func findFile(dir string, names ...string) string {
	for _, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// ReadIDX reads an IDX image file (magic 0x00000803: N×rows×cols unsigned
// bytes) and the matching IDX label file (magic 0x00000801: N labels in
// [0, 10)), each raw or gzip-compressed (detected by its magic bytes), as
// an in-memory Dataset of 1×rows×cols images and 10 classes.
func ReadIDX(imagesPath, labelsPath string) (Dataset, error) {
	dims, pix, err := readIDX(imagesPath, idxImages)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := readIDX(labelsPath, idxLabels)
	if err != nil {
		return nil, err
	}
	if ldims[0] != dims[0] {
		return nil, fmt.Errorf("data: %s has %d labels but %s has %d images", labelsPath, ldims[0], imagesPath, dims[0])
	}
	s := &byteSet{
		labels: labels{y: make([]int32, len(lab)), classes: 10},
		name:   imagesPath, c: 1, h: dims[1], w: dims[2],
		dt: dtype{kind: 'u', size: 1}, rec: int64(dims[1] * dims[2]),
		inMem: true, mem: pix,
	}
	for i, v := range lab {
		if v >= 10 {
			return nil, fmt.Errorf("data: %s: label %d of sample %d not in [0, 10)", labelsPath, v, i)
		}
		s.y[i] = int32(v)
	}
	return s, nil
}

// readIDX reads an IDX file with the given magic and returns its
// dimensions and payload. It reads at most the payload the header
// announces plus one byte, so a corrupt header cannot make it allocate
// more than the file holds.
func readIDX(path string, magic uint32) (dims []int, payload []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	fail := func(format string, args ...any) ([]int, []byte, error) {
		return nil, nil, fmt.Errorf("data: %s: "+format, append([]any{path}, args...)...)
	}
	br := bufio.NewReader(f)
	var r io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail("bad gzip stream: %v", err)
		}
		defer zr.Close()
		r = zr
	}
	var m [4]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return fail("reading IDX magic: %v", readErr(err))
	}
	if got := binary.BigEndian.Uint32(m[:]); got != magic {
		return fail("IDX magic %#08x, want %#08x (%s)", got, magic, idxKind(magic))
	}
	hdr := make([]byte, 4*(magic&0xff))
	if _, err := io.ReadFull(r, hdr); err != nil {
		return fail("reading IDX dimensions: %v", readErr(err))
	}
	want := int64(1)
	for i := range len(hdr) / 4 {
		d := binary.BigEndian.Uint32(hdr[4*i:])
		limit := uint32(maxIDXSide)
		if i == 0 {
			limit = maxIDXCount
		}
		if d > limit || (i > 0 && d == 0) {
			return fail("implausible IDX dimension %d = %d", i, d)
		}
		dims = append(dims, int(d))
		want *= int64(d)
	}
	payload, err = io.ReadAll(io.LimitReader(r, want+1))
	if err != nil {
		return fail("reading IDX data: %v", readErr(err))
	}
	switch {
	case int64(len(payload)) < want:
		return fail("truncated: dimensions %v need %d data bytes, found %d", dims, want, len(payload))
	case int64(len(payload)) > want:
		return fail("data continues past the %d bytes that dimensions %v need", want, dims)
	}
	return dims, payload, nil
}

// idxKind names what an IDX magic number is for.
func idxKind(magic uint32) string {
	if magic == idxImages {
		return "images"
	}
	return "labels"
}

// readErr makes an early EOF read as truncation.
func readErr(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("file truncated")
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt):
		return fmt.Errorf("corrupt gzip data: %w", err)
	}
	return err
}
