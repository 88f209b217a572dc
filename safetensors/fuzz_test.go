package safetensors

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and
// whatever it accepts must survive an Encode/Decode round trip bit for bit.
func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	if err := Encode(&b, sampleTensors(f), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	valid := b.Bytes()
	f.Add(valid)
	for _, n := range []int{0, 7, 8, 9, len(valid) / 2, len(valid) - 1} {
		f.Add(valid[:n])
	}
	f.Add(fileBytes(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"i":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`,
		le(uint16(0x3c00), uint16(0x7e01), int64(-5))))
	f.Add(fileBytes(`{"__metadata__":null,"z":{"dtype":"BF16","shape":[0,9],"data_offsets":[0,0]}}`, nil))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := Decode(bytes.NewReader(raw), int64(len(raw)), "fuzz")
		if err != nil {
			return
		}
		var re bytes.Buffer
		if err := Encode(&re, got.Tensors, got.Metadata); err != nil {
			t.Fatalf("re-encoding a decoded file: %v", err)
		}
		again, err := Decode(bytes.NewReader(re.Bytes()), int64(re.Len()), "re-encoded")
		if err != nil {
			t.Fatalf("decoding a re-encoded file: %v", err)
		}
		for name, x := range got.Tensors {
			if y := again.Tensors[name]; y == nil || !sameBits(x, y) {
				t.Fatalf("tensor %q changed in the round trip", name)
			}
		}
	})
}
