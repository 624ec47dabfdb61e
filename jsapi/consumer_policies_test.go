package jsapi_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fetchOne pulls one message or fails.
func fetchOne(t *testing.T, cons jetstream.Consumer, wait time.Duration) jetstream.Msg {
	t.Helper()
	m, err := cons.Next(jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return m
}

func meta(t *testing.T, m jetstream.Msg) *jetstream.MsgMetadata {
	t.Helper()
	md, err := m.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func TestAckVariantsAndRedelivery(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "A", Subjects: []string{"a"}})
	publishN(t, js, "a", 4)
	consumer := func(name string, cfg jetstream.ConsumerConfig) jetstream.Consumer {
		cfg.Durable, cfg.AckPolicy = name, jetstream.AckExplicitPolicy
		c, err := st.CreateOrUpdateConsumer(testutil.Ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// NAK: delivered again at once, with delivered count 2 and a new cseq.
	c1 := consumer("NAK", jetstream.ConsumerConfig{})
	fetchOne(t, c1, time.Second).Nak()
	m := fetchOne(t, c1, time.Second)
	if md := meta(t, m); md.Sequence.Stream != 1 || md.NumDelivered != 2 || md.Sequence.Consumer != 2 {
		t.Fatalf("after nak: %+v delivered %d", md.Sequence, md.NumDelivered)
	}
	m.DoubleAck(testutil.Ctx(t))
	if info, _ := c1.Info(testutil.Ctx(t)); info.NumRedelivered != 0 || info.NumAckPending != 0 {
		t.Fatalf("after ack of redelivery: %+v", info)
	}

	// NAK with delay: newer messages come first; TERM never comes back.
	c2 := consumer("DELAY", jetstream.ConsumerConfig{})
	start := time.Now()
	fetchOne(t, c2, time.Second).NakWithDelay(300 * time.Millisecond) // seq 1
	fetchOne(t, c2, time.Second).Term()                               // seq 2
	m = fetchOne(t, c2, time.Second)                                  // seq 3, new
	if meta(t, m).Sequence.Stream != 3 {
		t.Fatalf("delayed message not delayed")
	}
	m.Ack()
	fetchOne(t, c2, time.Second).Ack() // seq 4
	m = fetchOne(t, c2, 2*time.Second)
	if md := meta(t, m); md.Sequence.Stream != 1 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("delayed redelivery %+v after %v", md.Sequence, time.Since(start))
	}
	m.Ack()
	if _, err := c2.Next(jetstream.FetchMaxWait(300 * time.Millisecond)); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("terminated message came back: %v", err)
	}

	// Ack wait: unacked, redelivered after 200 ms; max deliver 3 stops it.
	c3 := consumer("WAIT", jetstream.ConsumerConfig{AckWait: 200 * time.Millisecond, MaxDeliver: 3, MaxAckPending: 1})
	m = fetchOne(t, c3, time.Second)
	m.InProgress()
	for dc := 2; dc <= 3; dc++ {
		m = fetchOne(t, c3, 2*time.Second)
		if md := meta(t, m); md.Sequence.Stream != 1 || md.NumDelivered != uint64(dc) {
			t.Fatalf("redelivery %d: %+v", dc, md)
		}
		if dc == 2 {
			if info, _ := c3.Info(testutil.Ctx(t)); info.NumRedelivered != 1 {
				t.Fatalf("num_redelivered %d", info.NumRedelivered)
			}
		}
	}
	batch, _ := c3.Fetch(10, jetstream.FetchMaxWait(700*time.Millisecond))
	for m := range batch.Messages() {
		if meta(t, m).Sequence.Stream == 1 {
			t.Fatal("delivered past max_deliver")
		}
		m.Ack()
	}
}

func TestAckAllAndAckNone(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "AA", Subjects: []string{"aa"}})
	publishN(t, js, "aa", 5)
	all, _ := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "ALL", AckPolicy: jetstream.AckAllPolicy})
	batch, _ := all.Fetch(5)
	var last jetstream.Msg
	for m := range batch.Messages() {
		last = m
	}
	last.DoubleAck(testutil.Ctx(t))
	if info, _ := all.Info(testutil.Ctx(t)); info.NumAckPending != 0 || info.AckFloor.Stream != 5 {
		t.Fatalf("ack all: %+v", info)
	}
	none, _ := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "NONE", AckPolicy: jetstream.AckNonePolicy})
	batch, _ = none.Fetch(5)
	n := 0
	for range batch.Messages() {
		n++
	}
	if info, _ := none.Info(testutil.Ctx(t)); n != 5 || info.NumAckPending != 0 || info.AckFloor.Stream != 5 || info.NumPending != 0 {
		t.Fatalf("ack none: got %d, %+v", n, info)
	}
}

