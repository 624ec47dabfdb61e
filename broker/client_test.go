package broker_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// Tests through nats.go, the client most users run.

func TestPubSub(t *testing.T) {
	s := testutil.StartServer(t)
	sub := testutil.Connect(t, s)
	pub := testutil.Connect(t, s)
	ss, _ := sub.SubscribeSync("greet")
	sub.Flush()
	pub.Publish("greet", []byte("hello"))
	if m := testutil.NextMsg(t, ss); string(m.Data) != "hello" || m.Subject != "greet" {
		t.Fatalf("got %q on %q", m.Data, m.Subject)
	}
}

func TestWildcards(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	star, _ := nc.SubscribeSync("orders.*.created")
	full, _ := nc.SubscribeSync("orders.>")
	exact, _ := nc.SubscribeSync("orders")
	nc.Flush()
	for _, subj := range []string{"orders.eu.created", "orders.eu.created.late", "orders", "orders.us"} {
		nc.Publish(subj, []byte(subj))
	}
	nc.Flush()
	want := map[*nats.Subscription][]string{
		star:  {"orders.eu.created"},
		full:  {"orders.eu.created", "orders.eu.created.late", "orders.us"},
		exact: {"orders"},
	}
	for sub, subjects := range want {
		for _, subj := range subjects {
			if m := testutil.NextMsg(t, sub); m.Subject != subj {
				t.Fatalf("%s got %q, want %q", sub.Subject, m.Subject, subj)
			}
		}
		testutil.ExpectNoMsg(t, nc, sub)
	}
}

func TestQueueGroupsDeliverOnce(t *testing.T) {
	s := testutil.StartServer(t)
	const members, msgs = 3, 300
	conns := make([]*nats.Conn, members)
	subs := make([]*nats.Subscription, members)
	for i := range conns {
		conns[i] = testutil.Connect(t, s)
		subs[i], _ = conns[i].QueueSubscribeSync("work", "workers")
		subs[i].SetPendingLimits(-1, -1)
		conns[i].Flush()
	}
	plain := testutil.Connect(t, s)
	observer, _ := plain.SubscribeSync("work")
	plain.Flush()
	pub := testutil.Connect(t, s)
	for i := 0; i < msgs; i++ {
		pub.Publish("work", []byte("job"))
	}
	pub.Flush() // every delivery is queued at the server now
	total := 0
	for i, nc := range conns {
		nc.Flush() // the PONG comes after this member's messages
		n, _, _ := subs[i].Pending()
		if n == 0 {
			t.Errorf("member %d got nothing", i)
		}
		total += n
	}
	if total != msgs {
		t.Fatalf("queue group received %d messages, want exactly %d", total, msgs)
	}
	plain.Flush()
	if n, _, _ := observer.Pending(); n != msgs {
		t.Fatalf("plain subscriber got %d, want every message (%d)", n, msgs)
	}
}

func TestRequestReply(t *testing.T) {
	s := testutil.StartServer(t)
	svc := testutil.Connect(t, s)
	svc.Subscribe("echo", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
	svc.Flush()
	nc := testutil.Connect(t, s)
	// Many concurrent requests share one muxed inbox subscription.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("q%d", i)
			m, err := nc.Request("echo", []byte(want), testutil.MsgWait)
			if err != nil {
				errs <- err
				return
			}
			if string(m.Data) != "re:"+want {
				errs <- fmt.Errorf("reply %q for %q", m.Data, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNoRespondersThroughClient(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	_, err := nc.Request("nobody.home", nil, testutil.MsgWait)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("err = %v, want ErrNoResponders", err)
	}
}

func TestHeadersThroughClient(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	sub, _ := nc.SubscribeSync("h")
	msg := nats.NewMsg("h")
	msg.Header.Add("Nats-Msg-Id", "abc")
	msg.Header.Add("multi", "1")
	msg.Header.Add("multi", "2")
	msg.Data = []byte("body")
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	m := testutil.NextMsg(t, sub)
	if got := m.Header.Get("Nats-Msg-Id"); got != "abc" {
		t.Errorf("Nats-Msg-Id = %q", got)
	}
	if got := m.Header.Values("multi"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("multi = %q", got)
	}
	if string(m.Data) != "body" {
		t.Errorf("data = %q", m.Data)
	}
}

func TestEchoOff(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s, nats.NoEcho())
	own, _ := nc.SubscribeSync("e")
	other := testutil.Connect(t, s)
	theirs, _ := other.SubscribeSync("e")
	other.Flush()
	nc.Publish("e", []byte("x"))
	testutil.NextMsg(t, theirs)
	testutil.ExpectNoMsg(t, nc, own)
}

func TestAutoUnsubscribeThroughClient(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	sub, _ := nc.SubscribeSync("a")
	sub.AutoUnsubscribe(3)
	for i := 0; i < 10; i++ {
		nc.Publish("a", []byte{byte(i)})
	}
	nc.Flush()
	for i := 0; i < 3; i++ {
		testutil.NextMsg(t, sub)
	}
	testutil.WaitFor(t, "server drops the subscription", func() bool { return s.NumSubscriptions() == 0 })
}

func TestDrainDeliversQueuedMessages(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	var got atomic.Int64
	nc.Subscribe("d", func(*nats.Msg) { got.Add(1) })
	nc.Flush()
	pub := testutil.Connect(t, s)
	for i := 0; i < 1000; i++ {
		pub.Publish("d", []byte("x"))
	}
	pub.Flush()
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(testutil.MsgWait):
		t.Fatal("drain did not finish")
	}
	if got.Load() != 1000 {
		t.Fatalf("drained subscriber got %d of 1000", got.Load())
	}
	testutil.WaitFor(t, "drained client gone", func() bool { return s.NumClients() == 1 })
}

func TestManyClients(t *testing.T) {
	s := testutil.StartServer(t)
	const clients, each = 50, 20
	sink := testutil.Connect(t, s)
	sub, _ := sink.SubscribeSync("many.>")
	sub.SetPendingLimits(-1, -1)
	sink.Flush()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		nc := testutil.Connect(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				nc.Publish(fmt.Sprintf("many.%d", i), []byte("x"))
			}
			nc.Flush()
		}()
	}
	wg.Wait()
	for i := 0; i < clients*each; i++ {
		testutil.NextMsg(t, sub)
	}
	testutil.ExpectNoMsg(t, sink, sub)
	if n := s.NumClients(); n != clients+1 {
		t.Fatalf("NumClients = %d", n)
	}
}

