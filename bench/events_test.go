package bench

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
)

// A subscriber the server closes as a slow consumer (a server whose
// outbound limit per client is tiny, so the subscriber cannot keep up with
// an unthrottled publisher) fails the run, and the report says which
// client it was and why, from the server's own count.
func TestServerSideSlowConsumerFailsTheRun(t *testing.T) {
	e := embeddedWith(t, config.Options{MaxPending: 512})
	cfg := Config{Scenario: "pubsub", Msgs: 100_000, Size: 1024} // larger than the pending limit: the first delivery overflows it
	e.Configure(&cfg)
	rep := mustRun(t, cfg)
	if rep.OK() {
		t.Fatalf("a run whose subscriber was closed reports OK: %+v", rep)
	}
	if rep.ServerSlowConsumers != 1 || rep.SlowConsumers != 1 || rep.Disconnects != 1 || rep.Lost == 0 {
		t.Fatalf("server slow consumers %d, slow consumers %d, disconnects %d, lost %d",
			rep.ServerSlowConsumers, rep.SlowConsumers, rep.Disconnects, rep.Lost)
	}
	if len(rep.Connections) != 1 || rep.Connections[0].Client != "subscribers-1" || rep.Connections[0].SlowConsumer != 1 {
		t.Fatalf("connection events %+v", rep.Connections)
	}
	if got := rep.FailureSummary(); !strings.HasPrefix(got, "slow consumer: subscribers-1") || !strings.Contains(got, "messages lost") {
		t.Errorf("failure summary %q does not lead with the slow consumer", got)
	}
	var b bytes.Buffer
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"server embedded midge (version ", " at " + e.URL,
		"slow consumers 1 (the server counted 1), disconnects 1, reconnects 0",
		"subscribers-1: closed by the server (EOF); the server counted 1 slow consumer during the run",
		"FAILED: slow consumer: subscribers-1",
		"subscribers-1 was closed by the server as a slow consumer",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}

// Without a way to ask the server, a connection it closed is still a
// disconnect that fails the run, with the error the client saw.
func TestServerClosedConnectionFailsTheRunWithoutCount(t *testing.T) {
	e := embeddedWith(t, config.Options{MaxPending: 512})
	start := time.Now()
	rep := mustRun(t, Config{Scenario: "pubsub", URL: e.URL, Msgs: 100_000, Size: 1024})
	if rep.OK() || rep.Disconnects != 1 || rep.ServerSlowConsumers != -1 || rep.SlowConsumers != 0 {
		t.Fatalf("ok %v, disconnects %d, server slow consumers %d, slow consumers %d",
			rep.OK(), rep.Disconnects, rep.ServerSlowConsumers, rep.SlowConsumers)
	}
	if !strings.Contains(strings.Join(rep.Errors, "\n"), "subscribers-1 disconnected: closed by the server (EOF)") {
		t.Fatalf("errors %q do not name the disconnect", rep.Errors)
	}
	// The lost subscriber's messages are not waited for the whole timeout.
	if d := time.Since(start); d > DefaultTimeout/2 {
		t.Errorf("the run took %v after losing its subscriber", d)
	}
}

// The server's slow-consumer count grows during a run none of whose
// connections was closed: someone else's slow consumer, only a warning.
func TestOthersSlowConsumerIsOnlyAWarning(t *testing.T) {
	var n atomic.Int64
	counter := func(context.Context) (int64, error) { return n.Add(1) - 1, nil } // 0 before, 1 after
	rep := mustRun(t, Config{Scenario: "pubsub", URL: embedded(t), Msgs: 2000, ServerSlowConsumers: counter})
	if !rep.OK() || rep.ServerSlowConsumers != 1 || rep.SlowConsumers != 0 {
		t.Fatalf("ok %v, server slow consumers %d, slow consumers %d, errors %q",
			rep.OK(), rep.ServerSlowConsumers, rep.SlowConsumers, rep.Errors)
	}
	if !strings.Contains(strings.Join(rep.Warnings, "\n"), "none of them this run's") {
		t.Fatalf("warnings %q", rep.Warnings)
	}
}

// VarzSlowConsumers reads the count from a real monitoring port.
func TestVarzSlowConsumers(t *testing.T) {
	e := embeddedWith(t, config.Options{HTTPHost: "127.0.0.1", HTTPPort: config.MonitorRandomPort})
	n, err := VarzSlowConsumers("http://" + e.srv.MonitorAddr().String() + "/")(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("slow consumers %d, %v", n, err)
	}
	if _, err := VarzSlowConsumers("http://" + e.srv.MonitorAddr().String() + "/nothing")(context.Background()); err == nil {
		t.Fatal("a wrong monitoring URL gave no error")
	}
}
