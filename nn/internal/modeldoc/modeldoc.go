// Package modeldoc generates the state-dict listings of docs/models.md
// from the models themselves, so the document stays exact.
package modeldoc

import (
	"fmt"
	"strings"

	"github.com/bulwark-ml/bulwark/nn"
)

// Listing returns the generated Markdown for arch with its default config
// (10 classes; 3×32×32 input, or 1×28×28 for smallcnn): the parameter
// count and every state-dict name and shape, in order.
func Listing(arch string) (string, error) {
	m, err := nn.New(arch, nn.Config{})
	if err != nil {
		return "", err
	}
	sd := nn.StateDict(m)
	width := 0
	for _, e := range sd {
		width = max(width, len(e.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s parameters, %d state-dict entries (%d parameters, %d buffers).\n\n",
		arch, thousands(nn.NumParams(m)), len(sd), len(m.Params()), len(m.Buffers()))
	b.WriteString("<details><summary>State dict</summary>\n\n```text\n")
	for _, e := range sd {
		fmt.Fprintf(&b, "%-*s  %v\n", width, e.Name, e.T.Shape())
	}
	b.WriteString("```\n\n</details>\n")
	return b.String(), nil
}

// thousands formats n with comma separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Markers delimit the generated listing of arch in the document.
func Markers(arch string) (begin, end string) {
	return "<!-- BEGIN GENERATED: " + arch + " -->\n", "<!-- END GENERATED: " + arch + " -->\n"
}

// Update returns doc with the generated block of every architecture
// replaced by its current listing. name names the document in errors.
func Update(name, doc string) (string, error) {
	for _, arch := range nn.Archs() {
		begin, end := Markers(arch)
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			return "", fmt.Errorf("%s: no generated block for %s (want the lines %q and %q, in order)",
				name, arch, strings.TrimSpace(begin), strings.TrimSpace(end))
		}
		l, err := Listing(arch)
		if err != nil {
			return "", err
		}
		doc = doc[:i+len(begin)] + l + doc[j:]
	}
	return doc, nil
}
