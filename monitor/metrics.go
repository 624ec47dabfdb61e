package monitor

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// /metrics: Prometheus text format. Server, stream and consumer figures
// are read at scrape time by one collector (no series per connection, so
// a scrape costs a pass over atomics however many clients there are);
// only the store's commit timings are histograms, fed by jetstore's
// CommitObserver as batches commit.

// promMetrics is the server's Prometheus registry and histograms.
type promMetrics struct {
	reg   *prometheus.Registry
	fsync prometheus.Histogram
	write prometheus.Histogram
	batch prometheus.Histogram
}

func newPromMetrics(s *Server) *promMetrics {
	m := &promMetrics{
		reg: prometheus.NewRegistry(),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "midge_jetstream_store_fsync_seconds",
			Help: "Time one group commit spent in fsync (sync policy always).",
			// 50µs to ~1.6s: NVMe to a struggling network disk.
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "midge_jetstream_store_write_seconds",
			Help:    "Time one group commit spent writing its records.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "midge_jetstream_commit_batch_messages",
			Help:    "Messages made durable together by one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 17), // 1 to 65536, the ingest queue's bound
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&serverCollector{s: s},
		m.fsync, m.write, m.batch,
	)
	return m
}

func (m *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Commit is the jetstore.CommitObserver.
func (m *promMetrics) Commit(batch int, write, sync time.Duration) {
	m.batch.Observe(float64(batch))
	m.write.Observe(write.Seconds())
	if sync > 0 {
		m.fsync.Observe(sync.Seconds())
	}
}

// CommitObserver is what stores report their commits to: the metrics when
// a monitoring port is configured, nothing otherwise.
func (s *Server) CommitObserver() jetstore.CommitObserver {
	if s.opts().HTTPPort == 0 {
		return nil
	}
	return s.prom
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	streamLabels   = []string{"account", "stream"}
	consumerLabels = []string{"account", "stream", "consumer"}

	descInfo = newDesc("midge_info", "Always 1; the labels describe the server.",
		"server_id", "server_name", "version", "protocol_version")
	descStart      = newDesc("midge_start_time_seconds", "When the server started, in seconds since the epoch.")
	descConns      = newDesc("midge_connections", "Open client connections.")
	descConnsTotal = newDesc("midge_connections_total", "Client connections accepted since start.")
	descSubs       = newDesc("midge_subscriptions", "Subscriptions, the server's own included.")
	descInMsgs     = newDesc("midge_in_messages_total", "Messages received from clients.")
	descInBytes    = newDesc("midge_in_bytes_total", "Header and payload bytes of messages received from clients.")
	descOutMsgs    = newDesc("midge_out_messages_total", "Messages delivered to clients.")
	descOutBytes   = newDesc("midge_out_bytes_total", "Header and payload bytes of messages delivered to clients.")
	descSlow       = newDesc("midge_slow_consumers_total", "Clients closed for not keeping up with their messages.")
	descStale      = newDesc("midge_stale_connections_total", "Clients closed for not answering PINGs.")
	descStalls     = newDesc("midge_producer_stalls_total", "Times a publisher was briefly held back by a slow receiver.")
	descAuthFail   = newDesc("midge_auth_failures_total", "Clients that failed to authenticate.")

	descProtoConns      = newDesc("midge_protocol_connections", "Open client connections by protocol.", "protocol")
	descProtoConnsTotal = newDesc("midge_protocol_connections_total", "Client connections accepted by protocol.", "protocol")
	descProtoInMsgs     = newDesc("midge_protocol_in_msgs_total", "Messages published by clients, by protocol.", "protocol")
	descProtoInBytes    = newDesc("midge_protocol_in_bytes_total", "Payload bytes published by clients, by protocol.", "protocol")
	descProtoOutMsgs    = newDesc("midge_protocol_out_msgs_total", "Messages delivered to clients, by protocol.", "protocol")
	descProtoOutBytes   = newDesc("midge_protocol_out_bytes_total", "Bytes delivered to clients, by protocol.", "protocol")
	descLameDuck        = newDesc("midge_lame_duck_mode", "1 while the server is in lame duck mode.")
	descKafkaRequests   = newDesc("midge_kafka_requests_total", "Kafka requests received.")
	descKafkaUnsupport  = newDesc("midge_kafka_unsupported_requests_total",
		"Kafka requests of a version or kind the listener does not implement.")
	descKafkaMalformed = newDesc("midge_kafka_malformed_requests_total",
		"Kafka connections closed for an undecodable request.")
	descKafkaAuthFail   = newDesc("midge_kafka_auth_failures_total", "Kafka clients that failed SASL authentication.")
	descKafkaProduceErr = newDesc("midge_kafka_produce_errors_total", "Kafka produce partitions answered with an error.")
	descKafkaGroups     = newDesc("midge_kafka_groups", "Kafka consumer groups with members.")
	descAPITotal        = newDesc("midge_jetstream_api_requests_total", "JetStream API requests.", "account")
	descAPIErrors       = newDesc("midge_jetstream_api_errors_total", "JetStream API requests answered with an error.", "account")
	descStreamMsgs      = newDesc("midge_jetstream_stream_messages", "Messages stored in the stream.", streamLabels...)
	descStreamBytes     = newDesc("midge_jetstream_stream_bytes", "Bytes stored in the stream.", streamLabels...)
	descStreamFirst     = newDesc("midge_jetstream_stream_first_seq", "Sequence of the stream's oldest message.", streamLabels...)
	descStreamLast      = newDesc("midge_jetstream_stream_last_seq", "Sequence of the stream's newest message.", streamLabels...)
	descStreamCons      = newDesc("midge_jetstream_stream_consumers", "Consumers of the stream.", streamLabels...)
	descConsPending     = newDesc("midge_jetstream_consumer_num_pending",
		"Messages matching the consumer's filter not yet delivered.", consumerLabels...)
	descConsAckPending = newDesc("midge_jetstream_consumer_num_ack_pending",
		"Messages delivered and awaiting acknowledgement.", consumerLabels...)
	descConsRedelivered = newDesc("midge_jetstream_consumer_num_redelivered",
		"Messages awaiting acknowledgement that were delivered more than once.", consumerLabels...)
	descConsWaiting = newDesc("midge_jetstream_consumer_num_waiting",
		"Pull requests waiting for messages.", consumerLabels...)
	descConsDelivered = newDesc("midge_jetstream_consumer_delivered_stream_seq",
		"Stream sequence of the consumer's last delivery.", consumerLabels...)
	descConsAckFloor = newDesc("midge_jetstream_consumer_ack_floor_stream_seq",
		"Stream sequence below which every message is acknowledged.", consumerLabels...)
)

// serverCollector reads the server's figures at scrape time.
type serverCollector struct{ s *Server }

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descInfo, descStart, descConns, descConnsTotal, descSubs, descInMsgs, descInBytes,
		descOutMsgs, descOutBytes, descSlow, descStale, descStalls, descAuthFail, descLameDuck,
		descProtoConns, descProtoConnsTotal, descProtoInMsgs, descProtoInBytes, descProtoOutMsgs, descProtoOutBytes,
		descKafkaRequests, descKafkaUnsupport, descKafkaMalformed, descKafkaAuthFail, descKafkaProduceErr, descKafkaGroups,
		descAPITotal, descAPIErrors, descStreamMsgs, descStreamBytes, descStreamFirst,
		descStreamLast, descStreamCons, descConsPending, descConsAckPending,
		descConsRedelivered, descConsWaiting, descConsDelivered, descConsAckFloor,
	} {
		ch <- d
	}
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	st := s.broker.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descInfo, 1, s.broker.ID(), s.broker.Name(), broker.Version, broker.ProtocolVersion)
	if started, _ := s.startInfo(); !started.IsZero() {
		gauge(descStart, float64(started.UnixNano())/1e9)
	}
	gauge(descConns, float64(st.Connections))
	counter(descConnsTotal, float64(st.TotalConnections))
	gauge(descSubs, float64(st.Subscriptions))
	counter(descInMsgs, float64(st.InMsgs))
	counter(descInBytes, float64(st.InBytes))
	counter(descOutMsgs, float64(st.OutMsgs))
	counter(descOutBytes, float64(st.OutBytes))
	counter(descSlow, float64(st.SlowConsumers))
	counter(descStale, float64(st.StaleConnections))
	counter(descStalls, float64(s.broker.Stats().Stalls))
	counter(descAuthFail, float64(st.AuthFailures))
	lameDuck := 0.0
	if s.src.LameDuck() {
		lameDuck = 1
	}
	gauge(descLameDuck, lameDuck)
	var ps ProtocolStats
	_, started := s.src.Started()
	if started { // the listeners are set up by then
		ps = s.src.Protocols()
	}
	for _, p := range []struct {
		name string
		c    broker.ProtocolCounters
	}{{"nats", ps.NATS}, {"websocket", ps.WebSocket}, {"mqtt", ps.MQTT}, {"kafka", ps.Kafka}} {
		gauge(descProtoConns, float64(p.c.Connections), p.name)
		counter(descProtoConnsTotal, float64(p.c.TotalConnections), p.name)
		counter(descProtoInMsgs, float64(p.c.InMsgs), p.name)
		counter(descProtoInBytes, float64(p.c.InBytes), p.name)
		counter(descProtoOutMsgs, float64(p.c.OutMsgs), p.name)
		counter(descProtoOutBytes, float64(p.c.OutBytes), p.name)
	}
	if started && s.src.KafkaAddr() != nil {
		k := ps.KafkaListener
		counter(descKafkaRequests, float64(k.Requests))
		counter(descKafkaUnsupport, float64(k.Unsupported))
		counter(descKafkaMalformed, float64(k.Malformed))
		counter(descKafkaAuthFail, float64(k.AuthFailures))
		counter(descKafkaProduceErr, float64(k.ProduceErrors))
		gauge(descKafkaGroups, float64(k.Groups))
	}
	for _, ja := range s.jetStream() {
		c.collectJetStream(&ja, gauge, counter)
	}
}

