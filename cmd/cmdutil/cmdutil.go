// Package cmdutil holds what every command shares: the Factory of
// dependencies and the error types that map to exit codes.
package cmdutil

import (
	"errors"
	"fmt"

	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

// Exit codes, the contract CI relies on.
const (
	ExitOK          = 0
	ExitGate        = 1   // a gate failed: regression, SLO gate
	ExitBadInput    = 2   // bad input or usage
	ExitRunFailed   = 3   // the run could not be carried out
	ExitInterrupted = 130 // interrupted; a partial result is still written
)

// Factory carries the dependencies commands need.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Version   string
	// Executable is the path of the running binary, used to start bundled
	// target nodes as separate processes.
	Executable func() (string, error)
}

// ExitError carries an exit code with an optional message.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// BadInput wraps err as exit code 2.
func BadInput(err error) error { return &ExitError{Code: ExitBadInput, Err: err} }

// BadInputf formats a message as exit code 2.
func BadInputf(format string, args ...any) error {
	return BadInput(fmt.Errorf(format, args...))
}

// RunFailed wraps err as exit code 3.
func RunFailed(err error) error { return &ExitError{Code: ExitRunFailed, Err: err} }

// GateFailed returns exit code 1 with a message (may be nil to be silent).
func GateFailed(err error) error { return &ExitError{Code: ExitGate, Err: err} }

// ErrSilent exits 1 without printing anything more.
var ErrSilent = errors.New("silent")

// Interrupted is exit code 130 after a partial result was written.
func Interrupted(err error) error { return &ExitError{Code: ExitInterrupted, Err: err} }

// CodeOf returns the exit code err maps to.
func CodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if errors.Is(err, ErrSilent) {
		return ExitGate
	}
	return ExitRunFailed
}
