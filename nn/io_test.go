package nn

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/safetensors"
	"github.com/bulwark-ml/bulwark/tensor"
)

// TestSaveLoad: a saved model loads back, by Load alone, as the same
// function; a checkpoint-format file loads its model tensors; a bare
// state dict (PyTorch's) needs the architecture and takes the class count
// from the head; files that do not fit the images are errors naming them.
func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{InChannels: 1, NumClasses: 7, ImageSize: 16, Width: 0.5, Seed: 3}
	m, err := New("smallcnn", cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(2, 1, 16, 16)
	for i := range x.Data() {
		x.Data()[i] = float32(i%13) / 13
	}
	want := evalLogits(m, x)
	mc, _ := json.Marshal(cfg)
	path := filepath.Join(dir, "m.safetensors")
	if err := Save(path, m, map[string]string{"model": string(mc), "epoch": "4"}); err != nil {
		t.Fatal(err)
	}
	got, w, err := Load(path, LoadOptions{InChannels: 1, ImageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if w.Arch != "smallcnn" || w.Epoch != 4 || w.Model.NumClasses != 7 {
		t.Errorf("recorded arch %q, epoch %d, classes %d; want smallcnn, 4, 7", w.Arch, w.Epoch, w.Model.NumClasses)
	}
	if !slices.Equal(evalLogits(got, x), want) {
		t.Errorf("the loaded model computes another function")
	}

	// A checkpoint: the model's tensors under the prefix, beside others.
	ck := map[string]*tensor.Tensor{"optim.step": tensor.New(1)}
	for k, v := range StateMap(StateDict(m)) {
		ck[CheckpointModelPrefix+k] = v
	}
	ckPath := filepath.Join(dir, "ck.safetensors")
	if err := safetensors.Write(ckPath, ck, map[string]string{"format": CheckpointFormat, "arch": "smallcnn", "model": string(mc)}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := Load(ckPath, LoadOptions{}); err != nil || !slices.Equal(evalLogits(got, x), want) {
		t.Errorf("checkpoint: %v", err)
	}

	// A bare state dict: no metadata.
	bare := filepath.Join(dir, "bare.safetensors")
	if err := SaveState(bare, StateMap(StateDict(m)), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(bare, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "bare.safetensors records no architecture") {
		t.Errorf("bare state dict without Arch: %v", err)
	}
	got, _, err = Load(bare, LoadOptions{Arch: "smallcnn", Width: 0.5, InChannels: 1, ImageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if got.(*Net).NumClasses() != 7 || !slices.Equal(evalLogits(got, x), want) {
		t.Errorf("bare state dict: %d classes (want 7 from the head), or another function", got.(*Net).NumClasses())
	}

	for _, tc := range []struct {
		o    LoadOptions
		want string
	}{
		{LoadOptions{InChannels: 3}, "images have 3 channels but the model in"},
		{LoadOptions{ImageSize: 28}, "images are 28×28 but the model in"},
		{LoadOptions{Arch: "resnet8"}, "m.safetensors"},
		{LoadOptions{Arch: "resnet9"}, "resnet9"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if _, _, err := Load(path, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: error %v, want one mentioning %q", tc.o, err, tc.want)
			}
		})
	}
	if _, _, err := Load(filepath.Join(dir, "none.safetensors"), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "none.safetensors") {
		t.Errorf("missing file: %v", err)
	}
}
