package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestCrashKeepsAckedMessages kills a real midge process with SIGKILL in
// the middle of asynchronous publishing, restarts it on the same store and
// checks that every acknowledged message is there, once and intact.
func TestCrashKeepsAckedMessages(t *testing.T) {
	dir := t.TempDir()
	acked := map[string]uint64{} // payload -> sequence
	rounds, perRound := soakRounds(4), 1500
	for round := 0; round < rounds; round++ {
		c := startMidge(t, "-js", "-sd", dir)
		nc, js := crashClient(t, c)
		publishUntilKilled(t, c, js, round, perRound, acked)
		nc.Close()
	}

	c := startMidge(t, "-js", "-sd", dir)
	nc, js := crashClient(t, c)
	defer nc.Close()
	verifyAcked(t, js, acked)
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)
}

// soakRounds reads MIDGE_SOAK_ROUNDS (set by `make soak`) for longer runs.
func soakRounds(def int) int {
	if n, err := strconv.Atoi(os.Getenv("MIDGE_SOAK_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return def
}

func crashClient(t *testing.T, c *child) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.url(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "CRASH", Subjects: []string{"crash.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return nc, js
}

// publishUntilKilled publishes asynchronously and SIGKILLs the server once
// perRound messages were acknowledged, while more are still in flight.
func publishUntilKilled(t *testing.T, c *child, js jetstream.JetStream, round, perRound int, acked map[string]uint64) {
	t.Helper()
	publishPaddedUntilKilled(t, c, js, round, perRound, acked, "")
}

// publishPaddedUntilKilled is publishUntilKilled with pad appended to every
// payload (to make messages large and compressible).
func publishPaddedUntilKilled(t *testing.T, c *child, js jetstream.JetStream, round, perRound int, acked map[string]uint64, pad string) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	count := 0
	killed := make(chan struct{})
	var once sync.Once
	kill := func() {
		once.Do(func() {
			c.cmd.Process.Signal(syscall.SIGKILL)
			close(killed)
		})
	}
	for i := 0; ; i++ {
		select {
		case <-killed:
		default:
			payload := fmt.Sprintf("r%d-m%d", round, i) + pad
			f, err := js.PublishAsync("crash.x", []byte(payload))
			if err == nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					select {
					case ack := <-f.Ok():
						mu.Lock()
						acked[payload] = ack.Sequence
						count++
						if count >= perRound {
							kill()
						}
						mu.Unlock()
					case <-f.Err():
					case <-time.After(10 * time.Second):
					}
				}()
			}
			if i < 20*perRound {
				continue
			}
			kill() // bounded: never publish forever
		}
		break
	}
	c.wait(t)
	wg.Wait()
}

func verifyAcked(t *testing.T, js jetstream.JetStream, acked map[string]uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The whole stream through an ordered consumer: reading sequence by
	// sequence would spend the time on the ranges that crashes reserved
	// and no message carries, and an error must not pass for a gap.
	seen := map[string]uint64{}
	for _, m := range readAll(t, ctx, js, "CRASH") {
		if prev, dup := seen[m.data]; dup {
			t.Fatalf("payload %q stored twice (seq %d and %d)", m.data, prev, m.seq)
		}
		seen[m.data] = m.seq
	}
	for payload, seq := range acked {
		if got, ok := seen[payload]; !ok || got != seq {
			t.Fatalf("acked message %q (seq %d) missing after crash; found at %d", payload, seq, got)
		}
	}
	t.Logf("%d acked messages all present; %d stored in total", len(acked), len(seen))
}
