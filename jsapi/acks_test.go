package jsapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/midgemq/midge/jetstore"
)

// ackLog is an acker that records the calls an acknowledgement makes.
type ackLog []string

func (l *ackLog) Ack(sseq, cseq uint64, reply []byte) {
	*l = append(*l, fmt.Sprintf("ack %d %d %q", sseq, cseq, reply))
}
func (l *ackLog) Nak(sseq, cseq uint64, delay time.Duration, reply []byte) {
	*l = append(*l, fmt.Sprintf("nak %d %d %v %q", sseq, cseq, delay, reply))
}
func (l *ackLog) Progress(sseq, cseq uint64, reply []byte) {
	*l = append(*l, fmt.Sprintf("progress %d %d %q", sseq, cseq, reply))
}
func (l *ackLog) TermWithReason(sseq, cseq uint64, reason string, reply []byte) {
	*l = append(*l, fmt.Sprintf("term %d %d %q %q", sseq, cseq, reason, reply))
}
func (l *ackLog) AckNext(sseq, cseq uint64, next jetstore.PullRequest) {
	*l = append(*l, fmt.Sprintf("next %d %d %q batch=%d expires=%v invalid=%v", sseq, cseq, next.Reply,
		next.Batch, next.Expires, next.Invalid))
}

func TestAckPayloadsBecomeTypedCalls(t *testing.T) {
	for _, tc := range []struct{ payload, reply, want string }{
		{"", "r", `ack 4 2 "r"`},
		{"+ACK", "", `ack 4 2 ""`},
		{" +OK \r\n", "", `ack 4 2 ""`},
		{"whatever", "", `ack 4 2 ""`},
		{"-NAK", "r", `nak 4 2 0s "r"`},
		{`-NAK {"delay": 2000000000}`, "", `nak 4 2 2s ""`},
		{"-NAK 1.5s", "", `nak 4 2 1.5s ""`},
		{"-NAK 250", "", `nak 4 2 250ns ""`},
		{"-NAK -5s", "", `nak 4 2 0s ""`},
		{"-NAK {bad", "", `nak 4 2 0s ""`},
		{"+WPI", "r", `progress 4 2 "r"`},
		{"+TERM reason", "r", `term 4 2 "reason" "r"`},
		{"+TERM", "", `term 4 2 "" ""`},
		{"+NXT", "in", `next 4 2 "in" batch=1 expires=0s invalid=false`},
		{`+NXT {"batch":3,"expires":1000}`, "in", `next 4 2 "in" batch=3 expires=1µs invalid=false`},
		{"+NXT 7", "in", `next 4 2 "in" batch=7 expires=0s invalid=false`},
		{"+NXT {x", "in", `next 4 2 "in" batch=1 expires=0s invalid=true`},
	} {
		var l ackLog
		applyAck(&l, 4, 2, []byte(tc.payload), []byte(tc.reply))
		if len(l) != 1 || l[0] != tc.want {
			t.Errorf("%q: %v, want %s", tc.payload, l, tc.want)
		}
	}
}

func TestAckAndFlowControlSubjects(t *testing.T) {
	for _, tc := range []struct {
		subject  string
		consumer string
		sseq     uint64
		cseq     uint64
		ok       bool
	}{
		{"$JS.ACK.S.C.1.10.3.1700000000000000000.0", "C", 10, 3, true},
		{"$JS.ACK.dom.hash.S.C.1.10.3.1700000000000000000.0.rand", "C", 10, 3, true},
		{"$JS.ACK.S.C.1.x.3.1.0", "", 0, 0, false},
		{"$JS.ACK.S.C.1.10", "", 0, 0, false},
		{"$JS.FC.S.C.1", "", 0, 0, false},
	} {
		c, s, cs, ok := parseAckSubject([]byte(tc.subject))
		if string(c) != tc.consumer || s != tc.sseq || cs != tc.cseq || ok != tc.ok {
			t.Errorf("%s: %q %d %d %v", tc.subject, c, s, cs, ok)
		}
	}
	for _, tc := range []struct {
		subject  string
		consumer string
		id       uint64
		ok       bool
	}{
		{"$JS.FC.S.C.1", "C", 1, true},
		{"$JS.FC.S.C.z", "C", 35, true},
		{"$JS.FC.S.C.0", "", 0, false},
		{"$JS.FC.S.C", "", 0, false},
		{"$JS.FC.S.C.1.2", "", 0, false},
		{"$JS.FC.S.C.!", "", 0, false},
	} {
		c, id, ok := parseFlowControlSubject([]byte(tc.subject))
		if string(c) != tc.consumer || id != tc.id || ok != tc.ok {
			t.Errorf("%s: %q %d %v", tc.subject, c, id, ok)
		}
	}
}