func TestDeliverPolicies(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "DP", Subjects: []string{"dp.*"}})
	for i := 1; i <= 6; i++ {
		js.Publish(testutil.Ctx(t), fmt.Sprintf("dp.%d", i%3), []byte(fmt.Sprint(i)))
	}
	mid := time.Now()
	js.Publish(testutil.Ctx(t), "dp.late", []byte("7"))
	cases := []struct {
		cfg     jetstream.ConsumerConfig
		want    []uint64
		pending uint64
	}{
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}, []uint64{1, 2, 3, 4, 5, 6, 7}, 7},
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPolicy}, []uint64{7}, 1},
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}, nil, 0},
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 5}, []uint64{5, 6, 7}, 3},
		{jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &mid}, []uint64{7}, 1},
		{jetstream.ConsumerConfig{FilterSubject: "dp.1"}, []uint64{1, 4}, 2},
		{jetstream.ConsumerConfig{FilterSubjects: []string{"dp.2", "dp.late"}}, []uint64{2, 5, 7}, 3},
		{jetstream.ConsumerConfig{FilterSubject: "dp.*", DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy}, []uint64{4, 5, 6, 7}, 4},
	}
	for i, tc := range cases {
		tc.cfg.AckPolicy = jetstream.AckNonePolicy
		cons, err := st.CreateConsumer(testutil.Ctx(t), tc.cfg)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if p := cons.CachedInfo().NumPending; p != tc.pending {
			t.Errorf("case %d: num_pending %d, want %d", i, p, tc.pending)
		}
		batch, _ := cons.FetchNoWait(10)
		var got []uint64
		for m := range batch.Messages() {
			got = append(got, meta(t, m).Sequence.Stream)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("case %d (%s %s): got %v, want %v", i, tc.cfg.DeliverPolicy, tc.cfg.FilterSubject, got, tc.want)
		}
	}
}

func TestMaxAckPending(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "MAP", Subjects: []string{"map"}})
	publishN(t, js, "map", 10)
	cons, _ := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 3})
	batch, _ := cons.Fetch(10, jetstream.FetchMaxWait(300*time.Millisecond))
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if len(msgs) != 3 {
		t.Fatalf("delivered %d with max_ack_pending 3", len(msgs))
	}
	msgs[0].DoubleAck(testutil.Ctx(t))
	if m := fetchOne(t, cons, time.Second); meta(t, m).Sequence.Stream != 4 {
		t.Fatal("ack did not free a slot")
	}
}

func TestPullStatuses(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PS", Subjects: []string{"ps"}})
	js.Publish(testutil.Ctx(t), "ps", make([]byte, 20))
	st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy, MaxWaiting: 1})
	inbox := nats.NewInbox()
	sub, _ := nc.SubscribeSync(inbox)
	nc.Flush()
	pull := func(body string) {
		nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.PS.C", inbox, []byte(body))
	}
	status := func() (string, nats.Header) {
		t.Helper()
		m, err := sub.NextMsg(3 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m.Header.Get("Status") + " " + m.Header.Get("Description"), m.Header
	}
	pull(`{"batch":1,"max_bytes":10,"expires":1000000000}`)
	if st, h := status(); st != "409 Message Size Exceeds MaxBytes" || h.Get("Nats-Pending-Messages") != "1" {
		t.Fatalf("max bytes: %q %v", st, h)
	}
	pull(`{"batch":2,"expires":2000000000}`) // takes the message, then waits
	if m, _ := sub.NextMsg(time.Second); m == nil || m.Subject != "ps" {
		t.Fatalf("expected the message, got %v", m)
	}
	pull(`{"batch":1,"expires":500000000}`) // the second waiter is one too many
	if st, _ := status(); st != "409 Exceeded MaxWaiting" {
		t.Fatalf("max waiting: %q", st)
	}
	if st, h := status(); st != "408 Request Timeout" || h.Get("Nats-Pending-Messages") != "1" || h.Get("Nats-Pending-Bytes") != "0" {
		t.Fatalf("expiry: %q %v", st, h)
	}
	pull(`{"batch":1,"no_wait":true}`)
	if st, _ := status(); st != "404 No Messages" {
		t.Fatalf("no wait: %q", st)
	}
	pull(`{"batch":1,"expires":1000000000,"idle_heartbeat":600000000}`)
	if st, _ := status(); st != "400 Bad Request - heartbeat value too large" {
		t.Fatalf("heartbeat check: %q", st)
	}
	pull(`{"batch":1,"expires":1200000000,"idle_heartbeat":300000000}`)
	if st, h := status(); st != "100 Idle Heartbeat" || h.Get("Nats-Last-Stream") != "1" {
		t.Fatalf("heartbeat: %q %v", st, h)
	}
	js.DeleteConsumer(testutil.Ctx(t), "PS", "C")
	for {
		st, _ := status()
		if st == "100 Idle Heartbeat" {
			continue
		}
		if st != "409 Consumer Deleted" {
			t.Fatalf("after delete: %q", st)
		}
		break
	}
	// A missing consumer: nobody answers.
	if _, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.PS.C", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("pull on deleted consumer: %v", err)
	}
}

