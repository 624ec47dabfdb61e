package main

import (
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logOutput is where the logger writes, with what an operator may change
// while the server runs: the level (reload with -D/-V) and the file
// (reopen after logrotate moved it away).
type logOutput struct {
	level zap.AtomicLevel
	file  *reopenableFile // nil when logging to stderr
}

// levelFor is the log level the options ask for: debug with -D or -V.
func levelFor(debug, trace bool) zapcore.Level {
	if debug || trace {
		return zapcore.DebugLevel
	}
	return zapcore.InfoLevel
}

// reopen starts a new log file at the configured path; a no-op when
// logging to stderr.
func (o *logOutput) reopen() error {
	if o.file == nil {
		return nil
	}
	return o.file.reopen()
}

// reopenableFile is an append-only log file that can be swapped for a
// fresh one at the same path, for log rotation (SIGUSR1).
type reopenableFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openLogFile(path string) (*reopenableFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open log file: %w", err)
	}
	return &reopenableFile{path: path, f: f}, nil
}

func (r *reopenableFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Write(p)
}

func (r *reopenableFile) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Sync()
}

// reopen opens the path anew and closes the old file; on failure the old
// file stays in use.
func (r *reopenableFile) reopen() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot reopen log file: %w", err)
	}
	r.mu.Lock()
	old := r.f
	r.f = f
	r.mu.Unlock()
	return old.Close()
}

func (r *reopenableFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
