package jsapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Ephemeral consumers across a restart. Those of file streams keep their
// state on disk, as in the reference server, and come back with it (then
// go away after their inactive threshold if nobody returns). Those that
// asked for memory storage (clients' ordered consumers: KV watchers) are
// saved when the server stops cleanly, so that watchers carry on at once.

func TestEphemeralConsumerSurvivesRestart(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.E", `{"name":"E","subjects":["e.>"]}`)
		for _, s := range []string{"e.1", "e.2", "e.3"} {
			if _, err := nc.Request(s, []byte(s), testutil.MsgWait); err != nil {
				t.Fatal(err)
			}
		}
		r, err := nc.Request("$JS.API.CONSUMER.CREATE.E", []byte(`{"stream_name":"E","config":{"ack_policy":"explicit","inactive_threshold":30000000000}}`), testutil.MsgWait)
		if err != nil {
			t.Fatal(err)
		}
		var created struct {
			Name string `json:"name"`
		}
		json.Unmarshal(r.Data, &created)
		if created.Name == "" {
			t.Fatalf("ephemeral create: %s", r.Data)
		}
		m, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.E."+created.Name, []byte(`{"batch":1}`), testutil.MsgWait)
		if err != nil || string(m.Data) != "e.1" {
			t.Fatalf("first pull: %v %v", m, err)
		}
		if _, err := nc.Request(m.Reply, []byte("+ACK"), testutil.MsgWait); err != nil {
			t.Fatal(err)
		}
		nc.Close()

		p.Restart(t)
		nc = p.Connect(t)
		info, err := nc.Request("$JS.API.CONSUMER.INFO.E."+created.Name, nil, testutil.MsgWait)
		if err != nil {
			t.Fatal(err)
		}
		var ci struct {
			Config struct {
				Durable string `json:"durable_name"`
			} `json:"config"`
			Delivered struct {
				Stream uint64 `json:"stream_seq"`
			} `json:"delivered"`
			AckFloor struct {
				Stream uint64 `json:"stream_seq"`
			} `json:"ack_floor"`
			NumPending uint64          `json:"num_pending"`
			Error      json.RawMessage `json:"error"`
		}
		json.Unmarshal(info.Data, &ci)
		if ci.Error != nil || ci.Config.Durable != "" || ci.Delivered.Stream != 1 || ci.AckFloor.Stream != 1 || ci.NumPending != 2 {
			t.Fatalf("ephemeral after the restart: %s", info.Data)
		}
		m, err = nc.Request("$JS.API.CONSUMER.MSG.NEXT.E."+created.Name, []byte(`{"batch":1}`), testutil.MsgWait)
		if err != nil || string(m.Data) != "e.2" {
			t.Fatalf("pull after the restart: %v %v", m, err)
		}
	})
}

// A push subscriber of an ephemeral consumer that reconnects after the
// restart gets new messages without re-creating anything.
func TestEphemeralPushConsumerResumesAfterRestart(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		js, err := nc.JetStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.AddStream(&nats.StreamConfig{Name: "P", Subjects: []string{"p.>"}}); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 16)
		if _, err := js.Subscribe("p.>", func(m *nats.Msg) { got <- string(m.Data) },
			nats.IdleHeartbeat(30*time.Second), nats.AckNone()); err != nil {
			t.Fatal(err)
		}
		js.Publish("p.1", []byte("before"))
		if v := <-got; v != "before" {
			t.Fatalf("got %q", v)
		}

		p.Restart(t)
		pub := p.Connect(t)
		start := time.Now()
		deadline := time.After(10 * time.Second)
		for {
			// Published until the subscriber is back: the first ones may
			// come before it resubscribed.
			pub.Request("p.2", []byte("after"), testutil.MsgWait)
			select {
			case v := <-got:
				if v != "after" {
					t.Fatalf("got %q", v)
				}
				t.Logf("resumed %v after the restart", time.Since(start).Round(time.Millisecond))
				return
			case <-time.After(200 * time.Millisecond):
			case <-deadline:
				t.Fatal("the ephemeral push consumer did not resume within 10s")
			}
		}
	})
}

// restartable is an in-process midge on a fixed store directory that keeps
// its port over restarts.
type restartable struct {
	t    *testing.T
	opts func(*config.Options)
	s    *server.Server
}

func startRestartable(t *testing.T) *restartable {
	dir := t.TempDir()
	r := &restartable{t: t}
	port := 0
	r.opts = func(o *config.Options) { o.JetStream, o.StoreDir, o.Port = true, dir, port }
	r.s = testutil.StartServer(t, r.opts)
	port = r.s.Addr().Port
	return r
}

func (r *restartable) restart() {
	r.s.Shutdown()
	r.s = testutil.StartServer(r.t, r.opts)
}

// KV watchers (ordered consumers with memory storage) resume within a
// heartbeat after a clean restart. midge only: the reference server drops
// memory-storage consumers at a restart, and its watchers resume after two
// missed heartbeats (about 20 s measured with nats.go 1.55).
func TestKVWatchResumesAfterRestart(t *testing.T) {
	for _, api := range []string{"nats", "jetstream"} {
		t.Run(api, func(t *testing.T) {
			r := startRestartable(t)
			nc := testutil.Connect(t, r.s, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
			got := make(chan string, 16)
			var put func(string)
			if api == "nats" {
				js, _ := nc.JetStream()
				kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "B"})
				if err != nil {
					t.Fatal(err)
				}
				w, err := kv.WatchAll()
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					for e := range w.Updates() {
						if e != nil {
							got <- string(e.Value())
						}
					}
				}()
				put = func(v string) { kv.Put("k", []byte(v)) }
			} else {
				js, _ := jetstream.New(nc)
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B"})
				if err != nil {
					t.Fatal(err)
				}
				w, err := kv.WatchAll(ctx)
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					for e := range w.Updates() {
						if e != nil {
							got <- string(e.Value())
						}
					}
				}()
				put = func(v string) { kv.Put(ctx, "k", []byte(v)) }
			}
			put("before")
			if v := <-got; v != "before" {
				t.Fatalf("got %q", v)
			}

			r.restart()
			other := testutil.Connect(t, r.s)
			ojs, _ := other.JetStream()
			okv, err := ojs.KeyValue("B")
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			deadline := time.After(5 * time.Second)
			for i := 0; ; i++ {
				okv.Put("k", []byte("after"))
				select {
				case v := <-got:
					if v != "after" {
						t.Fatalf("got %q", v)
					}
					t.Logf("watcher resumed %v after the restart", time.Since(start).Round(time.Millisecond))
					return
				case <-time.After(200 * time.Millisecond):
				case <-deadline:
					t.Fatal("the KV watcher did not resume within 5s")
				}
			}
		})
	}
}
