package bench

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestPubCountsEveryMessage(t *testing.T) {
	rep := mustSucceed(t, Config{Scenario: "pub", URL: embedded(t), Msgs: 30001, Size: 16, Pubs: 3})
	pubs := rep.Role("publishers")
	if pubs.Msgs != 30001 || len(pubs.Clients) != 3 || pubs.Bytes != 30001*16 {
		t.Fatalf("publishers: %d msgs, %d bytes, %d clients", pubs.Msgs, pubs.Bytes, len(pubs.Clients))
	}
	for i, want := range []int64{10001, 10000, 10000} {
		if got := pubs.Clients[i].Msgs; got != want {
			t.Errorf("publisher %d sent %d, want %d", i+1, got, want)
		}
	}
	if rep.Expected != 0 || rep.Delivered != 0 || pubs.Latency != nil {
		t.Errorf("pub has no receivers: expected %d delivered %d latency %+v", rep.Expected, rep.Delivered, pubs.Latency)
	}
}

func TestPubSubShapes(t *testing.T) {
	url := embedded(t)
	for _, tc := range []struct {
		scenario       string
		pubs, subs     int
		wantDeliveries int64
	}{
		{"pubsub", 2, 2, 2 * 6000},
		{"fanout", 1, 3, 3 * 6000},
		{"fanin", 3, 1, 6000},
		{"queue", 2, 3, 6000}, // a queue group gets each message once
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			rep := mustSucceed(t, Config{Scenario: tc.scenario, URL: url, Msgs: 6000, Size: 32, Pubs: tc.pubs, Subs: tc.subs})
			pubs, subs := rep.Role("publishers"), rep.Role("subscribers")
			if pubs.Msgs != 6000 || len(pubs.Clients) != tc.pubs || len(subs.Clients) != tc.subs {
				t.Fatalf("published %d by %d clients, %d subscribers", pubs.Msgs, len(pubs.Clients), len(subs.Clients))
			}
			if subs.Msgs != tc.wantDeliveries || rep.Delivered != tc.wantDeliveries || rep.Expected != tc.wantDeliveries {
				t.Fatalf("received %d, delivered %d of %d, want %d", subs.Msgs, rep.Delivered, rep.Expected, tc.wantDeliveries)
			}
			if subs.Latency == nil || subs.Latency.Count != tc.wantDeliveries || subs.Latency.Kind != "end-to-end" {
				t.Fatalf("end-to-end latency %+v, want %d samples", subs.Latency, tc.wantDeliveries)
			}
			if subs.Bytes != tc.wantDeliveries*32 {
				t.Errorf("subscribers got %d bytes, want %d", subs.Bytes, tc.wantDeliveries*32)
			}
		})
	}
}

func TestSmallPayloadHasNoLatency(t *testing.T) {
	rep := mustSucceed(t, Config{Scenario: "pubsub", URL: embedded(t), Msgs: 2000, Size: 4})
	if l := rep.Role("subscribers").Latency; l != nil {
		t.Fatalf("a 4-byte payload has no room for a timestamp, got latency %+v", l)
	}
}

func TestDurationBoundedPubSub(t *testing.T) {
	rep := mustSucceed(t, Config{Scenario: "pubsub", URL: embedded(t), Duration: 200 * time.Millisecond, Size: 16, Subs: 2})
	pubs, subs := rep.Role("publishers"), rep.Role("subscribers")
	if pubs.Msgs == 0 || subs.Msgs != 2*pubs.Msgs || rep.Expected != 2*pubs.Msgs {
		t.Fatalf("published %d, received %d, expected %d", pubs.Msgs, subs.Msgs, rep.Expected)
	}
	if pubs.Seconds < 0.2 {
		t.Fatalf("publishers ran %.3fs of a 200ms duration", pubs.Seconds)
	}
	// The header claims no message count, and a run this short is flagged.
	var b bytes.Buffer
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	head := strings.SplitN(b.String(), "\n", 3)[1]
	if rep.Params.Msgs != 0 || strings.Contains(head, "msgs of") || !strings.Contains(head, "16 B msgs for 0.2s") {
		t.Errorf("params %+v, header %q", rep.Params, head)
	}
	// Receivers may drain a backlog for longer than the publishers ran
	// (under -race on a busy machine, for over a second).
	longest := max(pubs.Seconds, subs.Seconds)
	if flagged := strings.Contains(b.String(), "WARNING: measured for less than 1 s"); flagged != (longest < 1) {
		t.Errorf("measured %.3f s, flagged %v:\n%s", longest, flagged, b.String())
	}
}

// A run of more than a second carries no warning.
func TestLongEnoughRunHasNoWarning(t *testing.T) {
	rep := mustSucceed(t, Config{Scenario: "pub", URL: embedded(t), Duration: 1100 * time.Millisecond, Size: 16})
	if len(rep.Warnings) != 0 {
		t.Fatalf("warnings %q", rep.Warnings)
	}
}

