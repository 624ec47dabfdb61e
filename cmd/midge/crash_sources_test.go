package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestCrashMirrorAndSourceResume kills a real midge process with SIGKILL
// while a mirror and a sourcing stream copy an origin under load, several
// times, then checks that both resumed exactly: the mirror holds every
// origin message under its origin sequence, the source every origin
// message once, in order, with no gap.
func TestCrashMirrorAndSourceResume(t *testing.T) {
	dir := t.TempDir()
	rounds, perRound := soakRounds(3), 2000
	for round := 0; round < rounds; round++ {
		c := startMidge(t, "-js", "-sd", dir)
		nc, js := copyingClient(t, c)
		publishUntilKilled(t, c, js, round, perRound, map[string]uint64{})
		nc.Close()
	}

	c := startMidge(t, "-js", "-sd", dir)
	nc, js := copyingClient(t, c)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	orig, _ := js.Stream(ctx, "CRASH")
	last := orig.CachedInfo().State.LastSeq
	mir, _ := js.Stream(ctx, "CMIR")
	src, _ := js.Stream(ctx, "CSRC")
	deadline := time.Now().Add(30 * time.Second)
	for {
		mi, _ := mir.Info(ctx)
		si, _ := src.Info(ctx)
		if mi.State.LastSeq == last && si.State.Msgs == orig.CachedInfo().State.Msgs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("copies did not catch up: origin %+v, mirror %+v, source %+v", orig.CachedInfo().State, mi.State, si.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the last copies durable and readable
	var next uint64 = 1
	for seq := uint64(1); seq <= last; seq++ {
		o, err := orig.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		m, err := mir.GetMsg(ctx, seq)
		if err != nil || string(m.Data) != string(o.Data) || !m.Time.Equal(o.Time) {
			t.Fatalf("mirror seq %d: %v %v, origin %q", seq, m, err, o.Data)
		}
		s, err := src.GetMsg(ctx, next)
		if err != nil {
			t.Fatalf("source seq %d: %v", next, err)
		}
		f := strings.Fields(s.Header.Get("Nats-Stream-Source"))
		if len(f) < 2 || f[1] != strconv.FormatUint(seq, 10) || string(s.Data) != string(o.Data) {
			t.Fatalf("source seq %d holds %q from %v, want origin %d (%q)", next, s.Data, f, seq, o.Data)
		}
		next++
	}
	t.Logf("origin %d messages, mirrored and sourced once each", last)
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)
}

// copyingClient connects and makes sure the origin (CRASH), its mirror and
// a stream sourcing it exist.
func copyingClient(t *testing.T, c *child) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js := crashClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, cfg := range []jetstream.StreamConfig{
		{Name: "CMIR", Mirror: &jetstream.StreamSource{Name: "CRASH"}},
		{Name: "CSRC", Sources: []*jetstream.StreamSource{{Name: "CRASH"}}},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			t.Fatal(fmt.Errorf("stream %s: %w", cfg.Name, err))
		}
	}
	return nc, js
}
