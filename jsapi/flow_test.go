package jsapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A push consumer with flow control asks for an answer every window of
// bytes, stalls while two requests are unanswered (its heartbeats say so),
// and resumes when the client answers.
func TestPushFlowControl(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "FC", Subjects: []string{"fc"}})
	payload := make([]byte, 64<<10)
	for i := 0; i < 20; i++ { // 1.25 MiB: several flow control windows
		js.Publish(testutil.Ctx(t), "fc", payload)
	}
	sub, _ := nc.SubscribeSync("fc.deliver")
	sub.SetPendingLimits(-1, -1)
	nc.Flush()
	st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "F", DeliverSubject: "fc.deliver",
		AckPolicy: jetstream.AckNonePolicy, FlowControl: true, IdleHeartbeat: 200 * time.Millisecond})

	var requests []string
	msgs := 0
	for len(requests) < 2 {
		m, err := sub.NextMsg(3 * time.Second)
		if err != nil {
			t.Fatalf("after %d messages and %d requests: %v", msgs, len(requests), err)
		}
		if m.Header.Get("Status") == "100" && strings.Contains(m.Header.Get("Description"), "FlowControl") {
			if !strings.HasPrefix(m.Reply, "$JS.FC.FC.F.") {
				t.Fatalf("flow control reply subject %q", m.Reply)
			}
			requests = append(requests, m.Reply)
			continue
		}
		msgs++
	}
	// Stalled: the next thing is a heartbeat naming the oldest request.
	for {
		m, err := sub.NextMsg(3 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("Status") == "100" && m.Header.Get("Nats-Consumer-Stalled") != "" {
			if got := m.Header.Get("Nats-Consumer-Stalled"); got != requests[0] {
				t.Fatalf("stalled on %q, want %q", got, requests[0])
			}
			break
		}
		if len(m.Data) > 0 {
			t.Fatal("delivery continued while stalled")
		}
	}
	nc.Publish(requests[1], nil) // answering the newest releases both
	deadline := time.Now().Add(5 * time.Second)
	for msgs < 20 && time.Now().Before(deadline) {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			t.Fatalf("not resumed after answering: %d of 20 (%v)", msgs, err)
		}
		if m.Header.Get("Status") == "100" {
			if m.Reply != "" {
				nc.Publish(m.Reply, nil)
			}
			continue
		}
		msgs++
	}
	if msgs != 20 {
		t.Fatalf("got %d of 20", msgs)
	}
	_ = nats.ErrTimeout
}

// Replay original paces delivery by the stored gaps between messages.
func TestReplayOriginal(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "RP", Subjects: []string{"rp"}})
	js.Publish(testutil.Ctx(t), "rp", nil)
	time.Sleep(300 * time.Millisecond) // the gap to be replayed
	js.Publish(testutil.Ctx(t), "rp", nil)
	cons, _ := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "R", AckPolicy: jetstream.AckNonePolicy,
		ReplayPolicy: jetstream.ReplayOriginalPolicy})
	fetchOne(t, cons, time.Second)
	start := time.Now()
	fetchOne(t, cons, 2*time.Second)
	if gap := time.Since(start); gap < 250*time.Millisecond {
		t.Fatalf("second message after %v, want the original ~300ms", gap)
	}
}

// Backoff sets the wait before each redelivery.
func TestBackoff(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "BO", Subjects: []string{"bo"}})
	js.Publish(testutil.Ctx(t), "bo", nil)
	cons, err := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "B", AckPolicy: jetstream.AckExplicitPolicy,
		BackOff: []time.Duration{100 * time.Millisecond, 500 * time.Millisecond}, MaxDeliver: 4})
	if err != nil {
		t.Fatal(err)
	}
	if cons.CachedInfo().Config.AckWait != 100*time.Millisecond {
		t.Fatalf("ack wait not taken from backoff: %v", cons.CachedInfo().Config.AckWait)
	}
	last := time.Now()
	fetchOne(t, cons, time.Second)
	var gaps []time.Duration
	for i := 0; i < 2; i++ {
		fetchOne(t, cons, 2*time.Second)
		gaps = append(gaps, time.Since(last))
		last = time.Now()
	}
	if gaps[0] < 80*time.Millisecond || gaps[1] < 450*time.Millisecond {
		t.Fatalf("redelivery gaps %v, want ~100ms then ~500ms", gaps)
	}
}

// The jetstream package's ordered consumer notices a lost consumer (here
// deleted under it) and recreates it from where it was, missing nothing.
func TestOrderedConsumerRecovers(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "OR", Subjects: []string{"or"}})
	publishN(t, js, "or", 50)
	oc, err := st.OrderedConsumer(testutil.Ctx(t), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := oc.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	for i := 0; i < 50; i++ {
		m, err := it.Next()
		if err != nil || string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	name := oc.CachedInfo().Name
	if err := st.DeleteConsumer(testutil.Ctx(t), name); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, "or", 50)
	for i := 0; i < 50; i++ {
		m, err := it.Next()
		if err != nil || string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("after reset, message %d: %q %v", i, m.Data(), err)
		}
	}
}
