package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/bulwark-ml/bulwark/internal/atomicfile"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Write saves tensors as F32, with metadata (which may be nil), to path.
// Names are laid out in sorted order, so equal inputs give identical
// files. The file is written atomically: to a temporary file in the same
// directory, synced, then renamed over path, so a crash never leaves a
// half-written checkpoint behind.
func Write(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	err := atomicfile.Write(path, func(w io.Writer) error { return encode(w, tensors, metadata) })
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}

// Encode writes tensors as F32, with metadata (which may be nil), to w in
// the layout Write uses.
func Encode(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	if err := encode(w, tensors, metadata); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	return nil
}

func encode(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	header, names, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	buf := make([]byte, chunkBytes)
	for _, name := range names {
		data := tensors[name].Data()
		for lo := 0; lo < len(data); lo += chunkBytes / 4 {
			chunk := data[lo:min(lo+chunkBytes/4, len(data))]
			for i, v := range chunk {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*len(chunk)]); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildHeader returns the JSON header, padded with spaces so the data
// buffer starts 8-byte aligned, and the tensor names in data order.
func buildHeader(tensors map[string]*tensor.Tensor, metadata map[string]string) ([]byte, []string, error) {
	names := make([]string, 0, len(tensors))
	for name, t := range tensors {
		if t == nil {
			return nil, nil, fmt.Errorf("tensor %q is nil", name)
		}
		if !utf8.ValidString(name) {
			return nil, nil, fmt.Errorf("tensor name %q is not valid UTF-8", name)
		}
		if name == metadataKey {
			return nil, nil, fmt.Errorf("tensor name %q is reserved for metadata", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var h bytes.Buffer
	h.WriteByte('{')
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("metadata %q: %q is not valid UTF-8", k, v)
		}
	}
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata) // maps marshal with sorted keys
		if err != nil {
			return nil, nil, err
		}
		h.WriteString(`"__metadata__":`)
		h.Write(m)
	}
	var offset uint64
	for _, name := range names {
		t := tensors[name]
		if h.Len() > 1 {
			h.WriteByte(',')
		}
		key, err := json.Marshal(name)
		if err != nil {
			return nil, nil, err
		}
		h.Write(key)
		h.WriteString(`:{"dtype":"F32","shape":[`)
		for i, d := range t.Shape() {
			if i > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := offset + 4*uint64(t.Len())
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), names, nil
}
