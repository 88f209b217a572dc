package data

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// idxBytes encodes an IDX file of unsigned bytes with the given dims.
func idxBytes(dims []int, payload []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, payload...)
}

// gz compresses b.
func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// npyBytes encodes data as a .npy file in memory.
func npyBytes[T Elem](shape []int, data []T) []byte {
	b := npyHeader(dtypeOf[T](), shape)
	b, _ = binary.Append(b, binary.LittleEndian, data)
	return b
}

// zipMember is one member of a test .npz.
type zipMember struct {
	name   string
	data   []byte
	method uint16
}

// npzBytes builds a zip archive of the members.
func npzBytes(t testing.TB, members ...zipMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pattern returns n deterministic pseudo-random bytes.
func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(tensor.SplitMix64(seed+uint64(i)) >> 56)
	}
	return b
}

// openError is a dataset spec that Open must refuse, and what its error
// must mention besides the quoted spec.
type openError struct{ spec, want string }

// checkOpenErrors checks, in a subtest for each case, that Open refuses
// the case's spec with an error that quotes the spec and mentions want.
// name, if not nil, shortens the spec for the subtest's name (a temporary
// path in it, say).
func checkOpenErrors(t *testing.T, name *strings.Replacer, cases []openError) {
	for _, tc := range cases {
		sub := tc.spec
		if name != nil {
			sub = name.Replace(sub)
		}
		t.Run(sub, func(t *testing.T) {
			_, _, err := Open(tc.spec)
			wantErr(t, err, `"`+tc.spec+`"`, tc.want)
		})
	}
}

// wantErr fails unless err is non-nil and mentions every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// image returns sample i of ds, failing the test on error.
func image(t testing.TB, ds Dataset, i int) []float32 {
	t.Helper()
	c, h, w := ds.Shape()
	dst := make([]float32, c*h*w)
	if err := ds.Image(i, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// checkU8 checks that ds's images are pix (CHW bytes per sample) / 255
// exactly and its labels are lab.
func checkU8(t *testing.T, ds Dataset, pix []byte, lab []int) {
	t.Helper()
	if ds.Len() != len(lab) {
		t.Fatalf("Len = %d, want %d", ds.Len(), len(lab))
	}
	c, h, w := ds.Shape()
	chw := c * h * w
	for i := range lab {
		if got := ds.Label(i); got != lab[i] {
			t.Fatalf("Label(%d) = %d, want %d", i, got, lab[i])
		}
		img := image(t, ds, i)
		for k, v := range img {
			if want := float32(pix[i*chw+k]) / 255; v != want {
				t.Fatalf("sample %d element %d = %v, want %v", i, k, v, want)
			}
		}
	}
}

// hwcToCHW transposes n samples of h×w×c bytes to c×h×w.
func hwcToCHW(b []byte, n, h, w, c int) []byte {
	out := make([]byte, len(b))
	for i := range n {
		for p := range h * w {
			for ch := range c {
				out[i*h*w*c+ch*h*w+p] = b[i*h*w*c+p*c+ch]
			}
		}
	}
	return out
}

// decodeAll decodes every sample of a small ds, to prove no panic and
// that any error (such as a NaN pixel) names the file, which is under dir.
func decodeAll(t testing.TB, ds Dataset, dir string) {
	c, h, w := ds.Shape()
	if ds.Len()*c*h*w > 1<<22 {
		return
	}
	dst := make([]float32, c*h*w)
	for i := range ds.Len() {
		if err := ds.Image(i, dst); err != nil && !strings.Contains(err.Error(), dir) {
			t.Fatalf("sample %d: error %q names no file", i, err)
		}
		if l := ds.Label(i); l < 0 || l >= ds.Classes() {
			t.Fatalf("label %d of sample %d not in [0, %d)", l, i, ds.Classes())
		}
	}
}
