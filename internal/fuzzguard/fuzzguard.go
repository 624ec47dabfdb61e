// Package fuzzguard bounds the time of one fuzz input, for the fuzz targets
// of several packages. It is imported by tests only and imports nothing of
// midge, so any package's own tests may use it.
package fuzzguard

import (
	"testing"
	"time"
)

// HangLimit bounds one fuzz input: the fuzzer has no timeout of its
// own, so without a bound a hang would only show as a stalled exec count.
const HangLimit = 10 * time.Second

// Run runs body and fails, naming the input, on an error or when the
// body does not finish within HangLimit.
func Run(t *testing.T, input any, body func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- body() }()
	timer := time.NewTimer(HangLimit)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("input %q: %v", input, err)
		}
	case <-timer.C:
		t.Fatalf("input %q: no result after %v", input, HangLimit)
	}
}
