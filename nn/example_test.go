package nn_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulwark-ml/bulwark/nn"
)

// Load weights trained in PyTorch: a state dict saved with
// safetensors.torch.save_file(model.state_dict(), "resnet20.safetensors")
// from a torchvision-style CIFAR ResNet carries no architecture, so name
// it; the class count comes from the file. bulwark's own weight files and
// checkpoints load with empty options.
func ExampleLoad() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// Stand-in for the PyTorch file: a bare state dict, no metadata.
	src, err := nn.New("resnet20", nn.Config{NumClasses: 100, Width: 0.25, Seed: 1})
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "resnet20.safetensors")
	if err := nn.SaveState(path, nn.StateMap(nn.StateDict(src)), nil); err != nil {
		panic(err)
	}

	model, w, err := nn.Load(path, nn.LoadOptions{Arch: "resnet20", Width: 0.25, InChannels: 3, ImageSize: 32})
	if err != nil {
		panic(err)
	}
	fmt.Printf("architecture recorded in the file: %q\n", w.Arch)
	fmt.Println("classes:", model.(*nn.Net).NumClasses(), "parameters:", nn.NumParams(model))

	_, _, err = nn.Load(path, nn.LoadOptions{})
	fmt.Println("without Arch:", err != nil)
	// Output:
	// architecture recorded in the file: ""
	// classes: 100 parameters: 19064
	// without Arch: true
}
