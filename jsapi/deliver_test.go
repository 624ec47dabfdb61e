package jsapi

import (
	"testing"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/jetstore"
)

// The wire form of a delivery and of every status kind, byte for byte.
func TestDeliveryAndStatusRendering(t *testing.T) {
	d := jetstore.Delivery{Stream: "S", Consumer: "C", Subject: "a.b", StreamSeq: 12, ConsumerSeq: 5,
		Deliveries: 2, Time: time.Unix(0, 1700000000123456789), Pending: 7}
	if got, want := string(appendAckSubject(nil, &d)), "$JS.ACK.S.C.2.12.5.1700000000123456789.7"; got != want {
		t.Errorf("ack subject %q, want %q", got, want)
	}
	for _, tc := range []struct{ stored, want string }{
		{"", "NATS/1.0\r\nNats-Msg-Size: 11\r\n\r\n"},
		{"NATS/1.0\r\nA: b\r\n\r\n", "NATS/1.0\r\nA: b\r\nNats-Msg-Size: 11\r\n\r\n"},
	} {
		if got := string(appendHeadersOnly(nil, []byte(tc.stored), 11)); got != tc.want {
			t.Errorf("headers only of %q: %q, want %q", tc.stored, got, tc.want)
		}
	}
	st := func(kind jetstore.StatusKind) jetstore.Status {
		return jetstore.Status{Kind: kind, Stream: "S", Consumer: "C", PendingMsgs: 3, PendingBytes: 40,
			LastConsumerSeq: 9, LastStreamSeq: 11, Limit: 5, MaxExpires: 1500 * time.Millisecond}
	}
	stalled := st(jetstore.StatusIdleHeartbeat)
	stalled.FlowControl = 37
	for _, tc := range []struct {
		s    jetstore.Status
		want string
	}{
		{st(jetstore.StatusIdleHeartbeat), "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 9\r\nNats-Last-Stream: 11\r\n\r\n"},
		{stalled, "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 9\r\nNats-Last-Stream: 11\r\nNats-Consumer-Stalled: $JS.FC.S.C.11\r\n\r\n"},
		{st(jetstore.StatusFlowControl), "NATS/1.0 100 FlowControl Request\r\n\r\n"},
		{st(jetstore.StatusNoMessages), "NATS/1.0 404 No Messages\r\n\r\n"},
		{st(jetstore.StatusRequestTimeout), "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 40\r\n\r\n"},
		{st(jetstore.StatusMaxBytesExceeded), "NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 40\r\n\r\n"},
		{st(jetstore.StatusMaxWaiting), "NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n"},
		{st(jetstore.StatusMaxRequestBatch), "NATS/1.0 409 Exceeded MaxRequestBatch of 5\r\n\r\n"},
		{st(jetstore.StatusMaxRequestExpires), "NATS/1.0 409 Exceeded MaxRequestExpires of 1.5s\r\n\r\n"},
		{st(jetstore.StatusMaxRequestMaxBytes), "NATS/1.0 409 Exceeded MaxRequestMaxBytes of 5\r\n\r\n"},
		{st(jetstore.StatusPushBased), "NATS/1.0 409 Consumer is push based\r\n\r\n"},
		{st(jetstore.StatusHeartbeatTooLarge), "NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n"},
		{st(jetstore.StatusBadRequest), "NATS/1.0 400 Bad Request\r\n\r\n"},
		{st(jetstore.StatusConsumerDeleted), "NATS/1.0 409 Consumer Deleted\r\n\r\n"},
		{st(0), ""},
		{st(200), ""},
	} {
		if got := string(appendStatus(nil, &tc.s)); got != tc.want {
			t.Errorf("kind %d: %q, want %q", tc.s.Kind, got, tc.want)
		}
	}
	if got := string(appendFlowControlSubject(nil, "S", "C", 36)); got != "$JS.FC.S.C.10" {
		t.Errorf("flow control subject %q", got)
	}
}

// BenchmarkConsumerSenderDeliver measures the server's half of a delivery:
// the ack reply subject rendered into a reused buffer and the message staged
// for one (internal) subscriber, without an allocation per message.
func BenchmarkConsumerSenderDeliver(b *testing.B) {
	bk, err := broker.New(config.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	acc := bk.GlobalAccount()
	var got int
	if _, err := acc.Subscribe("bench", "", func(_, _, _, _ []byte) { got++ }); err != nil {
		b.Fatal(err)
	}
	s := &consumerSender{acc: acc, pub: acc.NewPublisher()}
	d := jetstore.Delivery{Stream: "ORDERS", Consumer: "worker", Subject: "orders.new", Data: make([]byte, 16),
		StreamSeq: 1, ConsumerSeq: 1, Deliveries: 1, Time: time.Now(), Pending: 1000}
	target := []byte("bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.StreamSeq++
		d.ConsumerSeq++
		s.Deliver(target, d)
		if i%64 == 0 {
			s.Flush()
		}
	}
	if got != b.N {
		b.Fatalf("delivered %d of %d", got, b.N)
	}
}
