package conffile

import (
	"fmt"
	"strings"
)

// ParseError is a malformed configuration: where, and what is wrong. For
// a bracket or quote that is never closed, Pos is where it was opened.
type ParseError struct {
	Pos Pos
	Msg string
	// IncludedFrom lists the include directives that led to Pos.File,
	// innermost first.
	IncludedFrom []Pos
	// Err is the underlying error, such as a file that cannot be read.
	Err error

	fromVariable bool // resolving a variable failed (not a syntax error)
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if len(e.IncludedFrom) > 0 {
		b.WriteString(" (included from ")
		for i, p := range e.IncludedFrom {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.String())
		}
		b.WriteString(")")
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

func errorAt(pos Pos, format string, args ...any) *ParseError {
	return &ParseError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
