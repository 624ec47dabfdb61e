package broker_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// Message tracing (Nats-Trace-Dest, Nats-Trace-Only) as the reference
// server does it: one event per traced message to the destination, with an
// ingress and an egress per subscription; trace-only messages reach nobody.
// Each test runs on midge and on the reference server with the same
// expectations.

// traceEvent is a trace event with what varies between runs and servers
// (timestamps, server identity) left out.
type traceEvent struct {
	Request struct {
		Header  map[string][]string `json:"header"`
		MsgSize int                 `json:"msgsize"`
	} `json:"request"`
	Hops   int          `json:"hops"`
	Events []traceEntry `json:"events"`
	Server struct {
		Name string    `json:"name"`
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	} `json:"server"`
}

type traceEntry struct {
	Type       string `json:"type"`
	Kind       int    `json:"kind"`
	CID        uint64 `json:"cid"`
	Name       string `json:"name,omitempty"`
	Account    string `json:"acc,omitempty"`
	Subject    string `json:"subj,omitempty"`
	Sub        string `json:"sub,omitempty"`
	Queue      string `json:"queue,omitempty"`
	Error      string `json:"error,omitempty"`
	Stream     string `json:"stream,omitempty"`
	StreamSubj string `json:"subject,omitempty"`
	NoInterest bool   `json:"nointerest,omitempty"`
	TS         string `json:"ts"`
}

// nextTrace reads one event and checks the parts that vary.
func nextTrace(t *testing.T, sub *nats.Subscription) traceEvent {
	t.Helper()
	m := testutil.NextMsg(t, sub)
	var ev traceEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		t.Fatalf("trace event %s: %v", m.Data, err)
	}
	if ev.Server.Name == "" || ev.Server.ID == "" || ev.Server.Time.IsZero() {
		t.Errorf("trace event without server identity: %s", m.Data)
	}
	for i := range ev.Events {
		if _, err := time.Parse(time.RFC3339Nano, ev.Events[i].TS); err != nil {
			t.Errorf("event %d has no timestamp: %s", i, m.Data)
		}
		ev.Events[i].TS = ""
	}
	return ev
}

func wantEvents(t *testing.T, got traceEvent, want ...traceEntry) {
	t.Helper()
	if !reflect.DeepEqual(got.Events, want) {
		t.Errorf("events:\n got %+v\nwant %+v", got.Events, want)
	}
}

func cid(t *testing.T, nc *nats.Conn) uint64 {
	t.Helper()
	id, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func tracedMsg(subject, dest string, only bool) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set("Nats-Trace-Dest", dest)
	if only {
		m.Header.Set("Nats-Trace-Only", "true")
	}
	m.Header.Set("X-Other", "v")
	m.Data = []byte("hello")
	return m
}

func TestMessageTraceToSubscribers(t *testing.T) {
	testutil.OnBoth(t, false, func(t *testing.T, p *testutil.Peer) {
		tracer := p.Connect(t)
		traces, _ := tracer.SubscribeSync("trace.dest")
		testutil.Flush(t, tracer)
		subber := p.Connect(t, nats.Name("subber"))
		plain, _ := subber.SubscribeSync("foo")
		queue, _ := subber.QueueSubscribeSync("foo", "q1")
		testutil.Flush(t, subber)
		pubber := p.Connect(t, nats.Name("pubber"))

		for _, only := range []bool{false, true} {
			if err := pubber.PublishMsg(tracedMsg("foo", "trace.dest", only)); err != nil {
				t.Fatal(err)
			}
			ev := nextTrace(t, traces)
			header := map[string][]string{"Nats-Trace-Dest": {"trace.dest"}, "X-Other": {"v"}}
			size := 58
			if only {
				header["Nats-Trace-Only"] = []string{"true"}
				size = 81
			}
			if !reflect.DeepEqual(ev.Request.Header, header) || ev.Request.MsgSize != size {
				t.Errorf("only=%v: request %+v, want %v and %d bytes", only, ev.Request, header, size)
			}
			wantEvents(t, ev,
				traceEntry{Type: "in", Kind: 0, CID: cid(t, pubber), Name: "pubber", Account: "$G", Subject: "foo"},
				traceEntry{Type: "eg", Kind: 0, CID: cid(t, subber), Name: "subber", Sub: "foo"},
				traceEntry{Type: "eg", Kind: 0, CID: cid(t, subber), Name: "subber", Sub: "foo", Queue: "q1"})
			if only {
				testutil.ExpectNoMsg(t, subber, plain)
				testutil.ExpectNoMsg(t, subber, queue)
			} else {
				testutil.NextMsg(t, plain)
				testutil.NextMsg(t, queue)
			}
		}

		// Nobody interested: the ingress alone.
		pubber.PublishMsg(tracedMsg("nobody", "trace.dest", false))
		wantEvents(t, nextTrace(t, traces),
			traceEntry{Type: "in", CID: cid(t, pubber), Name: "pubber", Account: "$G", Subject: "nobody"})
	})
}

