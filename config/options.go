package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Defaults match the reference server so that clients and scripts written
// for it behave the same against midge.
const (
	DefaultHost           = "0.0.0.0"
	DefaultPort           = 4222
	DefaultMaxPayload     = 1 << 20
	DefaultMaxControlLine = 4096
	DefaultMaxPending     = 64 << 20
	DefaultMaxConnections = 64 * 1024
	DefaultPingInterval   = 2 * time.Minute
	DefaultMaxPingsOut    = 2
	DefaultWriteDeadline  = 10 * time.Second
	DefaultFirstPingDelay = 2 * time.Second

	DefaultLameDuckDuration    = 2 * time.Minute
	DefaultLameDuckGracePeriod = 10 * time.Second
	DefaultMaxClosedClients    = 10000

	// MonitorRandomPort as HTTPPort picks a free monitoring port.
	MonitorRandomPort = -1
	// RandomPort as Port picks a free client port (nats-server's -1).
	RandomPort = -1
)

// Options configure a server. The zero value of a field means its default;
// DefaultOptions returns them filled in.
type Options struct {
	Host       string
	Port       int // 0 picks a free port (tests)
	ServerName string
	// ServerTags are this server's placement tags (server_tags), in lower
	// case.
	ServerTags []string

	MaxPayload     int           // largest PUB/HPUB payload, headers included
	MaxControlLine int           // largest control line arguments
	MaxPending     int64         // outbound bytes queued to one client before it is a slow consumer
	MaxConnections int           // concurrent client connections
	PingInterval   time.Duration // between server PINGs to a client
	MaxPingsOut    int           // unanswered PINGs before 'Stale Connection'
	WriteDeadline  time.Duration // bound on one write to a client socket
	FirstPingDelay time.Duration // first PING after CONNECT, to learn of dead peers early

	// MaxOutboundMemory caps the outbound bytes queued to all clients
	// together; past it, clients that are behind are slow consumers. 0 is
	// no cap.
	MaxOutboundMemory int64

	// JetStream enables streams, stored under StoreDir/jetstream.
	JetStream bool
	StoreDir  string
	// SyncInterval 0 is the sync policy "always" (fsync before every
	// acknowledgement, group-committed); a positive value acknowledges once
	// written and fsyncs at that interval.
	SyncInterval time.Duration
	// StoreBlockSize is the size at which stream block files roll over
	// (0: jetstore.DefaultBlockSize).
	StoreBlockSize int64
	// JetStreamMaxMemory and JetStreamMaxFile are the bytes all memory and
	// all file streams may hold (nats-server's max_memory_store and
	// max_file_store); 0 is no limit. JetStreamDomain is the JetStream
	// domain (nats-server's domain). The configuration file sets them;
	// the server does not act on them yet.
	JetStreamMaxMemory int64
	JetStreamMaxFile   int64
	JetStreamDomain    string

	// MaxSubscriptions per connection; 0 means unlimited.
	MaxSubscriptions int

	Auth     AuthOptions      // client authentication and permissions
	Accounts []AccountOptions // isolated subject spaces
	TLS      TLSOptions       // TLS for client connections
	// AllowNonTLS, with TLS configured, lets clients choose: INFO offers
	// TLS (tls_available) instead of requiring it, and a client that starts
	// with plaintext instead of a TLS handshake stays plaintext
	// (nats-server's allow_non_tls).
	AllowNonTLS bool
	// Monitoring over HTTP: HTTPPort 0 disables it,
	// MonitorRandomPort picks a free port (see MonitorAddr). HTTPHost
	// defaults to Host; HTTPBasePath prefixes every endpoint.
	HTTPHost string
	HTTPPort int
	// ProfPort, when set, serves Go's pprof profiles over HTTP on the
	// monitoring host (-1 picks a free port); for performance work, never
	// on a public interface.
	ProfPort     int
	HTTPBasePath string
	// MaxClosedClients is how many closed connections /connz remembers.
	MaxClosedClients int

	// PortsFileDir, when set, gets a <executable>_<pid>.ports file listing
	// every listener's URLs once they are all up.
	PortsFileDir string
	// ConfigWarnings are what the configuration loader accepted but wants
	// said (logged at start).
	ConfigWarnings []string

	// Lame duck mode: clients are told at once, closed after
	// the grace period, spread over the rest of the duration.
	LameDuckDuration    time.Duration
	LameDuckGracePeriod time.Duration

	WebSocket WebSocketOptions // NATS protocol over WebSocket
	MQTT      MQTTOptions      // MQTT 3.1.1 listener
	Kafka     KafkaOptions     // Kafka wire-protocol listener
	Cluster   ClusterOptions   // routes to the other servers of a cluster

	Debug bool // log connection lifecycle events
	Trace bool // log every protocol operation (expensive; off by default)

	// LogFile, LogFormat and PidFile are for the command that runs the
	// server; a configuration file can set them. LogFormat is "console"
	// (the default) or "reference" (nats-server's log line format).
	LogFile   string
	LogFormat string
	PidFile   string
	// NoLogTime leaves the time out of log lines (nats-server's
	// logtime: false, -T=false); LogTimeUTC writes it in UTC rather than
	// local time (logtime_utc).
	NoLogTime  bool
	LogTimeUTC bool
}

