package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

// The JetStream and key-value scenarios run against the reference server
// and against embedded midge.

func TestJetStreamScenariosNatsServer(t *testing.T) {
	testJetStreamScenarios(t, natsServerJS(t))
}

func TestJetStreamScenariosMidge(t *testing.T) {
	url := embedded(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := HasJetStream(nc, 2*time.Second)
	nc.Close()
	if err != nil || !ok {
		t.Fatalf("embedded midge has no JetStream: %v", err)
	}
	testJetStreamScenarios(t, url)
}

// Against a server without JetStream the scenarios refuse cleanly rather
// than hang.
func TestJetStreamScenarioWithoutJetStream(t *testing.T) {
	srv, err := server.New(config.Options{Host: "127.0.0.1", Port: 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	_, err = Run(context.Background(), Config{Scenario: "js-pub", URL: srv.ClientURL(), Msgs: 10})
	if !errors.Is(err, ErrNoJetStream) {
		t.Fatalf("js-pub without JetStream: %v, want ErrNoJetStream", err)
	}
}

func testJetStreamScenarios(t *testing.T, url string) {
	const n = 3000
	for _, tc := range []struct {
		name string
		cfg  Config
		role string
		want int64 // messages the role must account for
		lat  string
	}{
		{"js-pub async", Config{Scenario: "js-pub", Pubs: 2, Window: 64}, "publishers", n, "publish to ack (async)"},
		{"js-pub sync memory", Config{Scenario: "js-pub", SyncPub: true, Storage: "memory", Msgs: 500}, "publishers", 500, "publish to ack (sync)"},
		{"js-fetch", Config{Scenario: "js-fetch", Subs: 2, Batch: 100}, "consumers", n, "fetch batch"},
		{"js-consume", Config{Scenario: "js-consume", Subs: 2, Batch: 100}, "consumers", n, ""},
		{"js-ordered", Config{Scenario: "js-ordered", Subs: 2, Batch: 100}, "consumers", 2 * n, ""},
		{"kv-put", Config{Scenario: "kv-put", Pubs: 2, Msgs: 600}, "putters", 600, "put to ack"},
		{"kv-get", Config{Scenario: "kv-get", Subs: 2, Msgs: 600}, "getters", 600, "get round trip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.URL, cfg.Size = url, 48
			// A stream of its own per case: nats-server sometimes fails to
			// recreate a file stream right after deleting one of the same
			// name (here: the memory stream of the case before).
			name := strings.NewReplacer(" ", "_", "-", "_").Replace(tc.name)
			cfg.Stream, cfg.Subject = "bench_"+name, "bench."+name
			if cfg.Msgs == 0 {
				cfg.Msgs = n
			}
			rep := mustSucceed(t, cfg)
			rs := rep.Role(tc.role)
			if rs == nil || rs.Msgs != tc.want || rep.Delivered != tc.want || rep.Expected != tc.want {
				t.Fatalf("%s: role %+v, delivered %d of %d, want %d", tc.name, rs, rep.Delivered, rep.Expected, tc.want)
			}
			if rs.Bytes != tc.want*48 {
				t.Errorf("%s moved %d bytes, want %d", tc.role, rs.Bytes, tc.want*48)
			}
			switch {
			case tc.lat == "" && rs.Latency != nil:
				t.Errorf("unexpected latency %+v", rs.Latency)
			case tc.lat != "" && (rs.Latency == nil || rs.Latency.Kind != tc.lat):
				t.Errorf("latency %+v, want kind %q", rs.Latency, tc.lat)
			}
		})
	}
}

// Duration-bounded JetStream writes: whatever was acknowledged is what the
// stream or bucket holds (a putter wraps around its own key range).
func TestJetStreamDurationNatsServer(t *testing.T) {
	url := natsServerJS(t)
	for _, cfg := range []Config{
		{Scenario: "js-pub", Pubs: 2, Window: 32},
		{Scenario: "js-pub", SyncPub: true},
		{Scenario: "kv-put", Msgs: 50},
	} {
		cfg.URL, cfg.Size, cfg.Duration = url, 16, 150*time.Millisecond
		rep := mustSucceed(t, cfg)
		rs := rep.Roles[0]
		if rs.Msgs == 0 || rep.Delivered != rs.Msgs || rs.Seconds < 0.15 {
			t.Fatalf("%s: %d msgs in %.3fs, delivered %d", cfg.Scenario, rs.Msgs, rs.Seconds, rep.Delivered)
		}
	}
}
