package cliflags

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/train"
)

func TestFractionParsesDecimalsAndFractions(t *testing.T) {
	for in, want := range map[string]float64{"0.3": 0.3, "8/255": 8.0 / 255, " 2 / 4 ": 0.5, "0": 0} {
		var f Fraction
		if err := f.Set(in); err != nil || math.Abs(float64(f)-want) > 1e-15 {
			t.Errorf("Set(%q) = %v, %v; want %v", in, float64(f), err, want)
		}
	}
	for _, in := range []string{"", "-1", "1/0", "x", "1/x", "NaN", "Inf", "1/-1"} {
		var f Fraction
		if err := f.Set(in); err == nil {
			t.Errorf("Set(%q) = %v, want an error", in, float64(f))
		}
	}
}

func TestListsRoundTrip(t *testing.T) {
	var il IntList
	if err := il.Set("3, 1,2"); err != nil || !slices.Equal(il, IntList{3, 1, 2}) || il.String() != "3,1,2" {
		t.Errorf("IntList: %v, %v", il, err)
	}
	if err := il.Set("1,a"); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("IntList 1,a: %v", err)
	}
	var sl StringList
	if err := sl.Set("Top, ,drop-tail"); err != nil || !slices.Equal(sl, StringList{"top", "drop-tail"}) {
		t.Errorf("StringList: %v, %v", sl, err)
	}
	var fl FloatList
	if err := fl.Set("0.5,0.75"); err != nil || fl.String() != "0.5,0.75" {
		t.Errorf("FloatList: %v, %v", fl, err)
	}
	if err := fl.Set("0.5,"); err == nil {
		t.Error("FloatList 0.5,: no error")
	}
	var fm FileMap
	if err := fm.Set("DU=a.npy,fp=b.npy"); err != nil || fm.String() != "du=a.npy,fp=b.npy" {
		t.Errorf("FileMap: %v, %v", fm, err)
	}
	if err := fm.Set("du"); err == nil || !strings.Contains(err.Error(), "SCORE=FILE") {
		t.Errorf("FileMap du: %v", err)
	}
}

// TestFieldErrorsNameTheirFlags checks that a train.FieldError, however
// deeply wrapped, is rewritten with the flags bound to its fields, and
// that the result still unwraps to the original.
func TestFieldErrorsNameTheirFlags(t *testing.T) {
	cfg := struct {
		LR    float64
		Steps int
		other int
	}{}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Float64Var(&cfg.LR, "lr", 0, "")
	fs.IntVar(&cfg.Steps, "steps", 0, "")
	fs.IntVar(&cfg.other, "other", 0, "")
	names := FlagNames(fs, &cfg)
	if want := map[string]string{"LR": "--lr", "Steps": "--steps"}; !maps.Equal(names, want) {
		t.Fatalf("FlagNames = %v, want %v", names, want)
	}

	fe := &train.FieldError{Field: "LR", Msg: "must be below {Steps}"}
	err := fmt.Errorf("training: %w", errors.Join(errors.New("other"), fe))
	got := RenderFieldErrors(err, names)
	if !strings.Contains(got.Error(), "training: other\n--lr: must be below --steps") || !errors.Is(got, fe) {
		t.Errorf("RenderFieldErrors = %q (unwraps to the field error: %v)", got, errors.Is(got, fe))
	}
	plain := errors.New("no field")
	if RenderFieldErrors(plain, names) != plain || RenderFieldErrors(nil, names) != nil {
		t.Error("an error without a field error must come back as it is")
	}
	merged := MergeNames(map[string]string{"LR": "--lr"}, map[string]string{"LR": "--rate", "Seed": "--seed"})
	if want := map[string]string{"LR": "--lr", "Seed": "--seed"}; !maps.Equal(merged, want) {
		t.Errorf("MergeNames = %v, want %v", merged, want)
	}
}

// TestDispatchRefusesABadKernelChoice checks that every command stops on a
// BULWARK_KERNELS this CPU does not have, naming the variable.
func TestDispatchRefusesABadKernelChoice(t *testing.T) {
	t.Setenv(kernels.EnvVar, "no-such-isa")
	ran := false
	commands := map[string]int{"train": 1}
	err := Dispatch(commands, []string{"train"}, io.Discard, io.Discard, func(io.Writer) {},
		func(int, []string) error { ran = true; return nil })
	if err == nil || ran || !strings.Contains(err.Error(), kernels.EnvVar) {
		t.Errorf("Dispatch with %s=no-such-isa: ran %v, error %v", kernels.EnvVar, ran, err)
	}
	t.Setenv(kernels.EnvVar, kernels.Implementations()[0])
	if err := Dispatch(commands, []string{"train"}, io.Discard, io.Discard, func(io.Writer) {},
		func(int, []string) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("Dispatch with a supported choice: ran %v, error %v", ran, err)
	}
}
