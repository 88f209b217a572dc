package nn

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-ml/bulwark/tensor"
)

// writeTorchLayout writes sd as PyTorch's safetensors.torch.save_file lays
// out a state dict, built here from the format's specification: F32
// tensors, and each num_batches_tracked as a 0-dim I64 counter (or left
// out, as older checkpoints and other tools do, if counters is false).
func writeTorchLayout(t *testing.T, path string, names []string, sd map[string]*tensor.Tensor, counters bool) {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, name := range names {
		v := sd[name]
		begin := len(data)
		entry := map[string]any{}
		if len(name) > 20 && name[len(name)-20:] == ".num_batches_tracked" {
			if !counters {
				continue
			}
			data = binary.LittleEndian.AppendUint64(data, uint64(int64(v.Data()[0])))
			entry["dtype"], entry["shape"] = "I64", []int{}
		} else {
			for _, x := range v.Data() {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(x))
			}
			entry["dtype"], entry["shape"] = "F32", v.Shape()
		}
		entry["data_offsets"] = []int{begin, len(data)}
		header[name] = entry
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	if err := os.WriteFile(path, append(append(out, h...), data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ref64 is a float64 forward pass of the CIFAR ResNet-8 written from its
// definition (conv 3×3 stem, BatchNorm in eval mode, ReLU, three
// BasicBlocks with a 1×1 projection shortcut where the shape changes,
// global average pooling, Linear) over a state dict: the reference the
// loaded model's logits are checked against.
type ref64 struct{ sd map[string]*tensor.Tensor }

// act is a C×H×W activation.
type act struct {
	c, h, w int
	v       []float64
}

func (r ref64) conv(x act, name string, stride, pad int) act {
	wt := r.sd[name]
	co, ci, k := wt.Dim(0), wt.Dim(1), wt.Dim(2)
	h, w := (x.h+2*pad-k)/stride+1, (x.w+2*pad-k)/stride+1
	y := act{co, h, w, make([]float64, co*h*w)}
	for o := range co {
		for i := range h {
			for j := range w {
				var s float64
				for c := range ci {
					for a := range k {
						for b := range k {
							yi, xj := i*stride+a-pad, j*stride+b-pad
							if yi >= 0 && yi < x.h && xj >= 0 && xj < x.w {
								s += float64(wt.Data()[((o*ci+c)*k+a)*k+b]) * x.v[(c*x.h+yi)*x.w+xj]
							}
						}
					}
				}
				y.v[(o*h+i)*w+j] = s
			}
		}
	}
	return y
}

func (r ref64) bn(x act, name string, relu bool) act {
	g, b, m, v := r.sd[name+".weight"].Data(), r.sd[name+".bias"].Data(), r.sd[name+".running_mean"].Data(), r.sd[name+".running_var"].Data()
	y := act{x.c, x.h, x.w, make([]float64, len(x.v))}
	for c := range x.c {
		for p := range x.h * x.w {
			k := c*x.h*x.w + p
			y.v[k] = float64(g[c])*(x.v[k]-float64(m[c]))/math.Sqrt(float64(v[c])+1e-5) + float64(b[c])
			if relu {
				y.v[k] = max(y.v[k], 0)
			}
		}
	}
	return y
}

func (r ref64) block(x act, name string, stride int) act {
	out := r.bn(r.conv(x, name+".conv1.weight", stride, 1), name+".bn1", true)
	out = r.bn(r.conv(out, name+".conv2.weight", 1, 1), name+".bn2", false)
	short := x
	if _, ok := r.sd[name+".downsample.0.weight"]; ok {
		short = r.bn(r.conv(x, name+".downsample.0.weight", stride, 0), name+".downsample.1", false)
	}
	for k := range out.v {
		out.v[k] = max(out.v[k]+short.v[k], 0)
	}
	return out
}

func (r ref64) logits(x act) []float64 {
	a := r.bn(r.conv(x, "conv1.weight", 1, 1), "bn1", true)
	a = r.block(a, "layer1.0", 1)
	a = r.block(a, "layer2.0", 2)
	a = r.block(a, "layer3.0", 2)
	w, b := r.sd["fc.weight"], r.sd["fc.bias"].Data()
	z := make([]float64, w.Dim(0))
	for o := range z {
		z[o] = float64(b[o])
		for c := range a.c {
			var mean float64
			for p := range a.h * a.w {
				mean += a.v[c*a.h*a.w+p]
			}
			z[o] += float64(w.Data()[o*w.Dim(1)+c]) * mean / float64(a.h*a.w)
		}
	}
	return z
}

// TestLoadTorchLayout: a ResNet-8 state dict laid out exactly as PyTorch
// writes it, with its 0-dim int64 counters and without them, loads by
// name and computes logits within 1e-5 of a float64 reference.
func TestLoadTorchLayout(t *testing.T) {
	src, err := New("resnet8", Config{Width: 0.5, NumClasses: 7, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(9)
	sd := StateMap(StateDict(src))
	var names []string
	for _, e := range StateDict(src) {
		names = append(names, e.Name)
		d := e.T.Data()
		switch {
		case len(e.Name) > 13 && e.Name[len(e.Name)-13:] == ".running_mean":
			for i := range d {
				d[i] = (rng.Float32() - 0.5) * 0.6
			}
		case len(e.Name) > 12 && e.Name[len(e.Name)-12:] == ".running_var":
			for i := range d {
				d[i] = 0.5 + rng.Float32()
			}
		case len(e.Name) > 20 && e.Name[len(e.Name)-20:] == ".num_batches_tracked":
			d[0] = 390
		case len(e.Name) > 7 && (e.Name[len(e.Name)-7:] == ".weight" || e.Name[len(e.Name)-5:] == ".bias"):
			for i := range d {
				d[i] += (rng.Float32() - 0.5) * 0.1 // BN affine parameters away from 1 and 0
			}
		}
	}
	x := tensor.Rand(tensor.NewRNG(4), 2, 3, 8, 8)
	for _, counters := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "resnet8.safetensors")
		writeTorchLayout(t, path, names, sd, counters)
		m, w, err := Load(path, LoadOptions{Arch: "resnet8", Width: 0.5, InChannels: 3, ImageSize: 8})
		if err != nil {
			t.Fatalf("counters %v: %v", counters, err)
		}
		if w.Arch != "" || w.Meta["format"] != "pt" {
			t.Errorf("counters %v: metadata %v, arch %q", counters, w.Meta, w.Arch)
		}
		got := evalLogits(m, x)
		for n := range 2 {
			in := act{3, 8, 8, make([]float64, 3*64)}
			for k := range in.v {
				in.v[k] = float64(x.Data()[n*3*64+k])
			}
			want := ref64{sd}.logits(in)
			for o, v := range want {
				if d := math.Abs(float64(got[n*7+o]) - v); d > 1e-5 {
					t.Fatalf("counters %v: sample %d logit %d = %v, float64 reference %v (off by %.2g)", counters, n, o, got[n*7+o], v, d)
				}
			}
		}
	}
}
