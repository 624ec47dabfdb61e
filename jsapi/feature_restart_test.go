package jsapi_test

import (
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// Stored settings of features that act on later messages keep acting
// after a restart: a republish directive (with the last sequence per
// subject carried over), a subject transform, and a pinned_client
// consumer's priority groups (a new pin is handed out after the restart).
func TestRepublishTransformAndPriorityAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "RR", Subjects: []string{"rr.*"},
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: "rr.*", Destination: "stored.$1"},
		RePublish:        &jetstream.RePublish{Source: "stored.*", Destination: "out.$1"}})
	if _, err := js.Publish(c, "rr.a", []byte("before")); err != nil {
		t.Fatal(err)
	}
	st, _ := js.Stream(c, "RR")
	if _, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "P", AckPolicy: jetstream.AckExplicitPolicy,
		PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{"G"}, PinnedTTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()

	s = testutil.StartServer(t, opts)
	nc, js := testutil.JSClient(t, s)
	c = testutil.Ctx(t)
	sub, err := nc.SubscribeSync("out.>")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, nc)
	if _, err := js.Publish(c, "rr.a", []byte("after")); err != nil {
		t.Fatal(err)
	}
	m := testutil.NextMsg(t, sub)
	if m.Subject != "out.a" || string(m.Data) != "after" || m.Header.Get("Nats-Subject") != "stored.a" ||
		m.Header.Get("Nats-Sequence") != "2" || m.Header.Get("Nats-Last-Sequence") != "1" {
		t.Fatalf("republished after restart: %s %v %q", m.Subject, m.Header, m.Data)
	}
	cons, err := js.Consumer(c, "RR", "P")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cons.CachedInfo().Config
	if cfg.PriorityPolicy != jetstream.PriorityPolicyPinned || len(cfg.PriorityGroups) != 1 || cfg.PinnedTTL != time.Minute {
		t.Fatalf("consumer after restart %+v", cfg)
	}
	data, pin, status := pullRaw(t, nc, "$JS.API.CONSUMER.MSG.NEXT.RR.P", `{"batch":2,"expires":1000000000,"group":"G"}`, time.Second, 2)
	if len(data) != 2 || pin == "" || status != "" {
		t.Fatalf("pull after restart: %q pin %q status %q", data, pin, status)
	}
	_, _, status = pullRaw(t, nc, "$JS.API.CONSUMER.MSG.NEXT.RR.P", `{"batch":1,"expires":500000000,"group":"G","id":"not-the-pin"}`, time.Second, 1)
	if status == "" {
		t.Fatal("a pull with another pin was served")
	}
}
