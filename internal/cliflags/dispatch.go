package cliflags

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/bulwark-ml/bulwark/kernels"
)

// Dispatch runs the command of commands named by args[0] with run, given
// the arguments after the name: no name, help, -h or --help print usage
// to stdout, an unknown name prints it to stderr and is an error, and a
// command's flag.ErrHelp (after its -h) is not one. A BULWARK_KERNELS
// that names no kernel implementation of this CPU stops every command
// before it starts, rather than run silently on the default.
func Dispatch[C any](commands map[string]C, args []string, stdout, stderr io.Writer, usage func(io.Writer), run func(cmd C, args []string) error) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	if err := kernels.EnvError(); err != nil {
		return err
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	if err := run(cmd, args[1:]); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}
