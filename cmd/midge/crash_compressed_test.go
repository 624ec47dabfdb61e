package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestCrashCompressedStreamKeepsAckedMessages is the SIGKILL test on an
// s2-compressed stream with large, compressible messages: every
// acknowledged message survives, once and byte for byte.
func TestCrashCompressedStreamKeepsAckedMessages(t *testing.T) {
	dir := t.TempDir()
	acked := map[string]uint64{}
	pad := " " + strings.Repeat("compressible padding ", 40)
	rounds, perRound := soakRounds(3), 1000
	for round := 0; round < rounds; round++ {
		c := startMidge(t, "-js", "-sd", dir)
		nc, js := crashClient(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: "CRASH", Subjects: []string{"crash.>"}, Compression: jetstream.S2Compression})
		cancel()
		if err != nil {
			t.Fatalf("switch compression on: %v", err)
		}
		publishPaddedUntilKilled(t, c, js, round, perRound, acked, pad)
		nc.Close()
	}

	c := startMidge(t, "-js", "-sd", dir)
	nc, js := crashClient(t, c)
	defer nc.Close()
	verifyAcked(t, js, acked)
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)
}
