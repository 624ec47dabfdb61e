package jsapi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Priority groups of pull consumers and the push rate limit. The wire
// details (status lines, the Nats-Pin-Id header) were compared with the
// reference server request by request.

// pullRaw sends one pull request and returns what came back: the messages'
// data (once want of them arrived), and the status line of the status that
// ended it ("" if none came within wait).
func pullRaw(t *testing.T, nc *nats.Conn, subject, body string, wait time.Duration, want int) (data []string, pin, status string) {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, []byte(body)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := sub.NextMsg(wait)
		if err != nil {
			return data, pin, ""
		}
		if st := m.Header.Get("Status"); st != "" {
			return data, pin, st + " " + m.Header.Get("Description")
		}
		data = append(data, string(m.Data))
		pin = m.Header.Get("Nats-Pin-Id")
		if len(data) == want {
			return data, pin, ""
		}
	}
}

func TestPinnedClient(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PR", Subjects: []string{"pr"}})
	publishN(t, js, "pr", 5)
	cons, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy,
		PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{"A"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := cons.CachedInfo().Config; cfg.PinnedTTL != 2*time.Minute || cfg.Metadata["_nats.req.level"] != "1" {
		t.Fatalf("defaults %+v", cfg)
	}
	// nats.go keeps the pin it is given and sends it back.
	batch, err := cons.Fetch(2, jetstream.FetchPriorityGroup("A"), jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if m.Headers().Get("Nats-Pin-Id") == "" {
			t.Fatal("message without its pin")
		}
		m.Ack()
		n++
	}
	info, _ := cons.Info(c)
	if n != 2 || len(info.PriorityGroups) != 1 || info.PriorityGroups[0].Group != "A" || info.PriorityGroups[0].PinnedClientID == "" {
		t.Fatalf("after the first fetch: %d messages, %+v", n, info.PriorityGroups)
	}
	pin := info.PriorityGroups[0].PinnedClientID

	// Another client without the pin waits; one with a wrong pin is refused.
	subject := "$JS.API.CONSUMER.MSG.NEXT.PR.C"
	if got, _, status := pullRaw(t, nc, subject, `{"batch":1,"expires":300000000,"group":"A"}`, time.Second, 1); len(got) != 0 || status != "408 Request Timeout" {
		t.Fatalf("unpinned client: %v %q", got, status)
	}
	if _, _, status := pullRaw(t, nc, subject, `{"batch":1,"group":"A","id":"other"}`, time.Second, 1); status != "423 Nats-Pin-Id mismatch" {
		t.Fatalf("wrong pin: %q", status)
	}
	if got, gotPin, _ := pullRaw(t, nc, subject, `{"batch":1,"expires":300000000,"group":"A","id":"`+pin+`"}`, time.Second, 1); len(got) != 1 || gotPin != pin {
		t.Fatalf("pinned client: %v %q", got, gotPin)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"batch":1}`, "400 Bad Request - Priority Group missing"},
		{`{"batch":1,"group":"B"}`, "400 Bad Request - Invalid Priority Group"},
		{`{"batch":1,"group":"A","min_pending":2}`, "400 Bad Request - Not a Overflow Priority consumer"},
		{`{"batch":1,"group":"A","priority":10}`, "400 Bad Request - Priority must be between 0 and 9"},
	} {
		if _, _, status := pullRaw(t, nc, subject, tc.body, time.Second, 1); status != tc.want {
			t.Errorf("%s: %q, want %q", tc.body, status, tc.want)
		}
	}

	// Unpinning hands the group to the next client.
	if err := st.UnpinConsumer(c, "C", "A"); err != nil {
		t.Fatal(err)
	}
	if _, _, status := pullRaw(t, nc, subject, `{"batch":1,"expires":300000000,"group":"A","id":"`+pin+`"}`, time.Second, 1); status != "423 Nats-Wrong-Pin-Id" {
		t.Fatalf("old pin after unpin: %q", status)
	}
	got, newPin, _ := pullRaw(t, nc, subject, `{"batch":1,"expires":300000000,"group":"A"}`, time.Second, 1)
	if len(got) != 1 || newPin == "" || newPin == pin {
		t.Fatalf("after unpin: %v pin %q", got, newPin)
	}
	var apiErr *jetstream.APIError
	if err := st.UnpinConsumer(c, "C", "B"); !errors.As(err, &apiErr) || apiErr.ErrorCode != 10160 {
		t.Fatalf("unpin of an unknown group: %v", err)
	}
}

// A pin nobody renews lapses after the priority timeout.
func TestPinnedClientTimeout(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PT", Subjects: []string{"pt"}})
	publishN(t, js, "pt", 3)
	if _, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckNonePolicy,
		PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{"A"}, PinnedTTL: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	subject := "$JS.API.CONSUMER.MSG.NEXT.PT.C"
	_, first, _ := pullRaw(t, nc, subject, `{"batch":1,"group":"A"}`, time.Second, 1)
	// A waiting client without the pin gets the group once the pin lapsed.
	got, second, _ := pullRaw(t, nc, subject, `{"batch":1,"expires":2000000000,"group":"A"}`, 3*time.Second, 1)
	if first == "" || len(got) != 1 || second == "" || second == first {
		t.Fatalf("pins %q then %q (%v)", first, second, got)
	}
}

func TestOverflowAndPrioritized(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "OV", Subjects: []string{"ov"}})
	publishN(t, js, "ov", 3)
	if _, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "O", AckPolicy: jetstream.AckExplicitPolicy,
		PriorityPolicy: jetstream.PriorityPolicyOverflow, PriorityGroups: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	subject := "$JS.API.CONSUMER.MSG.NEXT.OV.O"
	// 3 pending: a client asking for at least 5 waits, one asking for 3 is served.
	if got, _, _ := pullRaw(t, nc, subject, `{"batch":1,"expires":300000000,"group":"A","min_pending":5}`, time.Second, 1); len(got) != 0 {
		t.Fatalf("overflow below its threshold got %v", got)
	}
	if got, _, _ := pullRaw(t, nc, subject, `{"batch":1,"expires":300000000,"group":"A","min_pending":3}`, time.Second, 1); len(got) != 1 {
		t.Fatalf("overflow at its threshold got %v", got)
	}
	// 1 awaits its ack: min_ack_pending 1 is served.
	if got, _, _ := pullRaw(t, nc, subject, `{"batch":1,"expires":300000000,"group":"A","min_pending":50,"min_ack_pending":1}`, time.Second, 1); len(got) != 1 {
		t.Fatalf("overflow by ack pending got %v", got)
	}

	if _, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "P", AckPolicy: jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy, PriorityPolicy: jetstream.PriorityPolicyPrioritized, PriorityGroups: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	low, high := nats.NewInbox(), nats.NewInbox()
	lowSub, _ := nc.SubscribeSync(low)
	highSub, _ := nc.SubscribeSync(high)
	nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.OV.P", low, []byte(`{"batch":1,"expires":5000000000,"group":"A","priority":5}`))
	nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.OV.P", high, []byte(`{"batch":1,"expires":5000000000,"group":"A","priority":1}`))
	testutil.WaitFor(t, "both requests to wait", func() bool {
		info, err := js.Consumer(c, "OV", "P")
		return err == nil && info.CachedInfo().NumWaiting == 2
	})
	js.Publish(c, "ov", []byte("first"))
	if m := testutil.NextMsg(t, highSub); string(m.Data) != "first" {
		t.Fatalf("priority 1 got %q", m.Data)
	}
	js.Publish(c, "ov", []byte("second"))
	if m := testutil.NextMsg(t, lowSub); string(m.Data) != "second" {
		t.Fatalf("priority 5 got %q", m.Data)
	}
}

// A push consumer's rate_limit_bps spaces its deliveries.
func TestPushRateLimit(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "RL", Subjects: []string{"rl"}})
	payload := make([]byte, 2000)
	for i := 0; i < 5; i++ {
		js.Publish(c, "rl", payload)
	}
	sub, _ := nc.SubscribeSync("rl.deliver")
	start := time.Now()
	// 80 kbit/s is 10 kB/s: each 2 kB message books about 200 ms.
	if _, err := st.CreateOrUpdatePushConsumer(c, jetstream.ConsumerConfig{Durable: "R", DeliverSubject: "rl.deliver",
		AckPolicy: jetstream.AckNonePolicy, RateLimit: 80_000}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		testutil.NextMsg(t, sub)
	}
	if elapsed := time.Since(start); elapsed < 700*time.Millisecond {
		t.Fatalf("5 messages of 2 kB at 10 kB/s arrived in %v", elapsed)
	}
	_, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "X", RateLimit: 1000})
	testutil.WantAPIError(t, err, 10086)
}
