package monitor_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/monitor"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream figures in /jsz, /varz and /healthz.

// jsTraffic builds a known JetStream state: ORDERS (file) with 5
// messages, EMPTY (memory) with none, and consumer D on ORDERS that was
// handed 3 messages and acknowledged the first 2.
func jsTraffic(t *testing.T, s *server.Server) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	_, js := testutil.JSClient(t, s)
	orders := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "EMPTY", Subjects: []string{"empty.>"}, Storage: jetstream.MemoryStorage})
	for i := 0; i < 5; i++ {
		if _, err := js.Publish(testutil.Ctx(t), "orders.new", []byte(strings.Repeat("o", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := orders.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{
		Durable: "D", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.FetchNoWait(3)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if n++; n <= 2 {
			if err := m.DoubleAck(testutil.Ctx(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n != 3 {
		t.Fatalf("fetched %d messages, want 3", n)
	}
	return js, orders
}

func TestJszFigures(t *testing.T) {
	s := testutil.StartJS(t, testutil.WithMonitor)
	js, orders := jsTraffic(t, s)
	if _, err := js.Stream(testutil.Ctx(t), "MISSING"); err == nil {
		t.Fatal("stream MISSING exists")
	}
	info, err := orders.Info(testutil.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}

	jz := testutil.GetJSON[monitor.JSInfo](t, s, monitor.JszPath)
	if jz.Streams != 2 || jz.Consumers != 1 || jz.Messages != 5 || jz.Bytes != info.State.Bytes ||
		jz.Total != 1 || jz.Disabled || jz.AccountDetails != nil {
		t.Fatalf("jsz: %+v", jz)
	}
	if jz.Store != info.State.Bytes || jz.Memory != 0 || jz.Accounts != 1 || jz.API.Errors != 1 || jz.API.Total < 5 {
		t.Fatalf("jsz stats: %+v", jz.JetStreamStats)
	}
	if !jz.Config.SyncAlways || jz.Config.StoreDir != filepath.Join(s.Options().StoreDir, "jetstream") {
		t.Fatalf("jsz config: %+v", jz.Config)
	}

	streams := testutil.GetJSON[monitor.JSInfo](t, s, monitor.JszPath+"?streams=true").AccountDetails
	if len(streams) != 1 || streams[0].Name != broker.GlobalAccountName || len(streams[0].Streams) != 2 {
		t.Fatalf("streams=true: %+v", streams)
	}
	empty, ord := streams[0].Streams[0], streams[0].Streams[1]
	if empty.Name != "EMPTY" || empty.State.Msgs != 0 || ord.Name != "ORDERS" || ord.Config != nil || ord.Consumers != nil {
		t.Fatalf("stream details: %+v / %+v", empty, ord)
	}
	if st := ord.State; st.Msgs != 5 || st.FirstSeq != 1 || st.LastSeq != 5 || st.Consumers != 1 || st.Bytes != info.State.Bytes {
		t.Fatalf("ORDERS state: %+v", st)
	}

	withConsumers := testutil.GetJSON[monitor.JSInfo](t, s, monitor.JszPath+"?consumers=true&config=true&offset=1&limit=1")
	sd := withConsumers.AccountDetails[0].Streams
	if len(sd) != 1 || sd[0].Name != "ORDERS" || sd[0].Config == nil || sd[0].Config.Subjects[0] != "orders.>" {
		t.Fatalf("paged with config: %+v", sd)
	}
	if len(sd[0].Consumers) != 1 {
		t.Fatalf("consumers: %+v", sd[0].Consumers)
	}
	c := sd[0].Consumers[0]
	if c.Name != "D" || c.NumAckPending != 1 || c.NumPending != 2 || c.Delivered.Stream != 3 ||
		c.AckFloor.Stream != 2 || c.NumRedelivered != 0 {
		t.Fatalf("consumer D: %+v", c)
	}

	v := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath)
	if v.JetStream.Stats == nil || v.JetStream.Stats.Store != info.State.Bytes || v.JetStream.Config == nil {
		t.Fatalf("varz jetstream: %+v", v.JetStream)
	}
	if a := testutil.GetJSON[monitor.Accountz](t, s, monitor.AccountzPath+"?acc=$G").Account; !a.JetStream {
		t.Fatalf("accountz: JetStream not shown: %+v", a)
	}
}

// The server-wide storage limits show in /jsz's config as configured.
func TestJszShowsServerLimits(t *testing.T) {
	s := testutil.StartJS(t, testutil.WithMonitor, func(o *config.Options) {
		o.JetStreamMaxMemory, o.JetStreamMaxFile = 1<<20, 3<<30
	})
	cfg := testutil.GetJSON[monitor.JSInfo](t, s, monitor.JszPath).Config
	if cfg.MaxMemory != 1<<20 || cfg.MaxStore != 3<<30 {
		t.Fatalf("jsz config %+v, want max_memory 1 MiB and max_storage 3 GiB", cfg)
	}
}

func TestJszDisabled(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	if jz := testutil.GetJSON[monitor.JSInfo](t, s, monitor.JszPath); !jz.Disabled || jz.Streams != 0 {
		t.Fatalf("jsz without JetStream: %+v", jz)
	}
}

func TestHealthzChecksStreamsRecovered(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "jetstream", broker.GlobalAccountName, "streams", "BROKEN")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "meta.json"), []byte("not a stream"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := testutil.StartServer(t, testutil.WithMonitor, func(o *config.Options) { o.JetStream, o.StoreDir = true, dir })

	code, body := testutil.HTTPGet(t, s, monitor.HealthzPath)
	var hs monitor.HealthStatus
	if err := json.Unmarshal([]byte(body), &hs); err != nil || code != http.StatusServiceUnavailable ||
		hs.Status != "unavailable" || hs.Error != "JetStream stream '$G > BROKEN' could not be recovered" {
		t.Fatalf("healthz with an unrecovered stream: %d %s", code, body)
	}
	if code, body := testutil.HTTPGet(t, s, monitor.HealthzPath+"?js-enabled-only=true"); code != http.StatusOK {
		t.Fatalf("js-enabled-only: %d %s", code, body)
	}
	// Once the operator moves the damaged stream away, the server is healthy.
	if err := os.RemoveAll(broken); err != nil {
		t.Fatal(err)
	}
	if code, body := testutil.HTTPGet(t, s, monitor.HealthzPath); code != http.StatusOK {
		t.Fatalf("healthz after removing the stream: %d %s", code, body)
	}
	testutil.WantBadRequest(t, s, monitor.HealthzPath+"?js-enabled-only=perhaps", "Error decoding boolean")
}
