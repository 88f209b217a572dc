package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/internal/testutil/tensortest"
	"github.com/bulwark-ml/bulwark/tensor"
)

// sampleTensors covers the shapes a state dict has, a scalar and an empty
// tensor, and values whose bits must survive: NaN, ±Inf, -0, subnormals.
func sampleTensors(t testing.TB) map[string]*tensor.Tensor {
	nan := float32(math.NaN())
	return map[string]*tensor.Tensor{
		"conv1.weight":     tensortest.FromSlice(t, []float32{1, -2, 3.5, 0.1, 1e-40, float32(math.Copysign(0, -1)), nan, float32(math.Inf(1))}, 2, 1, 2, 2),
		"bn1.running_mean": tensortest.FromSlice(t, []float32{0.25, -0.5, 7}, 3),
		"fc.bias":          tensortest.FromSlice(t, []float32{42}),
		"empty":            tensortest.FromSlice(t, []float32{}, 0, 5),
	}
}

// sameBits reports whether a and b have the same shape and bit-identical data.
func sameBits(a, b *tensor.Tensor) bool {
	if !tensor.SameShape(a, b) || a.Len() != b.Len() {
		return false
	}
	for i, v := range a.Data() {
		if math.Float32bits(v) != math.Float32bits(b.Data()[i]) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	in := sampleTensors(t)
	meta := map[string]string{"format": "pt", "epoch": "3", "note": `quote " and <html> & ünïcode`}
	if err := Write(path, in, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != len(in) {
		t.Fatalf("read %d tensors, wrote %d", len(f.Tensors), len(in))
	}
	for name, want := range in {
		got := f.Tensors[name]
		if got == nil || !sameBits(got, want) {
			t.Errorf("%s: got %v %v, want %v %v", name, got, got.Data(), want, want.Data())
		}
		if f.DTypes[name] != F32 {
			t.Errorf("%s: dtype %q, want F32", name, f.DTypes[name])
		}
	}
	wantNames := []string{"bn1.running_mean", "conv1.weight", "empty", "fc.bias"}
	if strings.Join(f.Names, ",") != strings.Join(wantNames, ",") {
		t.Errorf("names %v, want sorted %v", f.Names, wantNames)
	}
	for k, v := range meta {
		if f.Metadata[k] != v {
			t.Errorf("metadata %q = %q, want %q", k, f.Metadata[k], v)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Write, want only the file", len(entries))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if hl := binary.LittleEndian.Uint64(mustRead(t, path)[:8]); (8+hl)%8 != 0 {
		t.Errorf("data buffer starts at %d, not 8-byte aligned (file size %d)", 8+hl, st.Size())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := Encode(&a, sampleTensors(t), map[string]string{"b": "2", "a": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&b, sampleTensors(t), map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("encoding the same tensors twice gave different bytes")
	}
	hl := binary.LittleEndian.Uint64(a.Bytes())
	header := string(a.Bytes()[8 : 8+hl])
	want := `{"__metadata__":{"a":"1","b":"2"},"bn1.running_mean":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},`
	if !strings.HasPrefix(header, want) {
		t.Errorf("header starts %.120q, want %q", header, want)
	}
}

func TestWriteRejects(t *testing.T) {
	dir := t.TempDir()
	for name, tensors := range map[string]map[string]*tensor.Tensor{
		"nil tensor":    {"a": nil},
		"reserved name": {"__metadata__": tensor.New(1)},
		"bad utf8":      {"a\xff": tensor.New(1)},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "x.safetensors")
			err := Write(path, tensors, nil)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: err = %v, want an error naming %s", name, err, path)
			}
			if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
				t.Errorf("%s: failed Write left %s behind", name, path)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed Writes left %d temporary files", len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "x.safetensors"), sampleTensors(t), nil); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

// le appends the little-endian bytes of each value, whose Go type picks the
// width.
func le(vals ...any) []byte {
	var b []byte
	for _, v := range vals {
		b, _ = binary.Append(b, binary.LittleEndian, v)
	}
	return b
}

// fileBytes lays out a safetensors file from a header and a data buffer,
// padding the header with spaces to 8-byte alignment as the reference
// writer does.
func fileBytes(header string, data []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	out := le(uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// TestReadPyTorchLayout reads a file laid out byte for byte the way the
// reference (Rust/Python) safetensors writer lays out a torch state dict:
// compact JSON with __metadata__ first, tensors ordered by dtype then name,
// offsets contiguous, the header space-padded to a multiple of 8.
func TestReadPyTorchLayout(t *testing.T) {
	header := `{"__metadata__":{"format":"pt"},` +
		`"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},` +
		`"fc.weight64":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},` +
		`"conv.weight":{"dtype":"F32","shape":[1,1,2,2],"data_offsets":[24,40]},` +
		`"fc.bias":{"dtype":"BF16","shape":[3],"data_offsets":[40,46]},` +
		`"half":{"dtype":"F16","shape":[2,4],"data_offsets":[46,62]},` +
		`"mask":{"dtype":"BOOL","shape":[2],"data_offsets":[62,64]}}`
	if len(header)%8 == 0 {
		t.Fatal("test header needs padding to exercise it")
	}
	var data []byte
	data = append(data, le(int64(390))...)
	data = append(data, le(0.1, -3.0)...)
	data = append(data, le(float32(1), float32(-0.5), float32(2.25), float32(1e-3))...)
	data = append(data, le(uint16(0x3f80), uint16(0xbe20), uint16(0x4049))...)
	data = append(data, le(uint16(0x3c00), uint16(0xc000), uint16(0x3800), uint16(0x7bff),
		uint16(0x0001), uint16(0x03ff), uint16(0x7c00), uint16(0x8000))...)
	data = append(data, 1, 0)
	raw := fileBytes(header, data)
	f, err := Decode(bytes.NewReader(raw), int64(len(raw)), "torch.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"bn.num_batches_tracked": {390},
		"fc.weight64":            {float32(0.1), -3},
		"conv.weight":            {1, -0.5, 2.25, 1e-3},
		"fc.bias":                {1, -0.15625, 3.140625},
		"half":                   {1, -2, 0.5, 65504, 0x1p-24, 1023 * 0x1p-24, float32(math.Inf(1)), float32(math.Copysign(0, -1))},
		"mask":                   {1, 0},
	}
	for name, w := range want {
		got := f.Tensors[name]
		if got == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if !sameBits(got, tensortest.FromSlice(t, w, got.Shape()...)) || got.Len() != len(w) {
			t.Errorf("%s = %v, want %v", name, got.Data(), w)
		}
	}
	if s := f.Tensors["half"].Shape(); len(s) != 2 || s[0] != 2 || s[1] != 4 {
		t.Errorf("half shape %v, want [2 4]", s)
	}
	if s := f.Tensors["bn.num_batches_tracked"].Shape(); len(s) != 0 {
		t.Errorf("scalar shape %v, want []", s)
	}
	if f.DTypes["bn.num_batches_tracked"] != I64 || f.DTypes["fc.bias"] != BF16 {
		t.Errorf("dtypes %v", f.DTypes)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	wantOrder := "bn.num_batches_tracked,fc.weight64,conv.weight,fc.bias,half,mask"
	if got := strings.Join(f.Names, ","); got != wantOrder {
		t.Errorf("names %s, want file order %s", got, wantOrder)
	}
}

func TestHalfConversion(t *testing.T) {
	for _, c := range []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0x3c01, 1 + 0x1p-10}, {0xc000, -2}, {0x3555, 0x1.554p-2},
		{0x7bff, 65504}, {0x0400, 0x1p-14}, {0x0001, 0x1p-24}, {0x8001, -0x1p-24}, {0x03ff, 0x1.ff8p-15},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		t.Run(fmt.Sprintf("%#04x", c.bits), func(t *testing.T) {
			if got := HalfToFloat32(c.bits); got != c.want {
				t.Errorf("HalfToFloat32(%#04x) = %g, want %g", c.bits, got, c.want)
			}
		})
	}
	if got := math.Float32bits(HalfToFloat32(0x8000)); got != 0x80000000 {
		t.Errorf("HalfToFloat32(-0) bits %#x", got)
	}
	if got := math.Float32bits(HalfToFloat32(0x7e01)); got != 0x7fc02000 {
		t.Errorf("NaN payload: bits %#x, want 0x7fc02000", got)
	}
	// Every finite half survives a float32 → float64 round trip of its
	// defining formula.
	for h := range uint32(1 << 16) {
		exp, man := int(h>>10)&0x1f, float64(h&0x3ff)
		if exp == 0x1f {
			continue
		}
		want := math.Ldexp(1+man/1024, exp-15)
		if exp == 0 {
			want = math.Ldexp(man/1024, -14)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if got := HalfToFloat32(uint16(h)); float64(got) != want {
			t.Fatalf("HalfToFloat32(%#04x) = %g, want %g", h, got, want)
		}
	}
}

func TestBFloat16AndFloat8Conversion(t *testing.T) {
	for _, c := range []struct {
		bits uint16
		want float32
	}{
		{0x3f80, 1}, {0xbe20, -0.15625}, {0x4049, 3.140625}, {0x7f7f, 0x1.fep127}, {0x0001, 0x1p-133},
	} {
		t.Run(fmt.Sprintf("%#04x", c.bits), func(t *testing.T) {
			if got := BFloat16ToFloat32(c.bits); got != c.want {
				t.Errorf("BFloat16ToFloat32(%#04x) = %g, want %g", c.bits, got, c.want)
			}
		})
	}
	for _, c := range []struct {
		b    byte
		want float32
	}{
		{0x38, 1}, {0xb8, -1}, {0x7e, 448}, {0x01, 0x1p-9}, {0x08, 0x1p-6}, {0x3c, 1.5},
	} {
		t.Run(fmt.Sprintf("%#02x", c.b), func(t *testing.T) {
			if got := float8E4M3ToFloat32(c.b); got != c.want {
				t.Errorf("E4M3 %#02x = %g, want %g", c.b, got, c.want)
			}
		})
	}
	if !math.IsNaN(float64(float8E4M3ToFloat32(0x7f))) {
		t.Error("E4M3 0x7f is not NaN")
	}
	dst := make([]float32, 3)
	convertF8E5M2(dst, []byte{0x3c, 0x7b, 0x01}) // 1, 57344, 2^-16
	if dst[0] != 1 || dst[1] != 57344 || dst[2] != 0x1p-16 {
		t.Errorf("E5M2 = %v", dst)
	}
}

func TestIntegerDTypes(t *testing.T) {
	header := `{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"U8","shape":[2],"data_offsets":[8,10]},` +
		`"c":{"dtype":"I8","shape":[2],"data_offsets":[10,12]},` +
		`"d":{"dtype":"I16","shape":[1],"data_offsets":[12,14]},` +
		`"e":{"dtype":"U16","shape":[1],"data_offsets":[14,16]},` +
		`"f":{"dtype":"U32","shape":[1],"data_offsets":[16,20]},` +
		`"g":{"dtype":"U64","shape":[1],"data_offsets":[20,28]}}`
	data := le(int32(-1<<24), int32(7), uint8(255), uint8(0), int8(-128), int8(5), int16(-300), uint16(65535), uint32(1<<24), uint64(3))
	raw := fileBytes(header, data)
	f, err := Decode(bytes.NewReader(raw), int64(len(raw)), "ints")
	if err != nil {
		t.Fatal(err)
	}
	got := []float32{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		got = append(got, f.Tensors[n].Data()...)
	}
	want := []float32{-1 << 24, 7, 255, 0, -128, 5, -300, 65535, 1 << 24, 3}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("integer values %v, want %v", got, want)
		}
	}
}

// TestCorrupt checks that malformed files fail with a FormatError naming
// the file, the tensor where there is one, and the problem.
func TestCorrupt(t *testing.T) {
	f32 := func(name, shape, offs string) string {
		return `"` + name + `":{"dtype":"F32","shape":` + shape + `,"data_offsets":` + offs + `}`
	}
	cases := []struct {
		name, tensor, problem string
		raw                   []byte
	}{
		{"short", "", "too short", []byte{1, 2, 3}},
		{"huge header", "", "limit", le(uint64(1 << 40))},
		{"header past end", "", "exceeds the 4 bytes", append(le(uint64(100)), "{}  "...)},
		{"not json", "", "not a JSON object", fileBytes(`nope`, nil)},
		{"array", "", "not a JSON object", fileBytes(`[]`, nil)},
		{"trailing junk", "", "after the JSON header", fileBytes(`{}x`, nil)},
		{"second object", "", "after the JSON header", fileBytes(`{}{}`, nil)},
		{"unterminated", "a", "invalid JSON", fileBytes(`{"a":{"dtype"`, nil)},
		{"bad metadata", "", "__metadata__", fileBytes(`{"__metadata__":{"a":1}}`, nil)},
		{"duplicate", "a", "twice", fileBytes(`{`+f32("a", "[1]", "[0,4]")+`,`+f32("a", "[1]", "[4,8]")+`}`, make([]byte, 8))},
		{"unknown dtype", "a", `unknown dtype "F128"`, fileBytes(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16))},
		{"no dtype", "a", "no dtype", fileBytes(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4))},
		{"no shape", "a", "no shape", fileBytes(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4))},
		{"no offsets", "a", "no data_offsets", fileBytes(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4))},
		{"null entry", "a", "no dtype", fileBytes(`{"a":null}`, nil)},
		{"negative dim", "a", "invalid dimension -1", fileBytes(`{`+f32("a", "[-1]", "[0,4]")+`}`, make([]byte, 4))},
		{"fractional dim", "a", "invalid header record", fileBytes(`{`+f32("a", "[1.5]", "[0,4]")+`}`, make([]byte, 4))},
		{"three offsets", "a", "3 values", fileBytes(`{`+f32("a", "[1]", "[0,4,8]")+`}`, make([]byte, 8))},
		{"negative offset", "a", "invalid header record", fileBytes(`{`+f32("a", "[1]", "[-4,0]")+`}`, make([]byte, 4))},
		{"reversed", "a", "begin after", fileBytes(`{`+f32("a", "[0]", "[4,0]")+`}`, make([]byte, 4))},
		{"past buffer", "a", "run past the 4-byte", fileBytes(`{`+f32("a", "[2]", "[0,8]")+`}`, make([]byte, 4))},
		{"size mismatch", "a", "needs 12 bytes", fileBytes(`{`+f32("a", "[3]", "[0,8]")+`}`, make([]byte, 8))},
		{"overflowing shape", "a", "more than 2^64", fileBytes(`{`+f32("a", "[4294967296,4294967296]", "[0,8]")+`}`, make([]byte, 8))},
		{"overlap", "b", `overlaps tensor "a"`, fileBytes(`{`+f32("a", "[2]", "[0,8]")+`,`+f32("b", "[2]", "[4,12]")+`}`, make([]byte, 12))},
		{"gap", "b", "unused", fileBytes(`{`+f32("a", "[1]", "[0,4]")+`,`+f32("b", "[1]", "[8,12]")+`}`, make([]byte, 12))},
		{"trailing bytes", "", "cover 4 bytes but the data buffer has 8", fileBytes(`{`+f32("a", "[1]", "[0,4]")+`}`, make([]byte, 8))},
		{"int too big", "n", "not exactly representable", fileBytes(`{"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, le(int64(1<<24+1)))},
		{"bool not 0/1", "m", "not exactly representable", fileBytes(`{"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, []byte{2})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(c.raw), int64(len(c.raw)), "bad.safetensors")
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("%s: err = %v, want a *FormatError", c.name, err)
				return
			}
			if fe.File != "bad.safetensors" || fe.Tensor != c.tensor || !strings.Contains(fe.Problem, c.problem) {
				t.Errorf("%s: got %q, want tensor %q and a problem containing %q", c.name, err, c.tensor, c.problem)
			}
			if !strings.Contains(err.Error(), "bad.safetensors") {
				t.Errorf("%s: message %q does not name the file", c.name, err)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, sampleTensors(t), map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	for n := range len(raw) {
		if _, err := Decode(bytes.NewReader(raw[:n]), int64(n), "cut"); err == nil {
			t.Fatalf("decoding the first %d of %d bytes succeeded", n, len(raw))
		}
	}
	// A reader shorter than the size it claims fails with an I/O error.
	if _, err := Decode(bytes.NewReader(raw[:len(raw)-3]), int64(len(raw)), "liar"); err == nil || !strings.Contains(err.Error(), "liar") {
		t.Errorf("short reader: err = %v", err)
	}
}

func TestReadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.safetensors")
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want one naming %s", err, path)
	}
}

// TestLargeTensor crosses the chunk boundary of reads and writes.
func TestLargeTensor(t *testing.T) {
	n := 3*chunkBytes/4 + 5
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i) * 0.5
	}
	var b bytes.Buffer
	if err := Encode(&b, map[string]*tensor.Tensor{"w": tensortest.FromSlice(t, data, n)}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Decode(bytes.NewReader(b.Bytes()), int64(b.Len()), "big")
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(f.Tensors["w"], tensortest.FromSlice(t, data, n)) {
		t.Error("large tensor did not round-trip")
	}
}
