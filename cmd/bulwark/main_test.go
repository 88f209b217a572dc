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
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"bench", "--threads", "0"}, "--threads"},
		{[]string{"bench", "--threads", "x"}, "--threads"},
		{[]string{"bench", "--impl", "sse9"}, "--impl"},
		{[]string{"bench", "--time", "-1s"}, "--time"},
		{[]string{"bench", "extra"}, `unexpected argument "extra"`},
	} {
		var out bytes.Buffer
		err := run(tc.args, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
