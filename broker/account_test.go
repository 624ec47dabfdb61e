package broker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

func TestInternalSubscriptionAndPublisher(t *testing.T) {
	s := testutil.StartServer(t)
	acc := s.GlobalAccount()
	got := make(chan string, 4)
	isub, err := acc.Subscribe("svc.echo", "", func(subject, reply, hdr, data []byte) {
		// Copy: the slices are borrowed from the publisher's read buffer.
		got <- string(subject) + "|" + string(reply) + "|" + string(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	nc := testutil.Connect(t, s)
	inbox, _ := nc.SubscribeSync("answers")
	nc.Publish("svc.echo", []byte("hi"))
	nc.PublishRequest("svc.echo", "answers", []byte("q"))
	nc.Flush()
	if m := <-got; m != "svc.echo||hi" {
		t.Fatalf("handler got %q", m)
	}
	if m := <-got; m != "svc.echo|answers|q" {
		t.Fatalf("handler got %q", m)
	}

	pub := acc.NewPublisher()
	if !pub.Publish([]byte("answers"), nil, []byte("NATS/1.0\r\nK: v\r\n\r\n"), []byte("a")) {
		t.Fatal("publisher reports no delivery")
	}
	m := testutil.NextMsg(t, inbox)
	if string(m.Data) != "a" || m.Header.Get("K") != "v" {
		t.Fatalf("got %q %v", m.Data, m.Header)
	}
	if pub.Publish([]byte("nobody"), nil, nil, nil) {
		t.Fatal("delivery reported without subscribers")
	}

	// An internal subscription counts as a responder for no-responders.
	if _, err := nc.Request("svc.echo", nil, 100*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout (not no-responders)", err)
	}
	<-got
	isub.Unsubscribe()
	if acc.HasInterest("svc.echo") {
		t.Fatal("interest left after Unsubscribe")
	}
}
