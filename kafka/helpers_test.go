package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/jsapi"
)

// testBroker is a listener on 127.0.0.1:0 over the JetStream of a real
// broker core, in a directory that outlives restarts within one test.
// (Tests through the whole server, with NATS and MQTT clients, are in
// package kafka_test.)
type testBroker struct {
	t       testing.TB
	dir     string
	js      *jetStreams
	backend *JetBackend
	srv     *Server
	cfg     Config
}

// jetStreams is a broker core with JetStream in its global account, as
// the server assembles them, without listeners.
type jetStreams struct {
	core    *broker.Broker
	js      *jsapi.JetStream
	streams *jsapi.AccountStreams
}

func openJetStreams(tb testing.TB, dir string) *jetStreams {
	tb.Helper()
	core, err := broker.New(config.Options{Host: "127.0.0.1"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	js := jsapi.New(core, jsapi.Options{Dir: dir})
	if err := js.Enable(core.GlobalAccount()); err != nil {
		tb.Fatal(err)
	}
	return &jetStreams{core: core, js: js, streams: js.AccountStreams(core.GlobalAccount())}
}

// close commits and acknowledges what the streams hold, then stops.
func (j *jetStreams) close() {
	j.js.Close()
	j.core.Shutdown()
}

// natsPublish publishes as a NATS client of the global account would.
func (j *jetStreams) natsPublish(subject string, hdr, data []byte) {
	j.core.GlobalAccount().NewPublisher().Publish([]byte(subject), nil, hdr, data)
}

type testLogger struct{ t testing.TB }

func (l testLogger) Debug(string, ...any) {}
func (l testLogger) Info(msg string, kv ...any) {
	l.t.Helper()
	l.t.Logf("INFO %s %v", msg, kv)
}
func (l testLogger) Warn(msg string, kv ...any) {
	l.t.Helper()
	l.t.Logf("WARN %s %v", msg, kv)
}
func (l testLogger) Error(msg string, kv ...any) {
	l.t.Helper()
	l.t.Logf("ERROR %s %v", msg, kv)
}

// startBroker starts a broker; cfg's Backend is filled in when neither it
// nor Authenticate is set.
func startBroker(t *testing.T, cfg Config) *testBroker {
	t.Helper()
	return newTestBroker(t, cfg)
}

func newTestBroker(t testing.TB, cfg Config) *testBroker {
	t.Helper()
	b := &testBroker{t: t, dir: t.TempDir(), cfg: cfg}
	b.start()
	t.Cleanup(b.stop)
	return b
}

// benchBroker is a broker for benchmarks, logging only problems.
func benchBroker(b *testing.B) *testBroker {
	b.Helper()
	return newTestBroker(b, Config{Logger: quietLogger{}})
}

type quietLogger struct{ nopLogger }

func (b *testBroker) start() {
	b.t.Helper()
	b.js = openJetStreams(b.t, b.dir)
	backend := NewJetBackend(b.js.streams)
	b.backend = backend
	cfg := b.cfg
	cfg.Listen = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = testLogger{b.t}
	}
	if cfg.Authenticate == nil {
		cfg.Backend = backend
	} else {
		auth := cfg.Authenticate
		cfg.Authenticate = func(u, p string) (Backend, error) {
			be, err := auth(u, p)
			if err != nil {
				return nil, err
			}
			if be == nil {
				be = backend
			}
			return be, nil
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.srv = srv
}

func (b *testBroker) stop() {
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
	if b.js != nil {
		b.js.close()
		b.js = nil
	}
}

// restart stops the listener and the store and opens both again on the
// same directory (a new port).
func (b *testBroker) restart() {
	b.t.Helper()
	b.stop()
	b.start()
}

func (b *testBroker) addr() string { return b.srv.Addr().String() }

// client returns a franz-go client for the broker, closed with the test.
func (b *testBroker) client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(b.addr()), kgo.RetryTimeout(10 * time.Second)}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic through the protocol.
func (b *testBroker) createTopic(cl *kgo.Client, name string, partitions int32) {
	b.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		b.t.Fatal(err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		b.t.Fatalf("creating topic %s: error %d %v", name, code, deref(resp.Topics[0].ErrorMessage))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// consumeN polls until n records arrived or the context ends.
func consumeN(t *testing.T, ctx context.Context, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

func keyOf(i int) string { return fmt.Sprintf("key-%06d", i) }
