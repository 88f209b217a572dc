package train

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/bulwark-ml/bulwark/internal/configdiff"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-ml/bulwark/internal/atomicfile"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/safetensors"
	"github.com/bulwark-ml/bulwark/tensor"
)

// A checkpoint is one safetensors file holding the model state dict under
// "model.", the optimizer state under "optim." and the EMA shadow under
// "ema.", with metadata:
//
//	format       nn.CheckpointFormat
//	arch, epoch  the architecture and the number of epochs completed
//	config       the Config as JSON
//	model        the nn.Config the model was built with, as JSON
//	step         optimizer steps taken
//	rng          the run's RNG state, base64
//	ema_updates  the EMA's update count (with EMA)
//	elapsed      wall seconds of the run so far
//
// safetensors.Write replaces the file atomically (temporary file, sync,
// rename), so a run killed mid-write leaves the previous checkpoint.

// Prefixes of the tensor groups in a checkpoint.
const (
	modelPrefix = nn.CheckpointModelPrefix
	optimPrefix = "optim."
	emaPrefix   = "ema."
)

// save writes the checkpoint, the model weights and, with EMA, the
// averaged weights.
func (t *Trainer) save() error {
	meta, err := t.modelMeta()
	if err != nil {
		return err
	}
	ts := map[string]*tensor.Tensor{}
	for _, e := range nn.StateDict(t.model) {
		ts[modelPrefix+e.Name] = e.T
	}
	for k, v := range t.opt.State() {
		ts[optimPrefix+k] = v
	}
	var emaState map[string]*tensor.Tensor
	if t.ema != nil {
		emaState = t.ema.State()
		for k, v := range emaState {
			ts[emaPrefix+k] = v
		}
	}
	rng, err := t.rng.State()
	if err != nil {
		return fmt.Errorf("train: saving the RNG state: %w", err)
	}
	ck := map[string]string{
		"format":  nn.CheckpointFormat,
		"step":    strconv.Itoa(t.steps),
		"rng":     base64.StdEncoding.EncodeToString(rng),
		"elapsed": strconv.FormatFloat(t.elapsed.Seconds(), 'g', -1, 64),
	}
	for k, v := range meta {
		ck[k] = v
	}
	if t.ema != nil {
		ck["ema_updates"] = strconv.Itoa(t.ema.Updates())
	}
	// The weight files go first and the checkpoint last: the checkpoint is
	// the commit point. A kill in between leaves weights one epoch ahead of
	// the checkpoint, which the resumed run recomputes and rewrites
	// identically; the other order could leave the final weights stale
	// behind a finished checkpoint.
	if err := nn.Save(filepath.Join(t.cfg.Out, ModelFile), t.model, meta); err != nil {
		return err
	}
	if t.ema != nil {
		if err := nn.SaveState(filepath.Join(t.cfg.Out, EMAModelFile), emaState, meta); err != nil {
			return err
		}
	}
	return safetensors.Write(filepath.Join(t.cfg.Out, CheckpointFile), ts, ck)
}

// modelMeta is the metadata of a weights file: arch, epoch, config and
// model config.
func (t *Trainer) modelMeta() (map[string]string, error) {
	cfg, err := json.Marshal(t.cfg)
	if err != nil {
		return nil, err
	}
	mc, err := json.Marshal(t.ncfg)
	if err != nil {
		return nil, err
	}
	return map[string]string{"arch": t.cfg.Arch, "epoch": strconv.Itoa(t.epoch), "config": string(cfg), "model": string(mc)}, nil
}

// ReadConfig returns the Config stored in the checkpoint of run directory
// dir, so a resumed run can take its settings from there.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, CheckpointFile)
	f, err := safetensors.Read(path)
	if err != nil {
		return Config{}, err
	}
	return checkpointConfig(path, f)
}

// checkpointConfig checks that f is a checkpoint and decodes its Config.
func checkpointConfig(path string, f *safetensors.File) (Config, error) {
	var c Config
	if got := f.Metadata["format"]; got != nn.CheckpointFormat {
		return c, fmt.Errorf("%s: not a bulwark checkpoint (format %q, want %q)", path, got, nn.CheckpointFormat)
	}
	if err := json.Unmarshal([]byte(f.Metadata["config"]), &c); err != nil {
		return c, fmt.Errorf("%s: metadata \"config\": %w", path, err)
	}
	return c, nil
}

