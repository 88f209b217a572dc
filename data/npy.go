package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/internal/atomicfile"
)

// dtype is a numeric NumPy element type: kind 'f' (float), 'i' (signed)
// or 'u' (unsigned), size in bytes, and byte order.
type dtype struct {
	kind byte
	size int
	big  bool
}

// String returns the NumPy descr, such as "<f4" or "|u1".
func (d dtype) String() string {
	o := byte('<')
	switch {
	case d.size == 1:
		o = '|'
	case d.big:
		o = '>'
	}
	return string([]byte{o, d.kind}) + strconv.Itoa(d.size)
}

// parseDescr parses a NumPy descr string such as "<f4".
func parseDescr(s string) (dtype, error) {
	if len(s) < 3 {
		return dtype{}, fmt.Errorf("unsupported dtype %q", s)
	}
	d := dtype{kind: s[1], big: s[0] == '>'}
	size, err := strconv.Atoi(s[2:])
	if err != nil || !strings.ContainsRune("<>|=", rune(s[0])) {
		return dtype{}, fmt.Errorf("unsupported dtype %q", s)
	}
	d.size = size
	ok := false
	switch d.kind {
	case 'f':
		ok = size == 4 || size == 8
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	}
	if !ok || (s[0] == '|' && size != 1) {
		return dtype{}, fmt.Errorf("unsupported dtype %q (want a float or integer type)", s)
	}
	return d, nil
}

