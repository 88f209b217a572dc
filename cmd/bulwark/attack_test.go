package main

import (
	"bytes"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/internal/cliflags"
	"github.com/bulwark-ml/bulwark/internal/testutil/datatest"
)

func TestAttackEndToEnd(t *testing.T) {
	dir := t.TempDir()
	spec := datatest.NpySet(t, dir, 24, 1, 8)
	out := filepath.Join(dir, "run")
	log := tinyTrain(t, spec, out, "--adv", "pgd", "--eps", "8/255", "--steps", "2", "--record-all", "--record-adv")
	if !strings.Contains(log, "adversarial training pgd Linf ε=0.03137") {
		t.Fatalf("train output:\n%s", log)
	}
	if _, shape, err := data.ReadNpy[float32](filepath.Join(out, "probs_adv.npy")); err != nil || !slices.Equal(shape, []int{1, 24}) {
		t.Fatalf("probs_adv.npy: %v %v", shape, err)
	}
	adv := filepath.Join(dir, "adv.npy")
	var buf bytes.Buffer
	args := []string{"attack", "--weights", filepath.Join(out, "model.safetensors"), "--data", spec, "--attack", "all",
		"--eps", "8/255", "--steps", "3", "--n", "10", "--batch", "4", "--threads", "1", "--save-adv", adv}
	if err := run(args, &buf, &buf); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	for _, want := range []string{"10 samples", "clean", "FGSM", "PGD-3", "APGD", "DLR", "worst case", "wrote " + adv} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, buf.String())
		}
	}
	t.Log(buf.String())
	// AutoAttack, a custom list (APGD-T needs 4 classes; this model has 3).
	var aa bytes.Buffer
	aaArgs := []string{"attack", "--weights", filepath.Join(out, "model.safetensors"), "--data", spec, "--attack", "autoattack",
		"--version", "custom", "--attacks", "apgd-ce,fab-t,square", "--eps", "8/255", "--n", "6", "--threads", "1"}
	if err := run(aaArgs, &aa, &aa); err != nil {
		t.Fatalf("%v\n%s", err, aa.String())
	}
	for _, want := range []string{"6 samples", "APGD-CE", "FAB", "Square", "worst case"} {
		if !strings.Contains(aa.String(), want) {
			t.Fatalf("autoattack output lacks %q:\n%s", want, aa.String())
		}
	}
	x, shape, err := data.ReadNpy[float32](adv)
	if err != nil || !slices.Equal(shape, []int{10, 1, 8, 8}) {
		t.Fatalf("adv.npy: %v %v", shape, err)
	}
	clean, _, err := data.ReadNpy[float32](filepath.Join(dir, "X.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		if v < 0 || v > 1 || math.Abs(float64(v-clean[i])) > 8.0/255+1e-6 {
			t.Fatalf("adversarial pixel %d = %v, clean %v: outside the ball", i, v, clean[i])
		}
	}
}

func TestAttackFlagErrors(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "none.safetensors")
	base := []string{"attack", "--weights", w, "--data", "mnist"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no weights", []string{"attack", "--data", "mnist", "--eps", "0.3"}, "--weights"},
		{"no data", []string{"attack", "--weights", w, "--eps", "0.3"}, "--data"},
		{"no eps", base, "--eps"},
		{"eps divided by zero", append(base, "--eps", "8/0"), "--eps"},
		{"eps abc", append(base, "--eps", "abc"), "--eps"},
		{"negative eps", append(base, "--eps", "-1"), "--eps"},
		{"eps 2", append(base, "--eps", "2"), "--eps"},
		{"unknown norm", append(base, "--eps", "0.3", "--norm", "l7"), "--norm"},
		{"unknown attack", append(base, "--eps", "0.3", "--attack", "cw"), "--attack"},
		{"fgsm with l2", append(base, "--eps", "0.3", "--attack", "fgsm", "--norm", "l2"), "--attack"},
		{"negative steps", append(base, "--eps", "0.3", "--steps", "-2"), "--steps"},
		{"zero restarts", append(base, "--eps", "0.3", "--restarts", "0"), "--restarts"},
		{"bad step size", append(base, "--eps", "0.3", "--step-size", "1/x"), "--step-size"},
		{"negative n", append(base, "--eps", "0.3", "--n", "-1"), "--n"},
		{"zero batch", append(base, "--eps", "0.3", "--batch", "0"), "--batch"},
		{"unknown split", append(base, "--eps", "0.3", "--split", "val"), "--split"},
		{"missing weights file", append(base, "--eps", "0.3"), "--weights"}, // the file does not exist
		{"unknown autoattack version", append(base, "--eps", "0.3", "--attack", "autoattack", "--version", "plus"), "--version"},
		{"custom with unknown attack", append(base, "--eps", "0.3", "--attack", "autoattack", "--version", "custom", "--attacks", "apgd-ce,cw"), "--attacks"},
		{"attacks without custom", append(base, "--eps", "0.3", "--attack", "autoattack", "--attacks", "apgd-ce"), "--attacks"},
		{"version with pgd", append(base, "--eps", "0.3", "--attack", "pgd", "--version", "rand"), "--version"},
		{"train unknown adv", []string{"train", "--data", "mnist", "--out", dir, "--adv", "mart"}, "--adv"},
		{"train pgd without eps", []string{"train", "--data", "mnist", "--out", dir, "--adv", "pgd"}, "--eps"},
		{"train bad eps", []string{"train", "--data", "mnist", "--out", dir, "--adv", "pgd", "--eps", "8/"}, "--eps"},
		{"train record-adv without adv", []string{"train", "--data", "mnist", "--out", dir, "--record-adv"}, "--record-adv"},
		{"train zero synthetic frac", []string{"train", "--data", "mnist", "--out", dir, "--synthetic", "npz:x.npz", "--synthetic-frac", "0"}, "--synthetic-frac"},
		{"train trades zero beta", []string{"train", "--data", "mnist", "--out", dir, "--adv", "trades", "--eps", "0.1", "--beta", "0"}, "--beta"},
	} {
		t.Run(tc.name, func(t *testing.T) { runFails(t, tc.want, tc.args...) })
	}
}

func TestFraction(t *testing.T) {
	for s, want := range map[string]float64{"8/255": 8.0 / 255, "0.3": 0.3, " 2 / 255 ": 2.0 / 255, "0": 0} {
		t.Run(s, func(t *testing.T) {
			var f cliflags.Fraction
			if err := f.Set(s); err != nil || float64(f) != want {
				t.Errorf("fraction %q = %v, %v; want %v", s, float64(f), err, want)
			}
		})
	}
}
