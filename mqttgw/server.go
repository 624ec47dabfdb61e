package mqttgw

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/logging"
)

// Gateway is the MQTT listener of one broker and the MQTT state of its
// accounts.
type Gateway struct {
	broker    *broker.Broker
	log       logging.Logger
	opts      config.MQTTOptions // fixed at New, with defaults filled in
	streams   Streams
	tlsConfig *tls.Config

	ln   atomic.Pointer[net.Listener] // set once listening
	done chan struct{}                // closed when the accept loop ends

	// accMu guards accounts: creating an account's streams does disk I/O,
	// which must not hold up accepting connections.
	accMu    sync.Mutex
	accounts map[*broker.Account]*account

	malformed atomic.Int64
	stopping  *atomic.Bool // set by Close before the listener closes
}

// Streams is how the gateway reaches an account's JetStream: typed calls
// into the JetStream layer, which the server provides.
type Streams interface {
	// Enabled reports whether the account has JetStream; without it QoS 1,
	// retained messages and persistent sessions are refused.
	Enabled(acc *broker.Account) bool
	// EnsureStream returns the account's stream named in cfg, creating it
	// (and making it receive its subjects) when missing; an existing
	// stream is taken as it is.
	EnsureStream(acc *broker.Account, cfg jetstore.StreamConfig) (*jetstore.Stream, error)
}

// New checks the broker's MQTT options. It returns nil without error when
// no MQTT port is configured.
func New(b *broker.Broker, streams Streams) (*Gateway, error) {
	o := b.Options().MQTT
	if !o.Enabled() {
		return nil, nil
	}
	if o.Port < -1 || o.Port > 65535 {
		return nil, fmt.Errorf("mqtt: invalid port %d", o.Port)
	}
	if o.AckWait <= 0 {
		o.AckWait = config.DefaultMQTTAckWait
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = config.DefaultMQTTMaxAckPending
	}
	if o.MaxAckPending > 65535 {
		return nil, errors.New("mqtt: max_ack_pending cannot exceed 65535 (MQTT packet identifiers)")
	}
	g := &Gateway{broker: b, log: b.Logger(), opts: o, streams: streams, accounts: make(map[*broker.Account]*account)}
	if o.TLS.Enabled() {
		cfg, err := o.TLS.ServerConfig()
		if err != nil {
			return nil, fmt.Errorf("mqtt: %w", err)
		}
		g.tlsConfig = cfg
	}
	return g, nil
}

// Start listens and accepts MQTT clients in the background.
func (g *Gateway) Start() error {
	addr := net.JoinHostPort(g.opts.Host, strconv.Itoa(max(g.opts.Port, 0)))
	ln, err := broker.Listen(g.opts.Host, max(g.opts.Port, 0))
	if err != nil {
		return fmt.Errorf("cannot listen for MQTT clients on %s: %w", addr, err)
	}
	if g.tlsConfig != nil {
		ln = tls.NewListener(ln, g.tlsConfig)
	}
	g.ln.Store(&ln)
	g.log.Info("listening for MQTT clients", "url", g.Scheme()+"://"+ln.Addr().String())
	if !g.broker.Options().JetStream {
		g.log.Warn("MQTT without JetStream: QoS 1 publishes, retained messages, wills with QoS 1 or " +
			"retain, and persistent sessions are refused; QoS 1 subscriptions are granted QoS 0")
	}
	g.done = make(chan struct{})
	var stopping atomic.Bool
	g.stopping = &stopping
	go func() {
		defer close(g.done)
		broker.AcceptLoop(ln, g.log, stopping.Load, g.accept)
	}()
	return nil
}

// Close stops accepting; the connections are the broker's and close with
// the others.
func (g *Gateway) Close() {
	ln := g.ln.Load()
	if ln == nil {
		return
	}
	g.stopping.Store(true)
	_ = (*ln).Close()
	<-g.done
}

func (g *Gateway) accept(nc net.Conn) {
	c := newClient(g, nc)
	if err := g.broker.Register(c.core); err != nil {
		if errors.Is(err, broker.ErrMaxConnections) {
			g.log.Warn("maximum connections reached, refusing MQTT client", "remote", c.host)
		}
		_ = nc.Close()
		return
	}
	go func() {
		defer g.broker.Release()
		c.run()
	}()
}

// Addr is the address of the listener, nil until it listens.
func (g *Gateway) Addr() *net.TCPAddr {
	ln := g.ln.Load()
	if ln == nil {
		return nil
	}
	return (*ln).Addr().(*net.TCPAddr)
}

// Scheme is mqtt, or mqtts with TLS.
func (g *Gateway) Scheme() string {
	if g.tlsConfig != nil {
		return "mqtts"
	}
	return "mqtt"
}

// URL is a tcp:// (or ssl://) URL for local MQTT clients, "" until it
// listens.
func (g *Gateway) URL() string {
	a := g.Addr()
	if a == nil {
		return ""
	}
	scheme := "tcp"
	if g.tlsConfig != nil {
		scheme = "ssl"
	}
	host := "127.0.0.1"
	if a.IP != nil && !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// Malformed counts MQTT connections closed for a malformed or oversized
// packet.
func (g *Gateway) Malformed() int64 { return g.malformed.Load() }
