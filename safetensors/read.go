package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"

	"github.com/bulwark-ml/bulwark/tensor"
)

// MaxHeaderSize is the largest JSON header Decode accepts, in bytes: the
// reference implementation's limit.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding free-form string metadata.
const metadataKey = "__metadata__"

// File is the decoded content of a safetensors file.
type File struct {
	// Metadata is the header's __metadata__ object; empty (not nil) if the
	// file has none.
	Metadata map[string]string
	// Names lists the tensors in the order of their data in the file.
	Names []string
	// Tensors maps each name to its values, converted to float32.
	Tensors map[string]*tensor.Tensor
	// DTypes maps each name to the dtype it had on disk.
	DTypes map[string]DType
}

// FormatError reports a malformed or unsupported file: which file, which
// tensor (empty for a problem with the file as a whole) and what is wrong.
type FormatError struct {
	File, Tensor, Problem string
}

// Error implements error.
func (e *FormatError) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("safetensors: %s: tensor %q: %s", e.File, e.Tensor, e.Problem)
	}
	return fmt.Sprintf("safetensors: %s: %s", e.File, e.Problem)
}

// Read opens and decodes the safetensors file at path; see Decode.
func Read(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Decode(f, st.Size(), path)
}

// entry is one tensor's header record, validated.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64 // byte range within the data buffer
}

