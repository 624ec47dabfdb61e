// Package testutil holds small helpers that the tests of several packages
// share. It is imported by tests only.
package testutil

import (
	"testing"
	"time"
)

// FuzzHangLimit bounds one fuzz input: the fuzzer has no timeout of its
// own, so without a bound a hang would only show as a stalled exec count.
const FuzzHangLimit = 10 * time.Second

// HangGuard runs body and fails, naming the input, on an error or when the
// body does not finish within FuzzHangLimit.
func HangGuard(t *testing.T, input any, body func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- body() }()
	timer := time.NewTimer(FuzzHangLimit)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("input %q: %v", input, err)
		}
	case <-timer.C:
		t.Fatalf("input %q: no result after %v", input, FuzzHangLimit)
	}
}
