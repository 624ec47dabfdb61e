package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// The MQTT 3.1.1 listener. MQTT clients are a connection type of their own
// (mqttConn) that shares accounts, sublists and authentication with NATS
// clients: an MQTT PUBLISH is published on the mapped subject, an MQTT
// subscription is an internal subscription that encodes PUBLISH packets.
// QoS 1 messages, retained messages and persistent sessions live in
// streams of the account's JetStream store (mqtt_account.go).

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

func (o *MQTTOptions) enabled() bool { return o.Port != 0 }

// mqttServer is the running MQTT listener and its connections.
type mqttServer struct {
	srv       *Server
	tlsConfig *tls.Config
	ln        net.Listener

	mu    sync.Mutex
	conns map[uint64]*mqttConn

	// accMu guards accounts apart from mu: creating an account's streams
	// does disk I/O, which must not hold up accepting connections.
	accMu    sync.Mutex
	accounts map[*Account]*mqttAccount

	accepted, inMsgs, inBytes, outMsgs, outBytes atomic.Int64
	malformed                                    atomic.Int64
}

func (s *Server) configureMQTT() error {
	o := &s.opts.MQTT
	if !o.enabled() {
		return nil
	}
	if o.Port < -1 || o.Port > 65535 {
		return fmt.Errorf("mqtt: invalid port %d", o.Port)
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultMQTTAckWait
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = DefaultMQTTMaxAckPending
	}
	if o.MaxAckPending > 65535 {
		return errors.New("mqtt: max_ack_pending cannot exceed 65535 (MQTT packet identifiers)")
	}
	ms := &mqttServer{srv: s, conns: make(map[uint64]*mqttConn), accounts: make(map[*Account]*mqttAccount)}
	if o.TLS.enabled() {
		cfg, err := buildTLSConfig(&o.TLS)
		if err != nil {
			return fmt.Errorf("mqtt: %w", err)
		}
		ms.tlsConfig = cfg
	}
	s.mq = ms
	return nil
}

func (s *Server) startMQTT() error {
	ms := s.mq
	if ms == nil {
		return nil
	}
	o := &s.opts.MQTT
	addr := net.JoinHostPort(s.listenHost(o.Host), strconv.Itoa(max(o.Port, 0)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen for MQTT clients on %s: %w", addr, err)
	}
	scheme := "mqtt"
	if ms.tlsConfig != nil {
		ln = tls.NewListener(ln, ms.tlsConfig)
		scheme = "mqtts"
	}
	ms.ln = ln
	s.log.Info("listening for MQTT clients", zap.String("url", scheme+"://"+ln.Addr().String()))
	if !s.opts.JetStream {
		s.log.Warn("MQTT without JetStream: QoS 1 publishes, retained messages, wills with QoS 1 or " +
			"retain, and persistent sessions are refused; QoS 1 subscriptions are granted QoS 0")
	}
	s.live.Add(1)
	go ms.acceptLoop()
	return nil
}

func (ms *mqttServer) acceptLoop() {
	defer ms.srv.live.Done()
	backoff := 5 * time.Millisecond
	for {
		conn, err := ms.ln.Accept()
		if err != nil {
			if ms.srv.isStopping() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				time.Sleep(backoff)
				backoff = min(2*backoff, acceptBackoffMax)
				continue
			}
			ms.srv.log.Error("MQTT accept failed, no longer accepting MQTT clients", zap.Error(err))
			return
		}
		backoff = 5 * time.Millisecond
		ms.accept(conn)
	}
}

func (ms *mqttServer) accept(conn net.Conn) {
	s := ms.srv
	c := newMQTTConn(ms, conn, s.nextCID.Add(1))
	s.mu.Lock()
	full := len(s.clients)+ms.numConns() >= s.opts.MaxConnections
	if s.stopping || full {
		s.mu.Unlock()
		if full {
			s.viol.maxConnections.Add(1)
			s.log.Warn("maximum connections reached, refusing MQTT client", zap.String("remote", c.host))
		}
		_ = conn.Close()
		return
	}
	ms.mu.Lock()
	ms.conns[c.cid] = c
	ms.mu.Unlock()
	s.live.Add(2) // read loop and writer
	s.mu.Unlock()
	ms.accepted.Add(1)
	go func() {
		defer s.live.Done()
		c.run()
	}()
}

func (ms *mqttServer) numConns() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.conns)
}

// gone forgets a connection; its writer calls it last.
func (ms *mqttServer) gone(c *mqttConn) {
	ms.mu.Lock()
	delete(ms.conns, c.cid)
	ms.mu.Unlock()
	ms.srv.live.Done()
}

func (s *Server) stopMQTTListener() {
	if s.mq != nil && s.mq.ln != nil {
		_ = s.mq.ln.Close()
	}
}

// closeMQTTConns closes every MQTT connection at shutdown, after JetStream
// acknowledged what it stored, so that owed PUBACKs go out first.
func (s *Server) closeMQTTConns() {
	if s.mq == nil {
		return
	}
	s.mq.mu.Lock()
	conns := make([]*mqttConn, 0, len(s.mq.conns))
	for _, c := range s.mq.conns {
		conns = append(conns, c)
	}
	s.mq.mu.Unlock()
	for _, c := range conns {
		c.closeConnection(closeServerShutdown, true)
	}
}

func (ms *mqttServer) counters() ProtocolCounters {
	return ProtocolCounters{
		Connections:      ms.numConns(),
		TotalConnections: ms.accepted.Load(),
		InMsgs:           ms.inMsgs.Load(),
		InBytes:          ms.inBytes.Load(),
		OutMsgs:          ms.outMsgs.Load(),
		OutBytes:         ms.outBytes.Load(),
	}
}

// MQTTAddr is the address of the MQTT listener, nil when off.
func (s *Server) MQTTAddr() *net.TCPAddr {
	if s.mq == nil || s.mq.ln == nil {
		return nil
	}
	return s.mq.ln.Addr().(*net.TCPAddr)
}

// MQTTURL is a tcp:// (or ssl://) URL for local MQTT clients, "" when off.
func (s *Server) MQTTURL() string {
	a := s.MQTTAddr()
	if a == nil {
		return ""
	}
	scheme := "tcp"
	if s.mq.tlsConfig != nil {
		scheme = "ssl"
	}
	return scheme + "://" + net.JoinHostPort(loopbackIfUnspecified(a.IP), strconv.Itoa(a.Port))
}