// Decode decodes a safetensors file of size bytes read from r, converting
// every tensor to float32 (see the package doc for the dtype rules and the
// checks made). name identifies the input in errors, usually its path.
// Tensor data is read in bounded chunks, so memory use is the tensors
// themselves plus the header.
func Decode(r io.ReaderAt, size int64, name string) (*File, error) {
	fail := func(t, format string, args ...any) error {
		return &FormatError{File: name, Tensor: t, Problem: fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return nil, fail("", "file is %d bytes, too short for the 8-byte header length", size)
	}
	var prefix [8]byte
	if err := readFull(r, prefix[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header length: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderSize {
		return nil, fail("", "header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, fail("", "header length %d exceeds the %d bytes that follow it", n, size-8)
	}
	header := make([]byte, n)
	if err := readFull(r, header, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header: %w", name, err)
	}
	bufStart := 8 + int64(n)
	entries, meta, err := parseHeader(header, uint64(size-bufStart), fail)
	if err != nil {
		return nil, err
	}
	f := &File{
		Metadata: meta,
		Names:    make([]string, len(entries)),
		Tensors:  make(map[string]*tensor.Tensor, len(entries)),
		DTypes:   make(map[string]DType, len(entries)),
	}
	var scratch []byte
	for i, e := range entries {
		t, err := readTensor(r, bufStart, e, &scratch, fail)
		if err != nil {
			var fe *FormatError
			if errors.As(err, &fe) {
				return nil, err
			}
			return nil, fmt.Errorf("safetensors: %s: tensor %q: reading data: %w", name, e.name, err)
		}
		f.Names[i] = e.name
		f.Tensors[e.name] = t
		f.DTypes[e.name] = e.dtype
	}
	return f, nil
}

// readFull fills p from r at off, turning a short read into
// io.ErrUnexpectedEOF.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	k, err := r.ReadAt(p, off)
	if k == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// tensorInfo is a header record as written; pointers tell missing fields
// from zero values.
type tensorInfo struct {
	DType       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// parseHeader parses and validates the JSON header against a data buffer
// of bufLen bytes. It returns the entries sorted by offset.
func parseHeader(header []byte, bufLen uint64, fail func(t, format string, args ...any) error) ([]entry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fail("", "header is not a JSON object")
	}
	meta := map[string]string{}
	seen := map[string]bool{}
	var entries []entry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fail("", "invalid JSON header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fail("", "invalid JSON header: %v where a name belongs", tok)
		}
		if seen[key] {
			return nil, nil, fail(key, "name appears twice in the header")
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fail(key, "invalid JSON header: %v", err)
		}
		if key == metadataKey {
			var m map[string]string
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, nil, fail("", "__metadata__ is not an object of strings")
			}
			for k, v := range m {
				meta[k] = v
			}
			continue
		}
		e, err := parseEntry(key, raw, bufLen, fail)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fail("", "invalid JSON header: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, fail("", "invalid data after the JSON header object: %v", err)
		}
		return nil, nil, fail("", "unexpected %v after the JSON header object", tok)
	}
	// The tensors must tile the buffer: sorted by offset, each starts where
	// the previous one ended and the last ends at the end of the file.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	var at uint64
	for i, e := range entries {
		switch {
		case e.begin < at:
			return nil, nil, fail(e.name, "data [%d, %d) overlaps tensor %q", e.begin, e.end, entries[i-1].name)
		case e.begin > at:
			return nil, nil, fail(e.name, "data starts at %d, leaving bytes [%d, %d) of the buffer unused", e.begin, at, e.begin)
		}
		at = e.end
	}
	if at != bufLen {
		return nil, nil, fail("", "tensors cover %d bytes but the data buffer has %d", at, bufLen)
	}
	return entries, meta, nil
}

// parseEntry validates one tensor record.
func parseEntry(name string, raw json.RawMessage, bufLen uint64, fail func(t, format string, args ...any) error) (entry, error) {
	var info tensorInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return entry{}, fail(name, "invalid header record: %v", err)
	}
	switch {
	case info.DType == nil:
		return entry{}, fail(name, "header record has no dtype")
	case info.Shape == nil:
		return entry{}, fail(name, "header record has no shape")
	case info.DataOffsets == nil:
		return entry{}, fail(name, "header record has no data_offsets")
	}
	e := entry{name: name, dtype: DType(*info.DType)}
	di, ok := dtypes[e.dtype]
	if !ok {
		return entry{}, fail(name, "unknown dtype %q", *info.DType)
	}
	offs := *info.DataOffsets
	if len(offs) != 2 {
		return entry{}, fail(name, "data_offsets has %d values, want 2", len(offs))
	}
	e.begin, e.end = offs[0], offs[1]
	if e.begin > e.end {
		return entry{}, fail(name, "data_offsets [%d, %d] begin after they end", e.begin, e.end)
	}
	if e.end > bufLen {
		return entry{}, fail(name, "data_offsets [%d, %d] run past the %d-byte data buffer", e.begin, e.end, bufLen)
	}
	count, overflow, empty := uint64(1), false, false
	e.shape = make([]int, len(*info.Shape))
	for i, d := range *info.Shape {
		if d < 0 || uint64(d) > math.MaxInt {
			return entry{}, fail(name, "invalid dimension %d in shape %v", d, *info.Shape)
		}
		e.shape[i] = int(d)
		hi, lo := bits.Mul64(count, uint64(d))
		overflow = overflow || hi != 0
		count = lo
		empty = empty || d == 0
	}
	hi, nbytes := bits.Mul64(count, uint64(di.size))
	overflow = overflow || hi != 0
	if empty { // a zero dimension empties the tensor whatever the others are
		count, nbytes, overflow = 0, 0, false
	}
	if overflow || nbytes != e.end-e.begin {
		return entry{}, fail(name, "shape %v of %s needs %s bytes but data_offsets [%d, %d] hold %d",
			*info.Shape, e.dtype, byteCount(count, di.size, overflow), e.begin, e.end, e.end-e.begin)
	}
	return e, nil
}

// byteCount formats count·size for an error message.
func byteCount(count uint64, size int, overflow bool) string {
	if overflow {
		return "more than 2^64"
	}
	return fmt.Sprint(count * uint64(size))
}

// chunkBytes bounds the scratch buffer tensor data is read through.
const chunkBytes = 1 << 16

// readTensor reads and converts e's data, which starts at bufStart+e.begin.
// scratch is reused across calls.
func readTensor(r io.ReaderAt, bufStart int64, e entry, scratch *[]byte, fail func(t, format string, args ...any) error) (*tensor.Tensor, error) {
	di := dtypes[e.dtype]
	t := tensor.New(e.shape...)
	data := t.Data()
	if len(*scratch) < chunkBytes {
		*scratch = make([]byte, chunkBytes)
	}
	per := chunkBytes / di.size
	off := bufStart + int64(e.begin)
	for lo := 0; lo < len(data); lo += per {
		hi := min(lo+per, len(data))
		src := (*scratch)[:(hi-lo)*di.size]
		if err := readFull(r, src, off); err != nil {
			return nil, err
		}
		if bad := di.convert(data[lo:hi], src); bad >= 0 {
			return nil, fail(e.name, "%s element %d (%s) is not exactly representable as float32",
				e.dtype, lo+bad, describe(e.dtype, src[bad*di.size:]))
		}
		off += int64(len(src))
	}
	return t, nil
}