// order returns d's byte order.
func (d dtype) order() binary.ByteOrder {
	if d.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// bits returns the size bytes at b as an unsigned integer, sign-extended
// for kind 'i'.
func (d dtype) bits(b []byte) uint64 {
	o := d.order()
	switch d.size {
	case 1:
		if d.kind == 'i' {
			return uint64(int8(b[0]))
		}
		return uint64(b[0])
	case 2:
		if d.kind == 'i' {
			return uint64(int16(o.Uint16(b)))
		}
		return uint64(o.Uint16(b))
	case 4:
		if d.kind == 'i' {
			return uint64(int32(o.Uint32(b)))
		}
		return uint64(o.Uint32(b))
	}
	return o.Uint64(b)
}

// float returns the element at b as a float64.
func (d dtype) float(b []byte) float64 {
	v := d.bits(b)
	switch {
	case d.kind == 'f' && d.size == 4:
		return float64(math.Float32frombits(uint32(v)))
	case d.kind == 'f':
		return math.Float64frombits(v)
	case d.kind == 'i':
		return float64(int64(v))
	}
	return float64(v)
}

// int returns the integer element at b, or false if d is a float type or
// the value does not fit an int64.
func (d dtype) int(b []byte) (int64, bool) {
	v := d.bits(b)
	switch d.kind {
	case 'i':
		return int64(v), true
	case 'u':
		return int64(v), v <= math.MaxInt64
	}
	return 0, false
}

// npyMagic opens every .npy file.
const npyMagic = "\x93NUMPY"

// maxNpyHeader bounds the header dictionary we accept (NumPy's own default
// limit is 10000 bytes).
const maxNpyHeader = 1 << 16

// npyArray is the layout of one .npy array: its element type, C-order
// shape, and where its data starts and ends in r.
type npyArray struct {
	r     io.ReaderAt
	dt    dtype
	shape []int
	off   int64  // start of the data
	bytes int64  // length of the data
	mem   []byte // the whole file, if r reads from memory; else nil
}

// count returns the number of elements.
func (a *npyArray) count() int64 { return a.bytes / int64(a.dt.size) }

// readNpyHeader parses the .npy header at the start of r, which holds size
// bytes, and checks that the data fills the rest exactly. Errors do not
// name the file; callers add it.
func readNpyHeader(r io.ReaderAt, size int64) (*npyArray, error) {
	var pre [12]byte
	if size < 10 {
		return nil, fmt.Errorf("not a .npy file: only %d bytes", size)
	}
	if _, err := r.ReadAt(pre[:min(size, 12)], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading .npy header: %w", err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("not a .npy file: bad magic %q", pre[:6])
	}
	var hlen, start int64
	switch pre[6] {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if size < 12 {
			return nil, fmt.Errorf("truncated .npy header")
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return nil, fmt.Errorf("unsupported .npy version %d.%d", pre[6], pre[7])
	}
	if hlen > maxNpyHeader {
		return nil, fmt.Errorf(".npy header of %d bytes is longer than the %d allowed", hlen, maxNpyHeader)
	}
	if start+hlen > size {
		return nil, fmt.Errorf("truncated .npy header: %d bytes announced, %d in file", hlen, size-start)
	}
	hdr := make([]byte, hlen)
	if _, err := r.ReadAt(hdr, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading .npy header: %w", err)
	}
	descr, fortran, shape, err := parseNpyDict(string(hdr))
	if err != nil {
		return nil, fmt.Errorf("bad .npy header %q: %w", strings.TrimSpace(string(hdr)), err)
	}
	dt, err := parseDescr(descr)
	if err != nil {
		return nil, err
	}
	if fortran && len(shape) > 1 {
		return nil, errors.New("fortran_order arrays are not supported; save with np.ascontiguousarray")
	}
	n := int64(dt.size)
	for _, d := range shape {
		var ok bool
		if n, ok = mulCheck(n, int64(d)); !ok {
			return nil, fmt.Errorf("shape %v is too large", shape)
		}
	}
	a := &npyArray{r: r, dt: dt, shape: shape, off: start + hlen, bytes: n}
	if have := size - a.off; have != n {
		return nil, fmt.Errorf("shape %v of %s needs %d data bytes, file has %d", shape, dt, n, have)
	}
	return a, nil
}

// parseNpyDict parses the Python dict literal of a .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseNpyDict(s string) (descr string, fortran bool, shape []int, err error) {
	p := pyLexer{s: s}
	if err := p.expect('{'); err != nil {
		return "", false, nil, err
	}
	seen := map[string]bool{}
	for p.skip() != '}' {
		key, err := p.str()
		if err != nil {
			return "", false, nil, err
		}
		if seen[key] {
			return "", false, nil, fmt.Errorf("key %q repeated", key)
		}
		seen[key] = true
		if err := p.expect(':'); err != nil {
			return "", false, nil, err
		}
		switch key {
		case "descr":
			if p.skip() == '[' {
				return "", false, nil, errors.New("structured dtypes are not supported")
			}
			descr, err = p.str()
		case "fortran_order":
			fortran, err = p.boolean()
		case "shape":
			shape, err = p.tuple()
		default:
			err = fmt.Errorf("unexpected key %q", key)
		}
		if err != nil {
			return "", false, nil, err
		}
		if p.skip() != ',' {
			break
		}
		p.i++
	}
	if err := p.expect('}'); err != nil {
		return "", false, nil, err
	}
	if p.skip() != 0 {
		return "", false, nil, fmt.Errorf("unexpected %q after the dictionary", p.s[p.i:])
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return "", false, nil, errors.New("want keys 'descr', 'fortran_order' and 'shape'")
	}
	return descr, fortran, shape, nil
}

// pyLexer reads the few Python literals a .npy header uses.
type pyLexer struct {
	s string
	i int
}

// skip moves past white space and returns the next byte (0 at the end).
func (p *pyLexer) skip() byte {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
	if p.i == len(p.s) {
		return 0
	}
	return p.s[p.i]
}

// expect consumes the byte c.
func (p *pyLexer) expect(c byte) error {
	if p.skip() != c {
		return fmt.Errorf("want %q at offset %d", c, p.i)
	}
	p.i++
	return nil
}

// str reads a quoted string without escapes.
func (p *pyLexer) str() (string, error) {
	q := p.skip()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("want a string at offset %d", p.i)
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", fmt.Errorf("unterminated string at offset %d", p.i)
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

// boolean reads True or False.
func (p *pyLexer) boolean() (bool, error) {
	p.skip()
	for _, w := range []string{"True", "False"} {
		if strings.HasPrefix(p.s[p.i:], w) {
			p.i += len(w)
			return w == "True", nil
		}
	}
	return false, fmt.Errorf("want True or False at offset %d", p.i)
}

// tuple reads a tuple of non-negative integers, such as (), (3,) or (2, 3).
func (p *pyLexer) tuple() ([]int, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	shape := []int{}
	for p.skip() != ')' {
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		d, err := strconv.Atoi(p.s[p.i:j])
		if err != nil || d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("bad dimension at offset %d", p.i)
		}
		shape = append(shape, d)
		p.i = j
		if p.skip() == 'L' { // Python 2 long
			p.i++
		}
		if p.skip() != ',' {
			break
		}
		p.i++
	}
	if err := p.expect(')'); err != nil {
		return nil, err
	}
	return shape, nil
}

// Elem is the set of element types WriteNpy and ReadNpy handle.
type Elem interface {
	float32 | float64 | int32 | int64 | uint8
}

// dtypeOf returns the little-endian dtype of T.
func dtypeOf[T Elem]() dtype {
	var z T
	switch any(z).(type) {
	case float32:
		return dtype{kind: 'f', size: 4}
	case float64:
		return dtype{kind: 'f', size: 8}
	case int32:
		return dtype{kind: 'i', size: 4}
	case int64:
		return dtype{kind: 'i', size: 8}
	}
	return dtype{kind: 'u', size: 1}
}

// NpyHeader returns the .npy preamble and header of a C-order array of T
// and shape, as WriteNpy writes it: for writers that stream the data
// themselves.
func NpyHeader[T Elem](shape []int) []byte { return npyHeader(dtypeOf[T](), shape) }

// npyHeader returns the .npy preamble and header for a C-order array of
// dt and shape, padded so the data starts at a multiple of 64 bytes.
func npyHeader(dt dtype, shape []int) []byte {
	var sb strings.Builder
	sb.WriteString("(")
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sb.WriteString(",")
	}
	sb.WriteString(")")
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dt, sb.String())
	start := 10
	if len(dict)+1+start+63 > math.MaxUint16 {
		start = 12
	}
	hlen := (start+len(dict)+1+63)/64*64 - start
	b := make([]byte, start, start+hlen)
	copy(b, npyMagic)
	if start == 10 {
		b[6] = 1
		binary.LittleEndian.PutUint16(b[8:], uint16(hlen))
	} else {
		b[6] = 2
		binary.LittleEndian.PutUint32(b[8:], uint32(hlen))
	}
	b = append(b, dict...)
	for len(b) < start+hlen-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