func TestReqRepAnswersEachRequestOnce(t *testing.T) {
	rep := mustSucceed(t, Config{Scenario: "reqrep", URL: embedded(t), Msgs: 900, Size: 64, Pubs: 3, Subs: 2})
	reqs, reps := rep.Role("requesters"), rep.Role("responders")
	if reqs.Msgs != 900 || reps.Msgs != 900 || rep.Delivered != 900 {
		t.Fatalf("requests answered %d, served %d, delivered %d", reqs.Msgs, reps.Msgs, rep.Delivered)
	}
	if reqs.Latency == nil || reqs.Latency.Count != 900 {
		t.Fatalf("round-trip latency %+v, want 900 samples", reqs.Latency)
	}
}

// An outside publisher that sends fewer messages than the subscribers
// expect: the run reports the shortfall and fails.
func TestSubReportsLostMessages(t *testing.T) {
	url := embedded(t)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ready
		nc, err := nats.Connect(url)
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		for range 70 {
			if err := nc.Publish(DefaultSubject, make([]byte, 10)); err != nil {
				t.Error(err)
				return
			}
		}
		if err := nc.Flush(); err != nil {
			t.Error(err)
		}
	}()
	rep := mustRun(t, Config{Scenario: "sub", URL: url, Msgs: 100, Subs: 2, Timeout: 300 * time.Millisecond,
		Ready: func() { close(ready) }})
	wg.Wait()
	if rep.OK() || rep.Expected != 200 || rep.Delivered != 140 || rep.Lost != 60 {
		t.Fatalf("ok=%v expected %d delivered %d lost %d", rep.OK(), rep.Expected, rep.Delivered, rep.Lost)
	}
	if !strings.Contains(strings.Join(rep.Errors, "\n"), "60 of 200 messages lost") {
		t.Fatalf("errors %q do not say how many were lost", rep.Errors)
	}
}

// A subscriber that cannot keep up overflows its pending limit: nats.go
// drops messages, and the run says so.
func TestSlowConsumerIsReported(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	prog := &phaseWatch{onStart: func(phase string) {
		if phase == "receive" { // the publishers are done
			once.Do(func() { close(release) })
		}
	}}
	rep := mustRun(t, Config{Scenario: "pubsub", URL: embedded(t), Msgs: 5000, Size: 16,
		Timeout: 300 * time.Millisecond, Progress: prog, pendingLimit: 10,
		onReceive: func() { <-release }})
	if rep.OK() || rep.Lost == 0 || rep.SlowConsumers == 0 {
		t.Fatalf("ok=%v lost %d slow consumers %d errors %q", rep.OK(), rep.Lost, rep.SlowConsumers, rep.Errors)
	}
	if !strings.Contains(strings.Join(rep.Errors, "\n"), "subscribers-1: slow consumer in the client") {
		t.Fatalf("errors %q do not mention the slow consumer", rep.Errors)
	}
	if len(rep.Connections) != 1 || rep.Connections[0].Client != "subscribers-1" || rep.Connections[0].Disconnects != 0 {
		t.Fatalf("connection events %+v", rep.Connections)
	}
	if !strings.HasPrefix(rep.FailureSummary(), "slow consumer: subscribers-1") {
		t.Fatalf("failure summary %q", rep.FailureSummary())
	}
}

// phaseWatch is a Progress that reports phase starts.
type phaseWatch struct {
	NopProgress
	onStart func(string)
}

func (p *phaseWatch) Start(phase string, _ int64) { p.onStart(phase) }

func TestConfigChecks(t *testing.T) {
	for _, c := range []Config{
		{Scenario: "nope"},
		{Scenario: "fanout", Pubs: 2},
		{Scenario: "fanin", Subs: 2},
		{Scenario: "pub", Subs: 1},
		{Scenario: "js-pub", Storage: "disk"},
		{Scenario: "pubsub", Msgs: -1},
	} {
		if _, err := c.Normalize(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	c := Config{Scenario: "js-fetch"}
	if _, err := c.Normalize(); err != nil || c.Subs != 1 || c.Subject != DefaultJSSubject || c.Stream != DefaultStream {
		t.Fatalf("js-fetch defaults: %v %+v", err, c)
	}
}

func TestReqRepWithOutsideResponders(t *testing.T) {
	url := embedded(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Subscribe("svc", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	rep := mustSucceed(t, Config{Scenario: "reqrep", URL: url, Msgs: 200, Subject: "svc", NoResponders: true})
	if rep.Role("responders") != nil || rep.Role("requesters").Msgs != 200 || rep.Params.Subs != 0 {
		t.Fatalf("roles %+v, params %+v", rep.Roles, rep.Params)
	}
}