type emitFunc func(d *prometheus.Desc, v float64, labels ...string)

func (c *serverCollector) collectJetStream(ja *JetStreamAccount, gauge, counter emitFunc) {
	acc := ja.Name
	counter(descAPITotal, float64(ja.APIRequests), acc)
	counter(descAPIErrors, float64(ja.APIErrors), acc)
	for _, st := range ja.Store.Streams() {
		name := st.Name()
		state := st.State("", false)
		consumers := st.Consumers()
		gauge(descStreamMsgs, float64(state.Msgs), acc, name)
		gauge(descStreamBytes, float64(state.Bytes), acc, name)
		gauge(descStreamFirst, float64(state.FirstSeq), acc, name)
		gauge(descStreamLast, float64(state.LastSeq), acc, name)
		gauge(descStreamCons, float64(len(consumers)), acc, name)
		for _, con := range consumers {
			info := con.Info()
			labels := []string{acc, name, info.Name}
			gauge(descConsPending, float64(info.NumPending), labels...)
			gauge(descConsAckPending, float64(info.NumAckPending), labels...)
			gauge(descConsRedelivered, float64(info.NumRedelivered), labels...)
			gauge(descConsWaiting, float64(info.NumWaiting), labels...)
			gauge(descConsDelivered, float64(info.Delivered.Stream), labels...)
			gauge(descConsAckFloor, float64(info.AckFloor.Stream), labels...)
		}
	}
}
