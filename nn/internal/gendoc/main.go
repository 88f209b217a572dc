// Command gendoc rewrites the generated state-dict listings of
// docs/models.md from the models of package nn:
//
//	go run ./nn/internal/gendoc [path/to/models.md]
package main

import (
	"fmt"
	"os"

	"github.com/bulwark-ml/bulwark/nn/internal/modeldoc"
)

func main() {
	path := "docs/models.md"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := run(path); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}

// run updates the document at path in place.
func run(path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := modeldoc.Update(path, string(old))
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
