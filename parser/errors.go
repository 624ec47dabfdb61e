package parser

import (
	"errors"
	"fmt"
)

// WireError is a protocol violation whose text the server sends verbatim as
// `-ERR '<Text>'` before closing the connection. The texts are the ones
// clients match on (nats.go, for one, recognises errors by these texts),
// so they must never be reworded.
type WireError struct{ Text string }

func (e *WireError) Error() string { return e.Text }

// Protocol violations detected by the parser. Every one of them closes the
// connection; the WireError ones are reported to the client first.
var (
	ErrUnknownOp      = &WireError{"Unknown Protocol Operation"}
	ErrMaxControlLine = &WireError{"maximum control line exceeded"}
	ErrMaxPayload     = &WireError{"Maximum Payload Violation"}

	// ErrBadArgs covers wrong argument counts and unparsable numbers. The
	// reference server closes such connections without an -ERR line.
	ErrBadArgs = errors.New("malformed protocol arguments")
)

// snippetLen bounds how much of an offending line goes into an error value.
const snippetLen = 64

// argsError wraps ErrBadArgs with the operation and a bounded copy of the
// offending arguments. It allocates, which is fine: it ends the connection.
func argsError(op string, arg []byte) error {
	if len(arg) > snippetLen {
		arg = arg[:snippetLen]
	}
	return fmt.Errorf("%w: %s %q", ErrBadArgs, op, arg)
}

// wireError adds context to one of the WireError sentinels while keeping
// errors.Is/As working for the server's -ERR decision.
func wireError(kind *WireError, op string, detail string) error {
	return fmt.Errorf("%w (%s: %s)", kind, op, detail)
}
