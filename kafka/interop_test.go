package kafka

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/midgemq/midge/parser"
)

func TestRecordMappingRoundTrips(t *testing.T) {
	cases := []Record{
		{Timestamp: 1, Key: []byte("user-1"), Value: []byte("v"), Headers: []RecordHeader{{Key: "a", Value: []byte("b")}}},
		{Timestamp: 2, Key: nil, Value: nil}, // null key, tombstone
		{Timestamp: 3, Key: []byte{}, Value: []byte{}},
		{Timestamp: 4, Key: []byte{0, 0xff, '\n'}, Value: []byte("x"), Headers: []RecordHeader{
			{Key: "with space", Value: []byte("v")},
			{Key: "Kafka-Key", Value: []byte("not the key")},
			{Key: "bin", Value: []byte{0, 1}},
			{Key: "empty", Value: []byte{}},
			{Key: "null", Value: nil},
			{Key: "pad", Value: []byte(" leading")},
			{Key: "a", Value: []byte("second a")},
		}},
	}
	for i, want := range cases {
		hdr := appendRecordHeader(nil, &want, nil)
		if !bytes.HasPrefix(hdr, []byte(parser.HeaderPrefix)) || !bytes.HasSuffix(hdr, []byte("\r\n\r\n")) {
			t.Fatalf("case %d: header block %q", i, hdr)
		}
		var arena []RecordHeader
		got := decodeMessage(hdr, want.Value, 999, 7, &arena)
		want.Offset = 7
		if want.Value == nil && got.Value != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d:\n got %#v\nwant %#v\nheader %q", i, got, want, hdr)
		}
	}
}

func TestNATSPublishesReadAsKafkaRecordsAndBack(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "events", 2)
	st, err := b.js.streams.Stream("events")
	if err != nil {
		t.Fatal(err)
	}
	// Publishes on a partition subject, as a NATS (or MQTT) client makes
	// them, are captured by the topic's stream.
	before := time.Now().UnixMilli()
	b.js.natsPublish("events.1", []byte("NATS/1.0\r\nKafka-Key: user-7\r\nTrace: abc\r\n\r\n"), []byte("from nats"))
	b.js.natsPublish("events.1", nil, []byte("plain"))

	cons := b.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"events": {1: kgo.NewOffset().AtStart()}}))
	recs := consumeN(t, ctxTimeout(t, 20*time.Second), cons, 2)
	r := recs[0]
	if string(r.Key) != "user-7" || string(r.Value) != "from nats" || len(r.Headers) != 1 ||
		r.Headers[0].Key != "Trace" || string(r.Headers[0].Value) != "abc" || r.Offset != 0 {
		t.Fatalf("keyed NATS message as a record: %+v", r)
	}
	r = recs[1]
	if r.Key != nil || string(r.Value) != "plain" || len(r.Headers) != 0 || r.Offset != 1 ||
		r.Timestamp.UnixMilli() < before {
		t.Fatalf("plain NATS message as a record: %+v", r)
	}

	// Kafka to NATS: the stored message on events.0 carries the key, the
	// timestamp and the headers as NATS headers.
	prod := b.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ts := time.UnixMilli(1700000000123)
	res := prod.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Topic: "events", Partition: 0, Key: []byte("k1"),
		Value: []byte("from kafka"), Timestamp: ts, Headers: []kgo.RecordHeader{{Key: "Color", Value: []byte("blue")}}})
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	m, err := st.Get(uint64(res[0].Record.Offset) + 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "events.0" || string(m.Data) != "from kafka" ||
		string(parser.HeaderValue(m.Header, "Kafka-Key")) != "k1" ||
		string(parser.HeaderValue(m.Header, "Kafka-Timestamp")) != "1700000000123" ||
		string(parser.HeaderValue(m.Header, "Color")) != "blue" {
		t.Fatalf("stored message %s %q %q", m.Subject, m.Header, m.Data)
	}
}
