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
// message once, in order (its own sequences may skip ranges reserved
// before a crash).
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
		// Counts, not last sequences: the origin's last sequence may be
		// one reserved before a crash that no message carries.
		want := orig.CachedInfo().State.Msgs
		if mi.State.Msgs == want && si.State.Msgs == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("copies did not catch up: origin %+v, mirror %+v, source %+v", orig.CachedInfo().State, mi.State, si.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the last copies durable and readable
	// Read each stream whole, in order. Sequences that a crash reserved
	// and no message carries are skipped by the readers: the mirror holds
	// every origin message under its origin sequence, the source every
	// origin message once, in origin order, naming it in its header.
	want := readAll(t, ctx, js, "CRASH")
	mirrored := readAll(t, ctx, js, "CMIR")
	sourced := readAll(t, ctx, js, "CSRC")
	if len(mirrored) != len(want) || len(sourced) != len(want) {
		t.Fatalf("origin %d messages, mirror %d, source %d", len(want), len(mirrored), len(sourced))
	}
	for i, o := range want {
		m, s := mirrored[i], sourced[i]
		if m.seq != o.seq || m.data != o.data || !m.time.Equal(o.time) {
			t.Fatalf("mirror message %d: seq %d %q, origin seq %d %q", i, m.seq, m.data, o.seq, o.data)
		}
		f := strings.Fields(s.source)
		if len(f) < 2 || f[1] != strconv.FormatUint(o.seq, 10) || s.data != o.data {
			t.Fatalf("source message %d (seq %d) holds %q from %v, want origin %d (%q)", i, s.seq, s.data, f, o.seq, o.data)
		}
	}
	t.Logf("origin %d messages (last sequence %d), mirrored and sourced once each", len(want), last)
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

// copied is what the crash test compares of a stored message.
type copied struct {
	seq          uint64
	data, source string
	time         time.Time
}

// readAll reads every message of a stream, in order, through an ordered
// consumer.
func readAll(t *testing.T, ctx context.Context, js jetstream.JetStream, stream string) []copied {
	t.Helper()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tryReadAll(ctx, st)
	if err != nil {
		t.Fatalf("reading %s: %v", stream, err)
	}
	return out
}

// tryReadAll reads as many messages as the stream's info counted, in
// order, through an ordered consumer.
func tryReadAll(ctx context.Context, st jetstream.Stream) ([]copied, error) {
	n := st.CachedInfo().State.Msgs
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	out := make([]copied, 0, n)
	for uint64(len(out)) < n {
		batch, err := cons.Fetch(int(min(n-uint64(len(out)), 500)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return out, err
		}
		got := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return out, err
			}
			out = append(out, copied{seq: md.Sequence.Stream, data: string(m.Data()),
				source: m.Headers().Get("Nats-Stream-Source"), time: md.Timestamp})
			got++
		}
		if got == 0 {
			return out, fmt.Errorf("stopped after %d of %d messages (%v)", len(out), n, batch.Error())
		}
	}
	return out, nil
}
