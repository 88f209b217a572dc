package nn

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/safetensors"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Weights files are safetensors files. bulwark's record the model in
// their metadata: "arch" (an Archs name), "model" (the Config as JSON)
// and "epoch". A training checkpoint (metadata "format" = CheckpointFormat)
// holds the state dict under CheckpointModelPrefix beside the optimizer's
// and the weight average's state; reading it as weights takes the model's.
// A PyTorch state dict saved with safetensors records nothing: the caller
// names the architecture.
const (
	CheckpointFormat      = "bulwark-checkpoint-v1"
	CheckpointModelPrefix = "model."
)

// Weights is a state dict read from a weights file, with what the file
// says about the model.
type Weights struct {
	Path  string
	Arch  string // "" if the file does not say
	Model Config // zero fields where the file does not say
	Epoch int    // −1 if the file does not say
	Meta  map[string]string
	State map[string]*tensor.Tensor
}

// ReadWeights reads the weights file at path; errors name it.
func ReadWeights(path string) (*Weights, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	w := &Weights{Path: path, Arch: f.Metadata["arch"], Epoch: -1, Meta: f.Metadata, State: f.Tensors}
	if s, ok := f.Metadata["model"]; ok {
		if err := json.Unmarshal([]byte(s), &w.Model); err != nil {
			return nil, fmt.Errorf("%s: metadata \"model\": %w", path, err)
		}
	}
	if e, err := strconv.Atoi(f.Metadata["epoch"]); err == nil {
		w.Epoch = e
	}
	if f.Metadata["format"] == CheckpointFormat {
		w.State = map[string]*tensor.Tensor{}
		for name, t := range f.Tensors {
			if k, ok := strings.CutPrefix(name, CheckpointModelPrefix); ok {
				w.State[k] = t
			}
		}
	}
	return w, nil
}

// LoadOptions complete or override what a weights file says.
type LoadOptions struct {
	// Arch names the architecture when the file does not (a PyTorch
	// state dict), or overrides it.
	Arch string
	// Width overrides the file's channel multiplier; 0 keeps it (1 if
	// the file does not say).
	Width float64
	// InChannels and ImageSize describe the images the model will take:
	// they fill in what the file does not say, and a file that says
	// otherwise is an error. 0 leaves them to the file or the defaults.
	InChannels, ImageSize int
}

// Load reads the weights file at path and builds its model, the one way
// bulwark loads weights: its own model files and checkpoints, and
// PyTorch state dicts with torchvision-style names (given o.Arch). When
// the file does not record the class count, it is taken from the head's
// bias in the file. Errors name the file.
func Load(path string, o LoadOptions) (FeatureModel, *Weights, error) {
	w, err := ReadWeights(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := w.Build(o)
	return m, w, err
}

// Build makes the model w holds, completed by o (see Load).
func (w *Weights) Build(o LoadOptions) (FeatureModel, error) {
	arch := o.Arch
	if arch == "" {
		if arch = w.Arch; arch == "" {
			return nil, fmt.Errorf("%s records no architecture; name one (%v)", w.Path, Archs())
		}
	}
	cfg, err := w.config(arch, o)
	if err != nil {
		return nil, err
	}
	m, err := New(arch, cfg)
	if err != nil {
		return nil, err
	}
	if ps := m.Params(); len(ps) > 0 && w.Model.NumClasses == 0 {
		last := ps[len(ps)-1]
		if t := w.State[last.Name]; t != nil && t.Rank() == 1 && t.Len() != last.Var.Value.Len() && t.Len() > 0 {
			cfg.NumClasses = t.Len()
			if m, err = New(arch, cfg); err != nil {
				return nil, err
			}
		}
	}
	if err := LoadStateDict(m, w.State); err != nil {
		return nil, fmt.Errorf("%s: %w", w.Path, err)
	}
	return m, nil
}

// config returns the model settings recorded in the file, completed and
// checked by o: other channels, or another side for smallcnn (the only
// architecture whose layers depend on it), are errors naming the file.
func (w *Weights) config(arch string, o LoadOptions) (Config, error) {
	cfg := w.Model
	switch {
	case o.InChannels != 0 && cfg.InChannels != 0 && cfg.InChannels != o.InChannels:
		return cfg, fmt.Errorf("images have %d channels but the model in %s takes %d", o.InChannels, w.Path, cfg.InChannels)
	case o.ImageSize != 0 && cfg.ImageSize != 0 && cfg.ImageSize != o.ImageSize && arch == "smallcnn":
		return cfg, fmt.Errorf("images are %d×%d but the model in %s takes %d×%d", o.ImageSize, o.ImageSize, w.Path, cfg.ImageSize, cfg.ImageSize)
	}
	if cfg.InChannels == 0 {
		cfg.InChannels = o.InChannels
	}
	if cfg.ImageSize == 0 {
		cfg.ImageSize = o.ImageSize
	}
	if o.Width != 0 {
		cfg.Width = o.Width
	}
	return cfg, nil
}

// Save writes m's state dict to path, atomically, with meta (which may be
// nil) and, when m is a Net, its architecture in "arch" unless meta has
// one: the one way bulwark writes weights, readable by Load and by
// safetensors' Python loaders.
func Save(path string, m Module, meta map[string]string) error {
	if n, ok := m.(*Net); ok && meta["arch"] == "" {
		meta = withEntry(meta, "arch", n.Arch())
	}
	return SaveState(path, StateMap(StateDict(m)), meta)
}

// SaveState writes a state dict (a model's, or a weight average's) to
// path, atomically, with meta.
func SaveState(path string, state map[string]*tensor.Tensor, meta map[string]string) error {
	return safetensors.Write(path, state, meta)
}

// withEntry returns a copy of meta with key set to v.
func withEntry(meta map[string]string, key, v string) map[string]string {
	out := make(map[string]string, len(meta)+1)
	for k, x := range meta {
		out[k] = x
	}
	out[key] = v
	return out
}