// DefaultOptions returns the reference server's defaults.
func DefaultOptions() Options {
	var o Options
	o.SetDefaults()
	o.Host, o.Port = DefaultHost, DefaultPort
	return o
}

// Validate checks what SetDefaults cannot fix.
func (o *Options) Validate() error {
	if o.LameDuckGracePeriod >= o.LameDuckDuration {
		return fmt.Errorf("lame duck grace period (%v) must be shorter than the lame duck duration (%v)",
			o.LameDuckGracePeriod, o.LameDuckDuration)
	}
	if o.HTTPPort < MonitorRandomPort || o.HTTPPort > 65535 {
		return fmt.Errorf("invalid monitoring port %d", o.HTTPPort)
	}
	if o.Cluster.Port < RandomPort || o.Cluster.Port > 65535 {
		return fmt.Errorf("invalid cluster port %d", o.Cluster.Port)
	}
	for _, r := range o.Cluster.Routes {
		if _, err := ParseRouteURL(r); err != nil {
			return err
		}
	}
	if len(o.Cluster.Routes) > 0 && !o.Cluster.Enabled() {
		return fmt.Errorf("routes need a cluster listen port")
	}
	if o.Kafka.Port < RandomPort || o.Kafka.Port > 65535 {
		return fmt.Errorf("invalid kafka port %d", o.Kafka.Port)
	}
	if a := o.Kafka.Advertise; a != "" {
		_, p, err := net.SplitHostPort(a)
		if err == nil {
			_, err = strconv.ParseUint(p, 10, 16)
		}
		if err != nil {
			return fmt.Errorf("invalid kafka advertise address %q (want host:port)", a)
		}
	}
	if o.Kafka.Enabled() && !o.JetStream {
		return fmt.Errorf("the kafka listener needs JetStream (topics are streams): enable it with -js or a jetstream block")
	}
	return nil
}

// SetDefaults fills every zero field with its default. Host and Port are left
// alone: the zero Port deliberately means "any free port".
func (o *Options) SetDefaults() {
	if o.MaxPayload <= 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.MaxControlLine <= 0 {
		o.MaxControlLine = DefaultMaxControlLine
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxPingsOut <= 0 {
		o.MaxPingsOut = DefaultMaxPingsOut
	}
	if o.WriteDeadline <= 0 {
		o.WriteDeadline = DefaultWriteDeadline
	}
	if o.TLS.Timeout <= 0 {
		o.TLS.Timeout = DefaultTLSTimeout
	}
	if o.FirstPingDelay <= 0 {
		o.FirstPingDelay = DefaultFirstPingDelay
	}
	if o.MaxClosedClients <= 0 {
		o.MaxClosedClients = DefaultMaxClosedClients
	}
	if o.LameDuckDuration <= 0 {
		o.LameDuckDuration = DefaultLameDuckDuration
	}
	if o.LameDuckGracePeriod <= 0 {
		o.LameDuckGracePeriod = DefaultLameDuckGracePeriod
	}
	// A secondary listener given only a port binds the clients' host, so
	// `listen: 127.0.0.1:4222` with `mqtt { port: 1883 }` keeps MQTT on
	// loopback too. (Monitoring does the same for an empty HTTPHost.)
	if o.WebSocket.Host == "" {
		o.WebSocket.Host = o.Host
	}
	if o.MQTT.Host == "" {
		o.MQTT.Host = o.Host
	}
	if o.Kafka.Host == "" {
		o.Kafka.Host = o.Host
	}
	if o.Cluster.PingInterval <= 0 {
		o.Cluster.PingInterval = DefaultRoutePingInterval
	}
	if o.Cluster.MaxPingsOut <= 0 {
		o.Cluster.MaxPingsOut = o.MaxPingsOut
	}
}