func TestMessageTraceOnlyReachesNoResponder(t *testing.T) {
	testutil.OnBoth(t, false, func(t *testing.T, p *testutil.Peer) {
		tracer := p.Connect(t)
		traces, _ := tracer.SubscribeSync("trace.dest")
		testutil.Flush(t, tracer)
		responder := p.Connect(t, nats.Name("responder"))
		requests, _ := responder.SubscribeSync("svc")
		testutil.Flush(t, responder)
		requester := p.Connect(t, nats.Name("requester"))

		m := tracedMsg("svc", "trace.dest", true)
		m.Reply = requester.NewRespInbox()
		replies, _ := requester.SubscribeSync(m.Reply)
		if err := requester.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		wantEvents(t, nextTrace(t, traces),
			traceEntry{Type: "in", CID: cid(t, requester), Name: "requester", Account: "$G", Subject: "svc"},
			traceEntry{Type: "eg", CID: cid(t, responder), Name: "responder", Sub: "svc"})
		testutil.ExpectNoMsg(t, requester, replies) // neither an answer nor "no responders"
		testutil.ExpectNoMsg(t, responder, requests)

		// Traced but not trace-only: delivered and answered as usual.
		m = tracedMsg("svc", "trace.dest", false)
		m.Reply = replies.Subject
		requester.PublishMsg(m)
		req := testutil.NextMsg(t, requests)
		req.Respond([]byte("answer"))
		if r := testutil.NextMsg(t, replies); string(r.Data) != "answer" {
			t.Fatalf("traced request answered %q", r.Data)
		}
		nextTrace(t, traces)
	})
}

func TestMessageTraceUndeliveredReasons(t *testing.T) {
	testutil.OnBoth(t, false, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t, nats.Name("noecho"), nats.NoEcho())
		traces, _ := nc.SubscribeSync("trace.dest")
		nc.SubscribeSync("ne")
		testutil.Flush(t, nc)
		nc.PublishMsg(tracedMsg("ne", "trace.dest", false))
		wantEvents(t, nextTrace(t, traces),
			traceEntry{Type: "in", CID: cid(t, nc), Name: "noecho", Account: "$G", Subject: "ne"},
			traceEntry{Type: "eg", CID: cid(t, nc), Name: "noecho", Sub: "ne", Error: "Not delivered because of no echo"})

		// An invalid destination: delivered, not traced; trace-only: neither.
		other := p.Connect(t, nats.Name("other"))
		sub, _ := other.SubscribeSync("ne")
		testutil.Flush(t, other)
		nc.PublishMsg(tracedMsg("ne", "bad.*", false))
		testutil.NextMsg(t, sub)
		nc.PublishMsg(tracedMsg("ne", "bad.*", true))
		testutil.Flush(t, nc)
		testutil.ExpectNoMsg(t, other, sub)
		// The destination header is case-sensitive, as in the reference.
		m := nats.NewMsg("ne")
		m.Header["nats-trace-dest"] = []string{"trace.dest"}
		nc.PublishMsg(m)
		testutil.NextMsg(t, sub)
		testutil.ExpectNoMsg(t, nc, traces)
	})
}

// A publisher that may not publish to the trace destination gets the
// violation and its message goes nowhere (midge only: the reference would
// need the same users in a configuration file).
func TestMessageTraceDestinationPermission(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{
			{Username: "pub", Password: "p", Permissions: &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{"foo"}}}},
			{Username: "all", Password: "a"},
		}
	})
	errs := &testutil.AsyncErrors{}
	pub := testutil.Connect(t, s, nats.UserInfo("pub", "p"), errs.Handler())
	all := testutil.Connect(t, s, nats.UserInfo("all", "a"))
	traces, _ := all.SubscribeSync("trace.dest")
	sub, _ := all.SubscribeSync("foo")
	testutil.Flush(t, all)
	pub.PublishMsg(tracedMsg("foo", "trace.dest", false))
	testutil.Flush(t, pub)
	if got, want := errs.Next(t), fmt.Sprintf("nats: permissions violation: %s", `Permissions Violation for Publish to "trace.dest"`); got != want {
		t.Errorf("async error %q, want %q", got, want)
	}
	testutil.ExpectNoMsg(t, all, sub)
	testutil.ExpectNoMsg(t, all, traces)
}
