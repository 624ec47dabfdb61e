// Package bench owns midge's load generator: the benchmark scenarios (core
// publish/subscribe shapes, request/reply, JetStream and key-value), how they
// are measured (per-client and aggregated rates, HDR latency histograms, a
// throughput timeline, lost messages, and each connection's slow-consumer
// events, disconnects and reconnects) and the reports made from the
// measurements (a text table, JSON, CSV and a self-contained HTML page),
// plus interleaved A/B comparisons of two servers.
//
// It talks to any NATS-protocol server through nats.go; StartEmbedded starts
// an in-process midge for runs that need nothing else. cmd/midge-bench is a
// thin command line over this package, and the tests drive it directly.
package bench