// WriteNpy writes data as a C-order .npy array of the given shape (the
// product of shape must equal len(data)), little-endian. It writes to a
// temporary file in the same directory and renames it into place, so
// readers never see a partial file.
func WriteNpy[T Elem](path string, shape []int, data []T) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("data.WriteNpy %s: negative dimension in shape %v", path, shape)
		}
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("data.WriteNpy %s: shape %v needs %d elements, have %d", path, shape, n, len(data))
	}
	return writeAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(npyHeader(dtypeOf[T](), shape)); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<16)
		for i := 0; i < len(data); {
			j := min(len(data), i+(1<<16)/8)
			var err error
			if buf, err = binary.Append(buf[:0], binary.LittleEndian, data[i:j]); err != nil {
				return err
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
			i = j
		}
		return nil
	})
}

// writeAtomic creates path atomically from what write produces.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("data: writing %s: %w", path, err)
	}
	return nil
}

// ReadNpy reads a whole .npy file into a []T with its shape. Any float or
// integer dtype converts to a float T; integer dtypes convert to an
// integer T if every value fits. Other combinations are errors.
func ReadNpy[T Elem](path string) ([]T, []int, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	a, err := readNpyHeader(f, size)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %s: %w", path, err)
	}
	v, err := readElems[T](a)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return v, a.shape, nil
}

// openSized opens path and returns it with its size.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("data: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("data: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("data: %s is a directory, want a file", path)
	}
	return f, st.Size(), nil
}

// readElems reads all of a's elements as T, converting as ReadNpy says.
func readElems[T Elem](a *npyArray) ([]T, error) {
	want := dtypeOf[T]()
	if want.kind != 'f' && a.dt.kind == 'f' {
		return nil, fmt.Errorf("dtype %s cannot be read as integers (%s)", a.dt, want)
	}
	raw := make([]byte, a.bytes)
	if _, err := a.r.ReadAt(raw, a.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	out := make([]T, a.count())
	for i := range out {
		b := raw[i*a.dt.size:]
		if want.kind == 'f' {
			out[i] = T(a.dt.float(b))
			continue
		}
		v, ok := a.dt.int(b)
		if !ok || int64(T(v)) != v {
			return nil, fmt.Errorf("element %d does not fit %s", i, want)
		}
		out[i] = T(v)
	}
	return out, nil
}
