package route_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestSubscriberOnBGetsMessageFromA(t *testing.T) {
	nodes := startMesh(t, 2)
	a, b := nodes[0], nodes[1]
	ncB := connect(t, b)
	sub, err := ncB.SubscribeSync("greet.*")
	if err != nil {
		t.Fatal(err)
	}
	ncB.Flush()
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) == 1 }, func() string { return "A never learnt B's interest" })
	ncA := connect(t, a)
	m := nats.NewMsg("greet.joe")
	m.Header.Set("X-Test", "1")
	m.Data = []byte("hello")
	if err := ncA.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	got := nextMsg(t, sub)
	if string(got.Data) != "hello" || got.Subject != "greet.joe" || got.Header.Get("X-Test") != "1" {
		t.Fatalf("got %q on %q headers %v", got.Data, got.Subject, got.Header)
	}
}
