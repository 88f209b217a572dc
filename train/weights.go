package train

import (
	"encoding/json"
	"fmt"
	"github.com/bulwark-ml/bulwark/data"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/safetensors"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Weights is a model state dict read from a safetensors file, with what
// its metadata says about the model. Files written by bulwark (model.safetensors,
// model_ema.safetensors, checkpoint.safetensors) carry all of it; a
// PyTorch state dict saved with safetensors carries none, and the caller
// supplies the architecture.
type Weights struct {
	Path  string
	Arch  string    // "" if the file does not say
	Model nn.Config // zero fields where the file does not say
	Epoch int       // -1 if the file does not say
	State map[string]*tensor.Tensor
}

// ReadWeights reads the weights file at path. For a checkpoint it returns
// the model state dict (the "model." tensors).
func ReadWeights(path string) (*Weights, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	w := &Weights{Path: path, Arch: f.Metadata["arch"], Epoch: -1, State: f.Tensors}
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
			if k, ok := strings.CutPrefix(name, modelPrefix); ok {
				w.State[k] = t
			}
		}
	}
	return w, nil
}

// Build makes the model arch with cfg and loads the weights into it. When
// the file does not record the class count, it is taken from the shape of
// the model's last parameter (the head's bias) in the file. Errors name
// the file.
func (w *Weights) Build(arch string, cfg nn.Config) (nn.FeatureModel, error) {
	m, err := nn.New(arch, cfg)
	if err != nil {
		return nil, err
	}
	if ps := m.Params(); len(ps) > 0 && w.Model.NumClasses == 0 {
		last := ps[len(ps)-1]
		if t := w.State[last.Name]; t != nil && t.Rank() == 1 && t.Len() != last.Var.Value.Len() && t.Len() > 0 {
			cfg.NumClasses = t.Len()
			if m, err = nn.New(arch, cfg); err != nil {
				return nil, err
			}
		}
	}
	if err := nn.LoadStateDict(m, w.State); err != nil {
		return nil, fmt.Errorf("%s: %w", w.Path, err)
	}
	return m, nil
}

// ConfigFor returns the model settings recorded in the file, completed for
// images like those of ds (channels and side where the file does not say),
// or an error naming the file when the images do not fit the model of
// arch: other channels, non-square images, or another side for smallcnn
// (the only architecture whose layers depend on it).
func (w *Weights) ConfigFor(arch string, ds data.Dataset) (nn.Config, error) {
	cfg := w.Model
	c, h, wd := ds.Shape()
	switch {
	case cfg.InChannels != 0 && cfg.InChannels != c:
		return cfg, fmt.Errorf("images have %d channels but the model in %s takes %d", c, w.Path, cfg.InChannels)
	case h != wd:
		return cfg, fmt.Errorf("images are %d×%d, want square ones", h, wd)
	case cfg.ImageSize != 0 && cfg.ImageSize != h && arch == "smallcnn":
		return cfg, fmt.Errorf("images are %d×%d but the model in %s takes %d×%d", h, wd, w.Path, cfg.ImageSize, cfg.ImageSize)
	}
	if cfg.InChannels == 0 {
		cfg.InChannels = c
	}
	if cfg.ImageSize == 0 {
		cfg.ImageSize = h
	}
	return cfg, nil
}
