package main

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// start serves on a free loopback port for the test's duration.
func start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go acceptLoop(ln)
	return "nats://" + ln.Addr().String()
}

// The relay: every subscriber of a subject gets each message published to
// it, in order, with its body and headers; other subjects get nothing.
func TestRelaysToExactSubscribers(t *testing.T) {
	url := start(t)
	pub, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var subs []*nats.Subscription
	for range 2 {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		sub, err := nc.SubscribeSync("bench.x")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	other, _ := pub.SubscribeSync("bench.y")
	big := make([]byte, 300<<10) // larger than the read buffer
	for i := range big {
		big[i] = byte(i)
	}
	msgs := []*nats.Msg{
		{Subject: "bench.x", Data: []byte("one")},
		{Subject: "bench.x", Header: nats.Header{"K": []string{"v"}}, Data: []byte("two")},
		{Subject: "bench.x", Data: big},
	}
	for _, m := range msgs {
		if err := pub.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	for i, sub := range subs {
		for _, want := range msgs {
			got, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("subscriber %d: %v", i, err)
			}
			if string(got.Data) != string(want.Data) || got.Header.Get("K") != want.Header.Get("K") {
				t.Fatalf("subscriber %d: got %d bytes with K=%q, want %d bytes with K=%q",
					i, len(got.Data), got.Header.Get("K"), len(want.Data), want.Header.Get("K"))
			}
		}
	}
	if m, err := other.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatalf("bench.y got %q", m.Data)
	}
}

// The acknowledger: a stream can be created and looked up, and publishes
// are acknowledged with sequences 1, 2, 3, as `nats bench js pub` expects.
func TestAcknowledgesJetStreamPublishes(t *testing.T) {
	nc, err := nats.Connect(start(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := fmt.Sprintf("bench%d", time.Now().UnixNano()) // streams outlive a test in this process
	if _, err := js.Stream(ctx, name); err == nil {
		t.Fatal("a stream that was never created was found")
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"bench.js"}}); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if subj := st.CachedInfo().Config.Subjects; len(subj) != 1 || subj[0] != "bench.js" {
		t.Fatalf("stream info config subjects %v", subj)
	}
	for want := uint64(1); want <= 3; want++ {
		ack, err := js.Publish(ctx, "bench.js", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Sequence != want {
			t.Fatalf("ack sequence %d, want %d", ack.Sequence, want)
		}
	}
}