func TestThousandSubscriptions(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	const n = 1000
	subs := make([]*nats.Subscription, n)
	for i := range subs {
		subs[i], _ = nc.SubscribeSync(fmt.Sprintf("s.%d", i))
	}
	nc.Flush()
	if got := s.NumSubscriptions(); got != n {
		t.Fatalf("server has %d subscriptions", got)
	}
	pub := testutil.Connect(t, s)
	for i := 0; i < n; i++ {
		pub.Publish(fmt.Sprintf("s.%d", i), []byte(fmt.Sprint(i)))
	}
	pub.Flush()
	for i, sub := range subs {
		if m := testutil.NextMsg(t, sub); string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("sub %d got %q", i, m.Data)
		}
	}
	for _, sub := range subs {
		sub.Unsubscribe()
	}
	nc.Flush()
	testutil.WaitFor(t, "all unsubscribed", func() bool { return s.NumSubscriptions() == 0 })
}

func TestFlushAndStats(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	sub, _ := nc.SubscribeSync("st")
	for i := 0; i < 10; i++ {
		nc.Publish("st", []byte("12345"))
	}
	if err := nc.FlushTimeout(testutil.MsgWait); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		testutil.NextMsg(t, sub)
	}
	st := s.Stats()
	if st.InMsgs != 10 || st.InBytes != 50 || st.OutMsgs != 10 {
		t.Fatalf("stats %+v", st)
	}
}

// Publishers on several connections deliver to one subscriber at once; its
// out counters (changed under its outbound lock) and the publishers' in
// counters (changed by each read loop) lose no message and no byte.
func TestStatsExactWithConcurrentPublishers(t *testing.T) {
	s := testutil.StartServer(t)
	sc := testutil.Connect(t, s)
	sub, _ := sc.SubscribeSync("many")
	sub.SetPendingLimits(-1, -1)
	sc.Flush()
	const pubs, each = 4, 2000
	var wg sync.WaitGroup
	for p := 0; p < pubs; p++ {
		nc := testutil.Connect(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				nc.Publish("many", make([]byte, 1+i%7))
			}
			nc.Flush()
		}()
	}
	wg.Wait()
	var wantBytes int64
	for i := 0; i < each; i++ {
		wantBytes += int64(pubs * (1 + i%7))
	}
	for i := 0; i < pubs*each; i++ {
		testutil.NextMsg(t, sub)
	}
	st := s.Stats()
	if st.InMsgs != pubs*each || st.InBytes != wantBytes || st.OutMsgs != pubs*each || st.OutBytes != wantBytes {
		t.Fatalf("stats %+v, want %d messages and %d bytes each way", st, pubs*each, wantBytes)
	}
}

func TestShutdownClosesClients(t *testing.T) {
	s := testutil.StartServer(t)
	closed := make(chan struct{})
	testutil.Connect(t, s, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	s.Shutdown()
	select {
	case <-closed:
	case <-time.After(testutil.MsgWait):
		t.Fatal("client not closed by shutdown")
	}
	if _, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0)); err == nil {
		t.Fatal("connect after shutdown succeeded")
	}
}

// Large payloads are queued by reference into the publisher's read buffer:
// every subscriber must still get every byte of every message, whatever
// the sizes (small, large, larger than a read buffer) and however far
// behind each subscriber is.
func TestLargePayloadsArriveIntact(t *testing.T) {
	s := testutil.StartServer(t)
	pub := testutil.Connect(t, s)
	var subs []*nats.Subscription
	for i := 0; i < 3; i++ {
		nc := testutil.Connect(t, s)
		sub, err := nc.SubscribeSync("big")
		if err != nil {
			t.Fatal(err)
		}
		sub.SetPendingLimits(-1, -1)
		nc.Flush()
		subs = append(subs, sub)
	}
	sizes := []int{10, 2 << 10, 4 << 10, 5000, 64 << 10, 100 << 10, 1, 3 << 10}
	const rounds = 40
	payload := func(i int) []byte {
		b := make([]byte, sizes[i%len(sizes)])
		for j := range b {
			b[j] = byte(i*7 + j)
		}
		return b
	}
	for i := 0; i < rounds*len(sizes); i++ {
		if err := pub.Publish("big", payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	pub.Flush()
	for k, sub := range subs {
		for i := 0; i < rounds*len(sizes); i++ {
			m := testutil.NextMsg(t, sub)
			if !bytes.Equal(m.Data, payload(i)) {
				t.Fatalf("subscriber %d, message %d: %d bytes differ from the %d published", k, i, len(m.Data), sizes[i%len(sizes)])
			}
		}
	}
}