func TestPullRequestBodies(t *testing.T) {
	for _, tc := range []struct {
		body string
		want jetstore.PullRequest
	}{
		{"", jetstore.PullRequest{Batch: 1}},
		{"  5 ", jetstore.PullRequest{Batch: 5}},
		{"x", jetstore.PullRequest{Invalid: true}},
		{`{"batch":2,"expires":3000,"no_wait":true,"max_bytes":9,"idle_heartbeat":1000}`,
			jetstore.PullRequest{Batch: 2, Expires: 3 * time.Microsecond, NoWait: true, MaxBytes: 9, Heartbeat: time.Microsecond}},
		{`{"expires":5}`, jetstore.PullRequest{Batch: 1, Expires: 5}},
		{`{"batch":"many"}`, jetstore.PullRequest{Batch: 1, Invalid: true}},
	} {
		got := parsePullRequest(nil, []byte(tc.body))
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.body, got, tc.want)
		}
	}
}

func TestPublishHeadersBecomeOptions(t *testing.T) {
	hdr := "NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Expected-Stream: S\r\nNats-Expected-Last-Sequence: 9\r\n" +
		"Nats-Expected-Last-Subject-Sequence: x\r\nNats-Expected-Last-Subject-Sequence-Subject: a.b\r\n" +
		"Nats-Expected-Last-Msg-Id:\r\nNats-Rollup: all\r\nNats-TTL: 1s\r\n\r\n"
	want := jetstore.PublishOptions{MsgID: "m1", ExpectedStream: "S", HasExpectedStream: true, HasTTL: true, TTL: time.Second,
		ExpectedLastSubjectSeq: jetstore.SeqExpectation{Set: true, Malformed: true}, ExpectedLastSubjectSeqSubject: "a.b",
		ExpectedLastSeq: jetstore.SeqExpectation{Set: true, Seq: 9}, HasExpectedLastMsgID: true, Rollup: jetstore.RollupAll}
	if got := publishOptions([]byte(hdr)); got == nil || *got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for _, hdr := range []string{"", "NATS/1.0\r\nNmqtt-Pub: 1\r\n\r\n", "NATS/1.0\r\nNats-Other: 1\r\n\r\n"} {
		if got := publishOptions([]byte(hdr)); got != nil {
			t.Errorf("%q: %+v, want none", hdr, got)
		}
	}
	if got := publishOptions([]byte("NATS/1.0\r\nNats-Rollup: sideways\r\n\r\n")); got.Rollup != jetstore.RollupInvalid || got.RollupValue != "sideways" {
		t.Errorf("invalid rollup: %+v", got)
	}
	if id := storedMsgID([]byte(hdr)); string(id) != "m1" {
		t.Errorf("stored id %q", id)
	}
}

// FuzzJetStreamWire feeds arbitrary bytes to every reader of JetStream
// client input outside the API bodies: publish headers, ack subjects and
// payloads, pull request bodies and flow control answers. None may panic,
// and every acknowledgement makes exactly one call.
func FuzzJetStreamWire(f *testing.F) {
	f.Add([]byte("NATS/1.0\r\nNats-Msg-Id: a\r\nNats-Expected-Last-Sequence: 3\r\n\r\n"), []byte("$JS.ACK.S.C.1.2.3.4.5"), []byte("+NXT {\"batch\":2}"))
	f.Add([]byte("NATS/1.0\r\nNats-Rollup:\r\n\r\n"), []byte("$JS.FC.S.C.1"), []byte("-NAK {\"delay\":1}"))
	f.Add([]byte("Nats-"), []byte("$JS.ACK.a.b.c.d.e.f.g.h.i.j.k.l.m"), []byte("42"))
	f.Fuzz(func(t *testing.T, hdr, subject, payload []byte) {
		publishOptions(hdr)
		storedMsgID(hdr)
		parseAckSubject(subject)
		parseFlowControlSubject(subject)
		parsePullRequest(subject, payload)
		var l ackLog
		applyAck(&l, 1, 1, payload, subject)
		if len(l) != 1 {
			t.Fatalf("%q made %d calls", payload, len(l))
		}
	})
}
