package jsapi_test

import (
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// A paused consumer delivers nothing until it is resumed or its pause
// ends; info shows the pause, and a durable stays paused across a restart.
func TestConsumerPauseAndResume(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "P", Subjects: []string{"p"}})
	publishN(t, js, "p", 3)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	cons, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "D", AckPolicy: jetstream.AckExplicitPolicy, PauseUntil: &until})
	if err != nil {
		t.Fatal(err)
	}
	info := cons.CachedInfo()
	if !info.Paused || info.PauseRemaining <= 0 || !info.Config.PauseUntil.Equal(until) ||
		info.Config.Metadata["_nats.req.level"] != "1" {
		t.Fatalf("created paused: %+v", info)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(300 * time.Millisecond)); err == nil {
		t.Fatal("a paused consumer delivered")
	}
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	c2 := testutil.Ctx(t)
	cons2, err := js2.Consumer(c2, "P", "D")
	if err != nil {
		t.Fatal(err)
	}
	if info := cons2.CachedInfo(); !info.Paused {
		t.Fatalf("not paused after restart: %+v", info)
	}
	resp, err := js2.ResumeConsumer(c2, "P", "D")
	if err != nil || resp.Paused {
		t.Fatalf("resume: %+v %v", resp, err)
	}
	if m := fetchOne(t, cons2, time.Second); meta(t, m).Sequence.Stream != 1 {
		t.Fatal("wrong message after resume")
	}
	resp, err = js2.PauseConsumer(c2, "P", "D", time.Now().Add(500*time.Millisecond))
	if err != nil || !resp.Paused || resp.PauseRemaining <= 0 {
		t.Fatalf("pause: %+v %v", resp, err)
	}
	info, _ = cons2.Info(c2)
	if !info.Paused {
		t.Fatalf("info after pause %+v", info)
	}
	// The pause ends on its own; a waiting request then gets its message.
	start := time.Now()
	m := fetchOne(t, cons2, 3*time.Second)
	if meta(t, m).Sequence.Stream != 2 || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("delivered %d after %v", meta(t, m).Sequence.Stream, time.Since(start))
	}
	if _, err := js2.PauseConsumer(c2, "P", "NOPE", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("paused a missing consumer")
	}
}
