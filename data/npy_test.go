package data

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sbinet/npyio/npy"
)

func TestNpyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	shapes := [][]int{{}, {5}, {2, 3}, {2, 1, 3, 2}, {0, 4}}
	for _, shape := range shapes {
		n := 1
		for _, d := range shape {
			n *= d
		}
		f32 := make([]float32, n)
		i64 := make([]int64, n)
		for i := range n {
			f32[i] = float32(i)*0.25 - 1
			i64[i] = int64(i)*1e12 - 7
		}
		p := filepath.Join(dir, "a.npy")
		roundTrip(t, p, shape, f32)
		roundTrip(t, p, shape, i64)
		roundTrip(t, p, shape, slices.Collect(func(yield func(int32) bool) {
			for i := range n {
				yield(int32(-i))
			}
		}))
		roundTrip(t, p, shape, []uint8(pattern(n, 3)))
		roundTrip(t, p, shape, []float64(nil)[:0:0])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only a.npy (no temporary files)", len(entries))
	}
}

// roundTrip writes data with WriteNpy, checks the header alignment, and
// reads it back exactly.
func roundTrip[T Elem](t *testing.T, path string, shape []int, data []T) {
	t.Helper()
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(data) != n {
		data = make([]T, n)
	}
	if err := WriteNpy(path, shape, data); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if hl := int(binary.LittleEndian.Uint16(b[8:])); (10+hl)%64 != 0 || b[9+hl] != '\n' {
		t.Errorf("%v %T: header length %d does not end a 64-byte block with a newline", shape, data, hl)
	}
	got, gotShape, err := ReadNpy[T](path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotShape, shape) || !slices.Equal(got, data) {
		t.Fatalf("read back %v %v, want %v %v", gotShape, got, shape, data)
	}
}

func TestReadNpyConvert(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "i.npy")
	if err := WriteNpy(p, []int{3}, []int32{-1, 200, 7}); err != nil {
		t.Fatal(err)
	}
	if v, _, err := ReadNpy[int64](p); err != nil || !slices.Equal(v, []int64{-1, 200, 7}) {
		t.Errorf("int32 as int64: %v %v", v, err)
	}
	if v, _, err := ReadNpy[float32](p); err != nil || !slices.Equal(v, []float32{-1, 200, 7}) {
		t.Errorf("int32 as float32: %v %v", v, err)
	}
	_, _, err := ReadNpy[uint8](p)
	wantErr(t, err, p, "does not fit")
	WriteNpy(p, []int{1}, []float64{0.5})
	_, _, err = ReadNpy[int64](p)
	wantErr(t, err, p, "<f8")
	// Big-endian data from another writer.
	be := npyHeader(dtype{kind: 'f', size: 4, big: true}, []int{2})
	be = binary.BigEndian.AppendUint32(be, math.Float32bits(1.5))
	be = binary.BigEndian.AppendUint32(be, math.Float32bits(-2))
	writeFile(t, dir, "be.npy", be)
	if v, _, err := ReadNpy[float32](filepath.Join(dir, "be.npy")); err != nil || !slices.Equal(v, []float32{1.5, -2}) {
		t.Errorf("big-endian: %v %v", v, err)
	}
}

