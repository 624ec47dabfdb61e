package jsapi_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// A traced message captured by a stream: the trace shows the stream's part
// (a "js" event with the subject stored, or why it was refused); a
// trace-only message is not stored; a stored traced message keeps its
// headers with the destination turned off. Run on midge and on the
// reference server with the same expectations.

// jsTraceEntry is the part of a trace event this test compares.
type jsTraceEntry struct {
	Type       string `json:"type"`
	Subj       string `json:"subj,omitempty"`
	Stream     string `json:"stream,omitempty"`
	Subject    string `json:"subject,omitempty"`
	NoInterest bool   `json:"nointerest,omitempty"`
	Error      string `json:"error,omitempty"`
}

func TestMessageTraceJetStream(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		traces, _ := nc.SubscribeSync("trace.dest")
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.S", `{"name":"S","subjects":["js.>"]}`)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.SM", `{"name":"SM","subjects":["sm"],"max_msg_size":10}`)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.IN", `{"name":"IN","subjects":["in"],"retention":"interest"}`)
		publish := func(subject string, only bool) (ack string) {
			t.Helper()
			m := nats.NewMsg(subject)
			m.Header.Set("Nats-Trace-Dest", "trace.dest")
			if only {
				m.Header.Set("Nats-Trace-Only", "true")
			}
			m.Data = []byte("hello world, this is long")
			m.Reply = nc.NewRespInbox()
			acks, _ := nc.SubscribeSync(m.Reply)
			defer acks.Unsubscribe()
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
			if only {
				testutil.ExpectNoMsg(t, nc, acks)
				return ""
			}
			return string(testutil.NextMsg(t, acks).Data)
		}
		expect := func(what string, want ...jsTraceEntry) {
			t.Helper()
			var ev struct {
				Events []jsTraceEntry `json:"events"`
			}
			m := testutil.NextMsg(t, traces)
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ev.Events, want) {
				t.Errorf("%s:\n got %+v\nwant %+v\n(%s)", what, ev.Events, want, m.Data)
			}
		}
		msgs := func(stream string) uint64 {
			t.Helper()
			r, err := nc.Request("$JS.API.STREAM.INFO."+stream, nil, testutil.MsgWait)
			if err != nil {
				t.Fatal(err)
			}
			var info struct {
				State struct {
					Msgs uint64 `json:"messages"`
				} `json:"state"`
			}
			json.Unmarshal(r.Data, &info)
			return info.State.Msgs
		}

		if ack := publish("js.a", false); ack != `{"stream":"S","seq":1}` {
			t.Errorf("ack %s", ack)
		}
		expect("stored", jsTraceEntry{Type: "in", Subj: "js.a"}, jsTraceEntry{Type: "js", Stream: "S", Subject: "js.a"})
		r, err := nc.Request("$JS.API.STREAM.MSG.GET.S", []byte(`{"seq":1}`), testutil.MsgWait)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Message struct {
				Header []byte `json:"hdrs"`
			} `json:"message"`
		}
		json.Unmarshal(r.Data, &got)
		if want := "NATS/1.0\r\nNats-Trace-Dest: trace disabled\r\n\r\n"; string(got.Message.Header) != want {
			t.Errorf("stored header %q, want %q", got.Message.Header, want)
		}

		publish("js.b", true)
		expect("trace only", jsTraceEntry{Type: "in", Subj: "js.b"}, jsTraceEntry{Type: "js", Stream: "S", Subject: "js.b"})
		if n := msgs("S"); n != 1 {
			t.Errorf("a trace-only message was stored: %d messages", n)
		}

		publish("sm", false)
		expect("refused", jsTraceEntry{Type: "in", Subj: "sm"}, jsTraceEntry{Type: "js", Stream: "SM", Error: "maximum payload exceeded"})

		publish("in", false)
		expect("no interest", jsTraceEntry{Type: "in", Subj: "in"}, jsTraceEntry{Type: "js", Stream: "IN", Subject: "in", NoInterest: true})
		publish("in", true)
		expect("no interest, trace only", jsTraceEntry{Type: "in", Subj: "in"}, jsTraceEntry{Type: "js", Stream: "IN", Subject: "in", NoInterest: true})
	})
}
