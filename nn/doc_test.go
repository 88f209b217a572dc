package nn_test

import (
	"os"
	"testing"

	"github.com/bulwark-ml/bulwark/nn/internal/modeldoc"
)

// TestModelsDocUpToDate checks that the state-dict listings of
// docs/models.md match the models.
func TestModelsDocUpToDate(t *testing.T) {
	const path = "../docs/models.md"
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := modeldoc.Update(path, string(old))
	if err != nil {
		t.Fatal(err)
	}
	if doc != string(old) {
		t.Errorf("%s is out of date: run go run ./nn/internal/gendoc", path)
	}
}
