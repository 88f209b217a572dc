package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBenchQuick(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"bench", "--quick", "--threads", "1"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GFLOP/s", "square 256×256×256", "× gonum"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"zero threads", []string{"bench", "--threads", "0"}, "--threads"},
		{"bad threads", []string{"bench", "--threads", "x"}, "--threads"},
		{"unknown impl", []string{"bench", "--impl", "sse9"}, "--impl"},
		{"negative time", []string{"bench", "--time", "-1s"}, "--time"},
		{"extra argument", []string{"bench", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tc.args, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}
