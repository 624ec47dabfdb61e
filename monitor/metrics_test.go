package monitor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/monitor"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics reads /metrics and parses it with Prometheus' own text parser.
func scrapeMetrics(t *testing.T, s *server.Server) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := testutil.HTTPGet(t, s, monitor.MetricsPath)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metricSample finds the metric of a family whose labels include want.
func metricSample(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, want ...string) *dto.Metric {
	t.Helper()
	fam := fams[name]
	if fam == nil {
		t.Fatalf("no metric %s", name)
	}
	if fam.GetType() != typ {
		t.Fatalf("%s is a %v, want %v", name, fam.GetType(), typ)
	}
next:
	for _, m := range fam.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s with labels %v", name, want)
	return nil
}

func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	fam := fams[name]
	if fam == nil {
		t.Fatalf("no metric %s", name)
	}
	m := metricSample(t, fams, name, fam.GetType(), labels...)
	switch fam.GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s is a %v", name, fam.GetType())
	return 0
}

func TestMetricsCoreFigures(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	pub := testutil.Connect(t, s)
	rcv := testutil.Connect(t, s)
	sub, err := rcv.SubscribeSync("m.>")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, rcv)
	before := scrapeMetrics(t, s)
	bytes := testutil.PublishN(t, pub, "m.x", 10)
	testutil.ReceiveN(t, sub, 10)
	s.Broker().CountViolation(broker.ViolationAuthFailure) // as two failed CONNECTs would
	s.Broker().CountViolation(broker.ViolationAuthFailure)
	after := scrapeMetrics(t, s)

	for _, c := range []struct {
		name string
		want float64
	}{
		{"midge_in_messages_total", 10},
		{"midge_in_bytes_total", float64(bytes)},
		{"midge_out_messages_total", 10},
		{"midge_out_bytes_total", float64(bytes)},
		{"midge_auth_failures_total", 2},
		{"midge_slow_consumers_total", 0},
		{"midge_connections_total", 0},
	} {
		if got := metricValue(t, after, c.name) - metricValue(t, before, c.name); got != c.want {
			t.Errorf("%s moved by %v, want %v", c.name, got, c.want)
		}
		metricSample(t, after, c.name, dto.MetricType_COUNTER)
	}
	if got := metricValue(t, after, "midge_connections"); got != 2 {
		t.Errorf("midge_connections %v", got)
	}
	if got := metricValue(t, after, "midge_subscriptions"); got != 1 {
		t.Errorf("midge_subscriptions %v", got)
	}
	if got := metricValue(t, after, "midge_info", "server_id", s.ID(), "version", broker.Version); got != 1 {
		t.Errorf("midge_info %v", got)
	}
	v := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath)
	if got := metricValue(t, after, "midge_in_messages_total"); got != float64(v.InMsgs) {
		t.Errorf("metrics in %v, varz in %d", got, v.InMsgs)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if _, ok := after["midge_jetstream_stream_messages"]; ok {
		t.Error("stream metrics without JetStream")
	}
}

func TestMetricsJetStream(t *testing.T) {
	s := testutil.StartJS(t, testutil.WithMonitor)
	_, js := testutil.JSClient(t, s)
	orders := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	const published = 7
	for i := 0; i < published; i++ {
		if _, err := js.Publish(testutil.Ctx(t), "orders.new", []byte("order")); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := orders.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{
		Durable: "D", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Four delivered: the first acknowledged, the second refused (nak),
	// which sends it again on the next fetch.
	fetch := func(n int) []jetstream.Msg {
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if len(msgs) != n {
			t.Fatalf("fetched %d, want %d", len(msgs), n)
		}
		return msgs
	}
	msgs := fetch(4)
	if err := msgs[0].DoubleAck(testutil.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := msgs[1].Nak(); err != nil {
		t.Fatal(err)
	}
	again := fetch(1)
	if md, _ := again[0].Metadata(); md.Sequence.Stream != 2 || md.NumDelivered != 2 {
		t.Fatalf("redelivered %+v", md)
	}
	info, err := orders.Info(testutil.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}

	fams := scrapeMetrics(t, s)
	stream := []string{"account", "$G", "stream", "ORDERS"}
	consumer := append(stream, "consumer", "D")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"midge_jetstream_stream_messages", stream, published},
		{"midge_jetstream_stream_bytes", stream, float64(info.State.Bytes)},
		{"midge_jetstream_stream_first_seq", stream, 1},
		{"midge_jetstream_stream_last_seq", stream, published},
		{"midge_jetstream_stream_consumers", stream, 1},
		{"midge_jetstream_consumer_num_pending", consumer, published - 4},
		{"midge_jetstream_consumer_num_ack_pending", consumer, 3},
		{"midge_jetstream_consumer_num_redelivered", consumer, 1},
		{"midge_jetstream_consumer_delivered_stream_seq", consumer, 4},
		{"midge_jetstream_consumer_ack_floor_stream_seq", consumer, 1},
	} {
		if got := metricValue(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}

	// Every published message went through exactly one group commit, each
	// of which was written and, under sync policy always, fsynced once.
	batches := metricSample(t, fams, "midge_jetstream_commit_batch_messages", dto.MetricType_HISTOGRAM).GetHistogram()
	fsyncs := metricSample(t, fams, "midge_jetstream_store_fsync_seconds", dto.MetricType_HISTOGRAM).GetHistogram()
	writes := metricSample(t, fams, "midge_jetstream_store_write_seconds", dto.MetricType_HISTOGRAM).GetHistogram()
	if batches.GetSampleSum() != published || batches.GetSampleCount() < 1 || batches.GetSampleCount() > published {
		t.Errorf("batch histogram: %d batches summing to %v, want %d messages", batches.GetSampleCount(), batches.GetSampleSum(), published)
	}
	if fsyncs.GetSampleCount() != batches.GetSampleCount() || writes.GetSampleCount() != batches.GetSampleCount() {
		t.Errorf("fsyncs %d, writes %d, batches %d", fsyncs.GetSampleCount(), writes.GetSampleCount(), batches.GetSampleCount())
	}
	if fsyncs.GetSampleSum() <= 0 {
		t.Errorf("fsync time %v", fsyncs.GetSampleSum())
	}
	if got := metricValue(t, fams, "midge_jetstream_api_errors_total", "account", "$G"); got != 0 {
		t.Errorf("API errors %v", got)
	}
}

// BenchmarkScrapeManyConnections measures a /metrics and a /varz request
// with a thousand open connections: both read atomics per connection and
// emit no series per connection.
func BenchmarkScrapeManyConnections(b *testing.B) {
	s := testutil.StartServer(b, testutil.WithMonitor)
	for i := 0; i < 1000; i++ {
		rc := testutil.DialRaw(b, s)
		rc.Send("CONNECT {\"verbose\":false}\r\nSUB x 1\r\n")
	}
	testutil.WaitFor(b, "connections", func() bool { return s.NumClients() == 1000 })
	for _, path := range []string{monitor.MetricsPath, monitor.VarzPath} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if code, _ := testutil.HTTPGet(b, s, path); code != 200 {
					b.Fatal(code)
				}
			}
		})
	}
}
