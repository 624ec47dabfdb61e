// Package logging declares the one logger interface midge's packages write
// to. It owns no implementation beyond a no-op: the command that runs the
// server (cmd/midge) adapts zap to it, tests adapt their own recorders, and
// nothing below the command knows which library formats the lines.
package logging

import (
	"log"
	"strings"
)

// Logger writes structured lines: a message and alternating keys and values.
// Implementations must be safe for concurrent use.
type Logger interface {
	Debug(msg string, kv ...any)
	Info(msg string, kv ...any)
	Warn(msg string, kv ...any)
	Error(msg string, kv ...any)
	// With returns a logger that adds kv to every line.
	With(kv ...any) Logger
}

// Nop returns a logger that discards everything.
func Nop() Logger { return nop{} }

// OrNop returns l, or a no-op logger when l is nil.
func OrNop(l Logger) Logger {
	if l == nil {
		return nop{}
	}
	return l
}

type nop struct{}

func (nop) Debug(string, ...any) {}
func (nop) Info(string, ...any)  {}
func (nop) Warn(string, ...any)  {}
func (nop) Error(string, ...any) {}
func (n nop) With(...any) Logger { return n }

// StdLog returns a standard library logger whose lines go to l as warnings,
// for libraries (net/http) that report through *log.Logger.
func StdLog(l Logger) *log.Logger {
	return log.New(stdWriter{l}, "", 0)
}

type stdWriter struct{ l Logger }

func (w stdWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
