package configdiff

import "testing"

func TestFirst(t *testing.T) {
	type cfg struct {
		A int      `json:"a"`
		B []string `json:"b,omitempty"`
		C float64  `json:"c"`
	}
	x := cfg{A: 1, B: []string{"p"}, C: 2}
	for _, c := range []struct {
		y    cfg
		want string
	}{
		{x, ""},
		{cfg{A: 1, B: []string{"q"}, C: 3}, "b"},
		{cfg{A: 2, B: []string{"p"}, C: 2}, "a"},
		{cfg{A: 1, B: []string{"p"}, C: 2.5}, "c"},
	} {
		if got := First(x, c.y); got != c.want {
			t.Errorf("First(%+v, %+v) = %q, want %q", x, c.y, got, c.want)
		}
	}
}
