package route_test

import (
	"fmt"
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

func TestRequestReplyAcrossNodesAndNoResponders(t *testing.T) {
	nodes := startMesh(t, 2)
	a, b := nodes[0], nodes[1]
	ncB := connect(t, b)
	if _, err := ncB.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	ncB.Flush()
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) >= 1 }, nil)
	ncA := connect(t, a)
	resp, err := ncA.Request("svc.echo", []byte("x"), 5*time.Second)
	if err != nil || string(resp.Data) != "re:x" {
		t.Fatalf("request across the route: %v %v", resp, err)
	}
	// Nobody anywhere: the requester hears so at once.
	if _, err := ncA.Request("svc.nobody", nil, 5*time.Second); err != nats.ErrNoResponders {
		t.Fatalf("want no responders, got %v", err)
	}
	// The only responder is on the other server: no 503 although A has
	// no local subscriber.
	ncA2 := connect(t, a)
	for i := 0; i < 20; i++ {
		if _, err := ncA2.Request("svc.echo", nil, 5*time.Second); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

func TestNoMessageCrossesARouteWithoutInterest(t *testing.T) {
	nodes := startMesh(t, 2)
	a, b := nodes[0], nodes[1]
	ncA := connect(t, a)
	// A local subscriber on A, none on B.
	local, _ := ncA.SubscribeSync("orders.>")
	ncA.Flush()
	for i := 0; i < 100; i++ {
		ncA.Publish("orders.new", []byte("payload"))
		ncA.Publish("nobody.listens", []byte("payload"))
	}
	ncA.Flush()
	for i := 0; i < 100; i++ {
		nextMsg(t, local)
	}
	if msgs, bytes := routeOut(a); msgs != 0 || bytes != 0 {
		t.Fatalf("without remote interest %d messages (%d bytes) crossed the route", msgs, bytes)
	}
	// Interest on B in another subject changes nothing for these.
	ncB := connect(t, b)
	remote, _ := ncB.SubscribeSync("orders.paid")
	ncB.Flush()
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) == 1 }, nil)
	for i := 0; i < 100; i++ {
		ncA.Publish("orders.new", []byte("payload"))
	}
	ncA.Publish("orders.paid", []byte("payload"))
	ncA.Flush()
	nextMsg(t, remote)
	if msgs, bytes := routeOut(a); msgs != 1 || bytes != int64(len("payload")) {
		t.Fatalf("want exactly the one interesting message across, got %d messages, %d bytes", msgs, bytes)
	}
	// Unsubscribing withdraws the interest.
	remote.Unsubscribe()
	ncB.Flush()
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) == 0 }, nil)
	ncA.Publish("orders.paid", []byte("payload"))
	ncA.Flush()
	if msgs, _ := routeOut(a); msgs != 1 {
		t.Fatalf("a message crossed after the interest was withdrawn (%d)", msgs)
	}
}

func TestOneHopDelivery(t *testing.T) {
	nodes := startMesh(t, 3)
	ncs := make([]*nats.Conn, 3)
	subs := make([]*nats.Subscription, 3)
	for i, s := range nodes {
		ncs[i] = connect(t, s)
		subs[i], _ = ncs[i].SubscribeSync("fan")
		ncs[i].Flush()
	}
	for _, s := range nodes {
		s := s
		waitFor(t, 5*time.Second, func() bool { return routeSubs(s) == 2 }, nil)
	}
	ncs[0].Publish("fan", []byte("once"))
	ncs[0].Flush()
	for i := range subs {
		nextMsg(t, subs[i])
		if m, err := subs[i].NextMsg(200 * time.Millisecond); err == nil {
			t.Fatalf("node %d got the message twice: %q", i, m.Data)
		}
	}
	// Servers 1 and 2 got it from 0 and passed it on to nobody.
	for _, s := range nodes[1:] {
		if msgs, _ := routeOut(s); msgs != 0 {
			t.Fatalf("%s forwarded a routed message (%d)", s.Name(), msgs)
		}
	}
}

func TestQueueGroupDeliversExactlyOnceAcrossNodes(t *testing.T) {
	nodes := startMesh(t, 3)
	const perNode, total = 2, 600
	counts := make([][]int, len(nodes))
	got := make(chan string, total*2)
	for i, s := range nodes {
		nc := connect(t, s)
		counts[i] = make([]int, perNode)
		for j := 0; j < perNode; j++ {
			if _, err := nc.QueueSubscribe("work", "workers", func(m *nats.Msg) { got <- string(m.Data) }); err != nil {
				t.Fatal(err)
			}
		}
		// A plain subscriber as well: it gets every message.
		nc.Flush()
	}
	for _, s := range nodes {
		s := s
		waitFor(t, 5*time.Second, func() bool { return routeSubs(s) == 2 }, nil)
	}
	pub := connect(t, nodes[1])
	for i := 0; i < total; i++ {
		pub.Publish("work", []byte(fmt.Sprint(i)))
	}
	pub.Flush()
	seen := make(map[string]int)
	timeout := time.After(10 * time.Second)
	for len(seen) < total {
		select {
		case d := <-got:
			seen[d]++
			if seen[d] > 1 {
				t.Fatalf("message %s delivered twice", d)
			}
		case <-timeout:
			t.Fatalf("only %d of %d messages delivered", len(seen), total)
		}
	}
	select {
	case d := <-got:
		t.Fatalf("extra delivery of %s", d)
	case <-time.After(300 * time.Millisecond):
	}
	// Every node took part: members are weighted by count, so each node
	// should see about a third.
	for i, s := range nodes {
		_ = i
		in := int64(0)
		for _, r := range s.Routes() {
			in += r.InMsgs
		}
		if s != nodes[1] && in < total/10 {
			t.Fatalf("%s got only %d of %d messages from its routes", s.Name(), in, total)
		}
	}
}