func TestConsumeAndMessages(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "CM", Subjects: []string{"cm"}})
	cons, _ := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy})
	const n = 2000
	var got atomic.Int64
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		m.Ack()
		if got.Add(1) == n {
			close(done)
		}
	}, jetstream.PullMaxMessages(100))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	publishN(t, js, "cm", n)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("consumed %d of %d", got.Load(), n)
	}
	cc.Stop() // its waiting pull would take the next message first
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	js.Publish(testutil.Ctx(t), "cm", []byte("via iterator"))
	m, err := it.Next()
	if err != nil || string(m.Data()) != "via iterator" {
		t.Fatalf("iterator: %v", err)
	}
}

func TestOrderedConsumer(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "OC", Subjects: []string{"oc.*"}})
	for i := 0; i < 300; i++ {
		js.Publish(testutil.Ctx(t), fmt.Sprintf("oc.%d", i%3), []byte(fmt.Sprint(i)))
	}
	oc, err := st.OrderedConsumer(testutil.Ctx(t), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := oc.Fetch(300, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Data())
		}
		i++
	}
	if i != 300 {
		t.Fatalf("ordered consumer read %d of 300", i)
	}
}

func TestPushConsumer(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PU", Subjects: []string{"pu"}})
	publishN(t, js, "pu", 5)
	sub, _ := nc.SubscribeSync("deliver.here")
	nc.Flush()
	_, err := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{
		Durable: "P", DeliverSubject: "deliver.here", AckPolicy: jetstream.AckExplicitPolicy, IdleHeartbeat: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		m, err := sub.NextMsg(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "pu" || !strings.HasPrefix(m.Reply, "$JS.ACK.PU.P.1.") {
			t.Fatalf("push delivery %q reply %q", m.Subject, m.Reply)
		}
		m.Ack()
	}
	m, err := sub.NextMsg(2 * time.Second)
	if err != nil || m.Header.Get("Status") != "100" || m.Header.Get("Nats-Last-Consumer") != "5" {
		t.Fatalf("idle heartbeat: %v %v", m, err)
	}
	// Pull on a push consumer is refused.
	reply, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.PU.P", nil, time.Second)
	if err == nil {
		t.Fatalf("pull on push consumer answered %v", reply.Header)
	}
}

func TestPushDeliverGroup(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PG", Subjects: []string{"pg"}})
	a, _ := nc.QueueSubscribeSync("grp.deliver", "workers")
	b, _ := nc.QueueSubscribeSync("grp.deliver", "workers")
	nc.Flush()
	st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{
		Durable: "G", DeliverSubject: "grp.deliver", DeliverGroup: "workers", AckPolicy: jetstream.AckNonePolicy,
	})
	publishN(t, js, "pg", 100)
	testutil.WaitFor(t, "all delivered once", func() bool {
		na, _, _ := a.Pending()
		nb, _, _ := b.Pending()
		return na+nb == 100
	})
}