// TestNpyInterop checks our files against an independent implementation,
// sbinet/npyio, in both directions.
func TestNpyInterop(t *testing.T) {
	dir := t.TempDir()
	want := []float32{0, 0.5, 1, -3.25, 1e-7, 42}
	var buf bytes.Buffer
	if err := npy.Write(&buf, want); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, dir, "theirs.npy", buf.Bytes())
	if got, shape, err := ReadNpy[float32](p); err != nil || !slices.Equal(got, want) || !slices.Equal(shape, []int{6}) {
		t.Errorf("reading npyio's file: %v %v %v", got, shape, err)
	}
	p = filepath.Join(dir, "ours.npy")
	if err := WriteNpy(p, []int{2, 3}, want); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Descr.Type != "<f4" || r.Header.Descr.Fortran || !slices.Equal(r.Header.Descr.Shape, []int{2, 3}) {
		t.Errorf("npyio reads our header as %v", r.Header)
	}
	var got []float32
	if err := r.Read(&got); err != nil || !slices.Equal(got, want) {
		t.Errorf("npyio reads our data as %v, %v", got, err)
	}
	var ints []int64
	WriteNpy(p, []int{3}, []int64{1, -2, 3})
	if err := npy.Read(must(os.Open(p)), &ints); err != nil || !slices.Equal(ints, []int64{1, -2, 3}) {
		t.Errorf("npyio reads our int64s as %v, %v", ints, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestNpyErrors(t *testing.T) {
	hdr := func(dict string) []byte {
		b := append([]byte(npyMagic), 1, 0, 0, 0)
		binary.LittleEndian.PutUint16(b[8:], uint16(len(dict)+1))
		return append(append(b, dict...), '\n')
	}
	good := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	data := make([]byte, 8)
	cases := []struct {
		name string
		file []byte
		msg  string
	}{
		{"empty", nil, "only 0 bytes"},
		{"magic", append([]byte("\x93NUMPX\x01\x00\x00\x00"), data...), "bad magic"},
		{"version", append([]byte(npyMagic+"\x04\x00\x00\x00"), data...), "version 4"},
		{"header past end", append([]byte(npyMagic), 1, 0, 200, 0, '{'), "truncated"},
		{"header too long", append([]byte(npyMagic), 2, 0, 0, 0, 0, 1), "longer"},
		{"short data", append(hdr(good), data[:7]...), "needs 8 data bytes, file has 7"},
		{"trailing", append(hdr(good), append(data, 0)...), "file has 9"},
		{"dtype", append(hdr("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"), data...), "unsupported dtype"},
		{"pipe size", append(hdr("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }"), data...), "unsupported dtype"},
		{"object", append(hdr("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"), data...), "unsupported dtype"},
		{"structured", append(hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), data...), "structured"},
		{"fortran", append(hdr("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }"), data...), "fortran_order arrays"},
		{"missing key", append(hdr("{'descr': '<f4', 'shape': (2,), }"), data...), "want keys"},
		{"extra key", append(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"), data...), "unexpected key"},
		{"repeated key", append(hdr("{'descr': '<f4', 'descr': '<f4', 'shape': (2,), }"), data...), "repeated"},
		{"bad shape", append(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"), data...), "dimension"},
		{"huge shape", append(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647), }"), data...), "too large"},
		{"unterminated", append(hdr("{'descr': '<f4"), data...), "unterminated"},
		{"garbage", append(hdr("not a dict"), data...), "want '{'"},
		{"bool", append(hdr("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }"), data...), "True or False"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, "bad.npy", c.file)
			_, _, err := ReadNpy[float32](p)
			wantErr(t, err, p, c.msg)
		})
	}
	// The good header with its data reads; fields in another order and
	// double quotes are fine too.
	for _, dict := range []string{good, `{"shape": (2,), "fortran_order": False, "descr": "<f4"}`} {
		p := writeFile(t, dir, "ok.npy", append(hdr(dict), data...))
		if _, _, err := ReadNpy[float32](p); err != nil {
			t.Errorf("%s: %v", dict, err)
		}
	}
}

func TestWriteNpyErrors(t *testing.T) {
	dir := t.TempDir()
	err := WriteNpy(filepath.Join(dir, "a.npy"), []int{2, 2}, []float32{1, 2, 3})
	wantErr(t, err, "a.npy", "needs 4")
	err = WriteNpy(filepath.Join(dir, "a.npy"), []int{-1}, []float32{})
	wantErr(t, err, "a.npy", "negative")
	err = WriteNpy(filepath.Join(dir, "nodir", "a.npy"), []int{1}, []float32{1})
	wantErr(t, err, filepath.Join(dir, "nodir", "a.npy"))
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files", len(entries))
	}
}
