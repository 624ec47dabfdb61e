package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestConsumerCrashKeepsAcks kills midge between deliveries and acks: after
// the restart no message whose ack was confirmed comes back, and every
// other message is delivered again (none is lost).
func TestConsumerCrashKeepsAcks(t *testing.T) {
	dir := t.TempDir()
	const total = 200
	c := startMidge(t, "-js", "-sd", dir)
	nc, js := crashClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "CRASH")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < total; i++ {
		if _, err := js.Publish(ctx, "crash.c", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := jetstream.ConsumerConfig{Durable: "W", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 500 * time.Millisecond}
	cons, err := st.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	confirmed := map[uint64]bool{}
	for round := 0; round < 5; round++ {
		batch, err := cons.Fetch(20, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			switch md.Sequence.Stream % 3 {
			case 0:
				if m.DoubleAck(ctx) == nil {
					confirmed[md.Sequence.Stream] = true
				}
			case 1:
				m.Ack() // fire and forget: may or may not survive
			}
		}
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait(t)
	nc.Close()

	c = startMidge(t, "-js", "-sd", dir)
	nc, js = crashClient(t, c)
	defer nc.Close()
	cons, err = js.Consumer(ctx, "CRASH", "W")
	if err != nil {
		t.Fatalf("consumer lost: %v", err)
	}
	seen := map[uint64]bool{}
	for {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(1500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			if confirmed[md.Sequence.Stream] {
				t.Fatalf("acknowledged message %d redelivered after the crash", md.Sequence.Stream)
			}
			seen[md.Sequence.Stream] = true
			m.DoubleAck(ctx)
			n++
		}
		if n == 0 {
			break
		}
	}
	for seq := uint64(1); seq <= total; seq++ {
		if !confirmed[seq] && !seen[seq] && seq%3 != 1 {
			t.Fatalf("unacknowledged message %d lost", seq)
		}
	}
	t.Logf("%d confirmed acks kept, %d messages delivered after restart", len(confirmed), len(seen))
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)
}
