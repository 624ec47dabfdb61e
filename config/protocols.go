package config

import "time"

// WebSocketOptions configure the WebSocket listener (nats-server's
// `websocket` block). Port 0 leaves it off; -1 picks a free port.
type WebSocketOptions struct {
	Host string
	Port int
	// NoTLS allows a listener without TLS; without it a certificate is
	// required, as in nats-server (credentials cross in the clear otherwise).
	NoTLS bool
	// Compression offers permessage-deflate to clients that ask for it.
	Compression bool
	// SameOrigin accepts browsers only from the page's own origin
	// (scheme, host and port of the request).
	SameOrigin bool
	// AllowedOrigins, when set, lists the origins browsers may come from,
	// as URLs ("https://app.example.com"). A request without an Origin
	// header (not from a browser) is always accepted.
	AllowedOrigins []string
	// HandshakeTimeout bounds the TLS handshake and the HTTP upgrade;
	// default 2 s.
	HandshakeTimeout time.Duration
	TLS              TLSOptions
}

func (o *WebSocketOptions) Enabled() bool { return o.Port != 0 }

// DefaultWebSocketHandshakeTimeout bounds the upgrade request.
const DefaultWebSocketHandshakeTimeout = 2 * time.Second

// MQTTOptions configure the MQTT listener (nats-server's `mqtt` block).
// Port 0 leaves it off; -1 picks a free port.
type MQTTOptions struct {
	Host string
	Port int
	TLS  TLSOptions
	// AckWait is how long a QoS 1 message delivered to a subscriber waits
	// for its PUBACK before it is sent again; default 30 s.
	AckWait time.Duration
	// MaxAckPending bounds the QoS 1 messages in flight per subscription;
	// default 1024.
	MaxAckPending int
}

// MQTT defaults.
const (
	DefaultMQTTAckWait       = 30 * time.Second
	DefaultMQTTMaxAckPending = 1024
)

func (o *MQTTOptions) Enabled() bool { return o.Port != 0 }

// KafkaOptions configure the Kafka wire-protocol listener (midge's own
// `kafka` block). Port 0 leaves it off; -1 picks a free port. Kafka's
// topics are streams, so it needs JetStream.
type KafkaOptions struct {
	Host string
	Port int
	// Advertise is the host:port clients are told to connect to in
	// metadata responses; empty means the address each client reached.
	Advertise string
	// NoAutoCreateTopics refuses produce and metadata requests for unknown
	// topics instead of creating them (the file's auto_create_topics:
	// false; Kafka brokers create them by default).
	NoAutoCreateTopics bool
	// DefaultPartitions is the partition count of automatically created
	// topics; default 1.
	DefaultPartitions int
}

func (o *KafkaOptions) Enabled() bool { return o.Port != 0 }
