package kernels

import (
	"strings"
	"testing"
)

// TestDescribe checks that Describe lists every implementation, default
// first, and marks the one in use, also after Use switches.
func TestDescribe(t *testing.T) {
	names := Implementations()
	last := names[len(names)-1]
	restore, err := Use(last)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	lines := strings.Split(strings.TrimSuffix(Describe(), "\n"), "\n")
	if len(lines) != len(names) {
		t.Fatalf("Describe has %d lines for %d implementations:\n%s", len(lines), len(names), Describe())
	}
	for i, name := range names {
		if !strings.HasPrefix(lines[i], name+" (GEMM ") {
			t.Errorf("line %d = %q, want implementation %s", i, lines[i], name)
		}
		if got := strings.Contains(lines[i], "in use"); got != (name == last) {
			t.Errorf("line %d = %q: in use %v, want %v", i, lines[i], got, name == last)
		}
	}
	if !strings.Contains(lines[0], ", default") {
		t.Errorf("first line %q does not say default", lines[0])
	}
}

// TestEnvVar checks that BULWARK_KERNELS picks the implementation whatever
// the registration order, and that EnvError names a bad value.
func TestEnvVar(t *testing.T) {
	defer func(saved []*impl, act *impl) { impls, active = saved, act }(impls, active)
	names := Implementations()
	last := names[len(names)-1]
	t.Setenv(EnvVar, last)
	if err := EnvError(); err != nil {
		t.Errorf("EnvError with %s: %v", last, err)
	}
	all := impls
	impls = nil
	for i := len(all) - 1; i >= 0; i-- { // register in reverse rank order
		registerImpl(all[i])
	}
	if active.name != last {
		t.Errorf("%s=%s: active is %s", EnvVar, last, active.name)
	}
	t.Setenv(EnvVar, "no-such-isa")
	if err := EnvError(); err == nil || !strings.Contains(err.Error(), "no-such-isa") || !strings.Contains(err.Error(), EnvVar) {
		t.Errorf("EnvError with a bad value = %v, want an error naming it and %s", err, EnvVar)
	}
}