// resume restores the run from the checkpoint at path.
func (t *Trainer) resume(path string) error {
	f, err := safetensors.Read(path)
	if err != nil {
		return WrapField("Resume", err, "")
	}
	stored, err := checkpointConfig(path, f)
	if err != nil {
		return WrapField("Resume", err, "")
	}
	if field := configDiff(stored, t.cfg); field != "" {
		return FieldErrorf("Resume", "%s: setting %q differs from the checkpoint's; a resumed run must use the same settings", path, field)
	}
	groups := map[string]map[string]*tensor.Tensor{modelPrefix: {}, optimPrefix: {}, emaPrefix: {}}
	for name, v := range f.Tensors {
		p, _, _ := strings.Cut(name, ".")
		g, ok := groups[p+"."]
		if !ok {
			return FieldErrorf("Resume", "%s: unexpected tensor %q", path, name)
		}
		g[strings.TrimPrefix(name, p+".")] = v
	}
	fail := func(err error) error { return WrapField("Resume", err, "%s", path) }
	epoch, err := metaInt(f, "epoch")
	if err != nil {
		return fail(err)
	}
	steps, err := metaInt(f, "step")
	if err != nil {
		return fail(err)
	}
	if epoch > t.cfg.Epochs || steps != epoch*t.batcher.Len() {
		return fail(fmt.Errorf("epoch %d and step %d do not fit a run of %d epochs of %d steps", epoch, steps, t.cfg.Epochs, t.batcher.Len()))
	}
	rng, err := base64.StdEncoding.DecodeString(f.Metadata["rng"])
	if err != nil {
		return fail(fmt.Errorf("metadata \"rng\": %w", err))
	}
	if err := nn.LoadStateDict(t.model, groups[modelPrefix]); err != nil {
		return fail(err)
	}
	if err := t.opt.LoadState(groups[optimPrefix]); err != nil {
		return fail(err)
	}
	if t.ema != nil {
		n, err := metaInt(f, "ema_updates")
		if err != nil {
			return fail(err)
		}
		if err := t.ema.LoadState(groups[emaPrefix], n); err != nil {
			return fail(err)
		}
	}
	if err := t.rng.SetState(rng); err != nil {
		return fail(fmt.Errorf("metadata \"rng\": %w", err))
	}
	if s, err := strconv.ParseFloat(f.Metadata["elapsed"], 64); err == nil {
		t.elapsed = time.Duration(s * float64(time.Second))
	}
	t.epoch, t.steps = epoch, steps
	return trimMetrics(filepath.Join(t.cfg.Out, MetricsFile), epoch)
}

// metaInt parses the non-negative integer metadata entry key of f.
func metaInt(f *safetensors.File, key string) (int, error) {
	n, err := strconv.Atoi(f.Metadata[key])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("metadata %q = %q is not a non-negative integer", key, f.Metadata[key])
	}
	return n, nil
}

// configDiff returns the JSON name of the first setting that differs
// between a and b, ignoring those that do not change the result's
// meaning (threads and the output directory) and the Recording note,
// which the recorder checks against its own files, or "".
func configDiff(a, b Config) string {
	a.Threads, b.Threads = 0, 0
	a.Out, b.Out = "", ""
	a.Recording, b.Recording = Recording{}, Recording{}
	return configdiff.First(a, b)
}

// appendMetrics appends m as one JSON line to path.
func appendMetrics(path string, m Metrics) error {
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("train: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("train: %s: %w", path, err)
	}
	return nil
}

// ReadMetrics reads a run's metrics.jsonl: one Metrics per epoch, in
// order. Lines that are not metrics are skipped (a killed run may leave a
// partial last line); a missing file is an error.
func ReadMetrics(path string) ([]Metrics, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var ms []Metrics
	for sc := bufio.NewScanner(bytes.NewReader(raw)); sc.Scan(); {
		var m Metrics
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Epoch >= 1 {
			ms = append(ms, m)
		}
	}
	return ms, nil
}

// trimMetrics drops from the metrics file at path the lines of epochs
// after epoch, which a killed run may have written after its last
// checkpoint, so a resumed run's file has one line per epoch.
func trimMetrics(path string, epoch int) error {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return WrapField("Resume", err, "")
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var m struct{ Epoch int }
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Epoch >= 1 && m.Epoch <= epoch {
			keep.Write(sc.Bytes())
			keep.WriteByte('\n')
		}
	}
	if bytes.Equal(keep.Bytes(), raw) {
		return nil
	}
	err = atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(keep.Bytes()); return err })
	if err != nil {
		return WrapField("Resume", err, "")
	}
	return nil
}
