package jsapi_test

import (
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Republish, as the reference server behaves.

func TestRepublish(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	cfg := jetstream.StreamConfig{Name: "RP", Subjects: []string{"rp.>"},
		RePublish: &jetstream.RePublish{Source: "rp.*", Destination: "out.>"}}
	_, err := js.CreateStream(c, cfg)
	testutil.WantAPIError(t, err, 10052) // the destination does not fit the source
	cfg.RePublish.Destination = "out.$1"
	testutil.CreateStream(t, js, cfg)
	sub, err := nc.SubscribeSync("out.>")
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg("rp.a")
	m.Header.Set("X-A", "1")
	m.Data = []byte("hello")
	if _, err := nc.RequestMsg(m, testutil.MsgWait); err != nil {
		t.Fatal(err)
	}
	js.Publish(c, "rp.a", []byte("two"))
	js.Publish(c, "rp.b.c", []byte("not republished"))

	first := testutil.NextMsg(t, sub)
	if first.Subject != "out.a" || string(first.Data) != "hello" || first.Header.Get("X-A") != "1" ||
		first.Header.Get("Nats-Stream") != "RP" || first.Header.Get("Nats-Subject") != "rp.a" ||
		first.Header.Get("Nats-Sequence") != "1" || first.Header.Get("Nats-Last-Sequence") != "0" {
		t.Fatalf("first %s %v %q", first.Subject, first.Header, first.Data)
	}
	if _, err := time.Parse(time.RFC3339Nano, first.Header.Get("Nats-Time-Stamp")); err != nil {
		t.Fatalf("time stamp: %v", err)
	}
	second := testutil.NextMsg(t, sub)
	if second.Header.Get("Nats-Sequence") != "2" || second.Header.Get("Nats-Last-Sequence") != "1" {
		t.Fatalf("second %v", second.Header)
	}
	testutil.ExpectNoMsg(t, nc, sub)

	cfg.RePublish.HeadersOnly = true
	if _, err := js.UpdateStream(c, cfg); err != nil {
		t.Fatal(err)
	}
	js.Publish(c, "rp.a", []byte("three"))
	third := testutil.NextMsg(t, sub)
	if len(third.Data) != 0 || third.Header.Get("Nats-Msg-Size") != "5" || third.Header.Get("Nats-Last-Sequence") != "2" {
		t.Fatalf("headers only %v %q", third.Header, third.Data)
	}

	cfg.RePublish = &jetstream.RePublish{Source: ">", Destination: "rp.x"}
	_, err = js.UpdateStream(c, cfg)
	testutil.WantAPIError(t, err, 10052) // a cycle
}
