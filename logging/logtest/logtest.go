// Package logtest records log lines in memory so tests can assert on what
// midge logged.
package logtest

import (
	"fmt"
	"sync"

	"github.com/midgemq/midge/logging"
)

// Entry is one recorded line.
type Entry struct {
	Level   string
	Message string
	Fields  map[string]any
}

// Recorder is a logging.Logger that keeps every line.
type Recorder struct {
	mu      sync.Mutex
	entries []Entry
}

// New returns an empty recorder.
func New() *Recorder { return &Recorder{} }

// Entries returns a copy of the lines recorded so far.
func (r *Recorder) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Entry(nil), r.entries...)
}

// Filter returns the recorded lines with message msg whose fields include
// every key/value pair of kv (values compared by their printed form).
func (r *Recorder) Filter(msg string, kv ...any) []Entry {
	var out []Entry
	for _, e := range r.Entries() {
		if e.Message != msg {
			continue
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(e.Fields[fmt.Sprint(kv[i])]) != fmt.Sprint(kv[i+1]) {
				ok = false
			}
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}

func (r *Recorder) Debug(msg string, kv ...any) { r.add(nil, "debug", msg, kv) }
func (r *Recorder) Info(msg string, kv ...any)  { r.add(nil, "info", msg, kv) }
func (r *Recorder) Warn(msg string, kv ...any)  { r.add(nil, "warn", msg, kv) }
func (r *Recorder) Error(msg string, kv ...any) { r.add(nil, "error", msg, kv) }

// With returns a logger recording into r with kv added to every line.
func (r *Recorder) With(kv ...any) logging.Logger { return &bound{r: r, kv: kv} }

func (r *Recorder) add(base []any, level, msg string, kv []any) {
	fields := make(map[string]any)
	for _, list := range [][]any{base, kv} {
		for i := 0; i+1 < len(list); i += 2 {
			fields[fmt.Sprint(list[i])] = list[i+1]
		}
	}
	r.mu.Lock()
	r.entries = append(r.entries, Entry{Level: level, Message: msg, Fields: fields})
	r.mu.Unlock()
}

type bound struct {
	r  *Recorder
	kv []any
}

func (b *bound) Debug(msg string, kv ...any) { b.r.add(b.kv, "debug", msg, kv) }
func (b *bound) Info(msg string, kv ...any)  { b.r.add(b.kv, "info", msg, kv) }
func (b *bound) Warn(msg string, kv ...any)  { b.r.add(b.kv, "warn", msg, kv) }
func (b *bound) Error(msg string, kv ...any) { b.r.add(b.kv, "error", msg, kv) }
func (b *bound) With(kv ...any) logging.Logger {
	return &bound{r: b.r, kv: append(append([]any(nil), b.kv...), kv...)}
}
