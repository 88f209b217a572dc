package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/data"
)

// The pipelines write their shards and results as float32 .npy arrays
// streamed through Beam's file systems, so the data is written here
// rather than by data.WriteNpy, which writes local files only; the header
// is data.NpyHeader's, the one data.WriteNpy writes (the tests compare
// the bytes).

// writeF32 writes v as little-endian float32 values.
func writeF32(w io.Writer, v []float32) error {
	buf := make([]byte, 0, 1<<16)
	for i := 0; i < len(v); {
		j := min(len(v), i+(1<<14))
		buf = buf[:0]
		for _, x := range v[i:j] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// writeNpyF32 writes the float32 array v of the given shape to p,
// atomically, through Beam's file systems.
func writeNpyF32(ctx context.Context, p string, shape []int, v []float32) error {
	return writeAtomic(ctx, p, func(w io.Writer) error {
		if _, err := w.Write(data.NpyHeader[float32](shape)); err != nil {
			return err
		}
		return writeF32(w, v)
	})
}

// npyShape parses the header of the .npy bytes b, which must be a
// little-endian float32 C-order array, and returns its shape and where
// its data starts.
func npyShape(b []byte, name string) (shape []int, start int, err error) {
	if len(b) < 10 || !bytes.Equal(b[:6], []byte("\x93NUMPY")) {
		return nil, 0, fmt.Errorf("%s: not a .npy file", name)
	}
	var hlen int
	switch b[6] {
	case 1:
		start, hlen = 10, int(binary.LittleEndian.Uint16(b[8:]))
	case 2, 3:
		if len(b) < 12 {
			return nil, 0, fmt.Errorf("%s: truncated .npy header", name)
		}
		start, hlen = 12, int(binary.LittleEndian.Uint32(b[8:]))
	default:
		return nil, 0, fmt.Errorf("%s: .npy format version %d", name, b[6])
	}
	if len(b) < start+hlen {
		return nil, 0, fmt.Errorf("%s: truncated .npy header", name)
	}
	h := string(b[start : start+hlen])
	start += hlen
	if !strings.Contains(h, "'descr': '<f4'") || !strings.Contains(h, "'fortran_order': False") {
		return nil, 0, fmt.Errorf("%s: want a little-endian float32 C-order array, header %q", name, strings.TrimSpace(h))
	}
	i := strings.Index(h, "'shape': (")
	j := strings.Index(h[max(i, 0):], ")")
	if i < 0 || j < 0 {
		return nil, 0, fmt.Errorf("%s: no shape in header %q", name, strings.TrimSpace(h))
	}
	n := 1
	for f := range strings.SplitSeq(h[i+len("'shape': ("):i+j], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, 0, fmt.Errorf("%s: bad shape in header %q", name, strings.TrimSpace(h))
		}
		shape = append(shape, d)
		n *= d
	}
	return shape, start, nil
}

// readNpyF32 reads a float32 .npy file through Beam's file systems and
// checks that it holds rows rows of cols values each (its trailing
// dimensions flattened; cols 0: a vector of rows).
func readNpyF32(ctx context.Context, p string, rows, cols int) ([]float32, error) {
	b, err := readAll(ctx, p)
	if err != nil {
		return nil, err
	}
	shape, start, err := npyShape(b, p)
	if err != nil {
		return nil, err
	}
	per := 1
	for _, d := range shape[min(1, len(shape)):] {
		per *= d
	}
	if len(shape) == 0 || shape[0] != rows || (cols == 0) != (len(shape) == 1) || cols > 0 && per != cols {
		return nil, fmt.Errorf("%s: shape %v, want %d rows of %d values", p, shape, rows, max(cols, 1))
	}
	n := rows * max(cols, 1)
	if len(b)-start != 4*n {
		return nil, fmt.Errorf("%s: %d data bytes, want %d", p, len(b)-start, 4*n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[start+4*i:]))
	}
	return v, nil
}

// npyFileShape reads just the header of the .npy file p and returns its
// shape.
func npyFileShape(ctx context.Context, p string) ([]int, error) {
	fs, err := openFS(ctx, p)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	defer r.Close()
	head := make([]byte, 4096)
	k, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	shape, _, err := npyShape(head[:k], p)
	return shape, err
}