func TestRetentionPolicies(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	wq := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "WQ", Subjects: []string{"wq.*"}, Retention: jetstream.WorkQueuePolicy})
	publishN(t, js, "wq.a", 3)
	cons, err := wq.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "W", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wq.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "W2", AckPolicy: jetstream.AckExplicitPolicy})
	testutil.WantAPIError(t, err, 10099)
	_, err = wq.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "W3", AckPolicy: jetstream.AckNonePolicy, FilterSubject: "wq.b"})
	testutil.WantAPIError(t, err, 10084) // a pull consumer, as the reference server says
	_, err = wq.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "W4", AckPolicy: jetstream.AckAllPolicy, FilterSubject: "wq.b"})
	testutil.WantAPIError(t, err, 10098)
	batch, _ := cons.Fetch(2)
	for m := range batch.Messages() {
		m.DoubleAck(testutil.Ctx(t))
	}
	if info, _ := wq.Info(testutil.Ctx(t)); info.State.Msgs != 1 || info.State.FirstSeq != 3 {
		t.Fatalf("work queue after 2 acks: %+v", info.State)
	}

	in := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "IN", Subjects: []string{"in"}, Retention: jetstream.InterestPolicy})
	js.Publish(testutil.Ctx(t), "in", nil) // nobody interested: not kept
	c1, _ := in.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "I1", AckPolicy: jetstream.AckExplicitPolicy})
	c2, _ := in.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "I2", AckPolicy: jetstream.AckExplicitPolicy})
	js.Publish(testutil.Ctx(t), "in", nil)
	if info, _ := in.Info(testutil.Ctx(t)); info.State.Msgs != 1 {
		t.Fatalf("interest stream holds %d", info.State.Msgs)
	}
	fetchOne(t, c1, time.Second).DoubleAck(testutil.Ctx(t))
	if info, _ := in.Info(testutil.Ctx(t)); info.State.Msgs != 1 {
		t.Fatal("removed before every consumer acked")
	}
	fetchOne(t, c2, time.Second).DoubleAck(testutil.Ctx(t))
	testutil.WaitFor(t, "acked by all", func() bool { info, _ := in.Info(testutil.Ctx(t)); return info.State.Msgs == 0 })
}

func TestConsumerAPIErrors(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "CE", Subjects: []string{"ce.>"}})
	cfg := jetstream.ConsumerConfig{Durable: "D", AckPolicy: jetstream.AckExplicitPolicy}
	if _, err := st.CreateConsumer(testutil.Ctx(t), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateConsumer(testutil.Ctx(t), cfg); err != nil {
		t.Fatalf("identical create: %v", err)
	}
	cfg2 := cfg
	cfg2.Description = "changed"
	_, err := st.CreateConsumer(testutil.Ctx(t), cfg2)
	testutil.WantAPIError(t, err, 10148)
	if _, err := st.UpdateConsumer(testutil.Ctx(t), cfg2); err != nil {
		t.Fatalf("update: %v", err)
	}
	_, err = st.UpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "NOPE", AckPolicy: jetstream.AckExplicitPolicy})
	testutil.WantAPIError(t, err, 10149)
	cfg3 := cfg2
	cfg3.AckPolicy = jetstream.AckNonePolicy
	_, err = st.UpdateConsumer(testutil.Ctx(t), cfg3)
	testutil.WantAPIError(t, err, 10012)
	if err := st.DeleteConsumer(testutil.Ctx(t), "D"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteConsumer(testutil.Ctx(t), "D"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	for _, name := range []string{"B", "A", "C"} {
		st.CreateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: name})
	}
	var names []string
	for n := range st.ConsumerNames(testutil.Ctx(t)).Name() {
		names = append(names, n)
	}
	if fmt.Sprint(names) != "[A B C]" {
		t.Fatalf("names %v", names)
	}
	if info, _ := st.Info(testutil.Ctx(t)); info.State.Consumers != 3 {
		t.Fatalf("consumer count %d", info.State.Consumers)
	}
}

func TestEphemeralInactivity(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "EP", Subjects: []string{"ep"}})
	cons, err := st.CreateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{InactiveThreshold: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	name := cons.CachedInfo().Name
	testutil.WaitFor(t, "ephemeral removed", func() bool {
		_, err := st.Consumer(testutil.Ctx(t), name)
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
}
