package server

import (
	"encoding/json"
	"sync/atomic"

	"github.com/midgemq/midge/parser"
)

// The client protocols besides NATS over TCP: their life cycle in the
// server and the counters monitoring shows per protocol.

// connKind is how a NATS-protocol client reached the server.
type connKind uint8

const (
	kindNATS connKind = iota
	kindWebSocket
	numConnKinds
)

// protoCounters are the per-kind totals of NATS-protocol clients.
type protoCounters struct {
	accepted [numConnKinds]atomic.Int64
	closed   [numConnKinds]clientStats // counters of clients already gone

	wsOriginRefused atomic.Int64
}

func (cs *clientStats) add(o *clientStats) {
	cs.inMsgs.Add(o.inMsgs.Load())
	cs.inBytes.Add(o.inBytes.Load())
	cs.outMsgs.Add(o.outMsgs.Load())
	cs.outBytes.Add(o.outBytes.Load())
}

// ProtocolCounters describe one client protocol since the server started.
type ProtocolCounters struct {
	Connections      int   `json:"connections"`       // open now
	TotalConnections int64 `json:"total_connections"` // accepted in total
	InMsgs           int64 `json:"in_msgs"`           // messages clients published
	InBytes          int64 `json:"in_bytes"`          // ... and their payload bytes
	OutMsgs          int64 `json:"out_msgs"`          // messages delivered to clients
	OutBytes         int64 `json:"out_bytes"`         // bytes written to clients (protocol included)
}

// ProtocolStats are the counters of each client protocol, for monitoring.
// The NATS figures are the TCP clients' only; Stats sums NATS and WebSocket.
type ProtocolStats struct {
	NATS      ProtocolCounters
	WebSocket ProtocolCounters
	MQTT      ProtocolCounters
	// WebSocketOriginRefused counts upgrades refused by the origin checks.
	WebSocketOriginRefused int64
	// MQTTMalformed counts MQTT connections closed for a malformed or
	// oversized packet.
	MQTTMalformed int64
}

// ProtocolStats returns the per-protocol counters.
func (s *Server) ProtocolStats() ProtocolStats {
	var ps ProtocolStats
	kinds := [numConnKinds]*ProtocolCounters{kindNATS: &ps.NATS, kindWebSocket: &ps.WebSocket}
	for k, pc := range kinds {
		closed := &s.proto.closed[k]
		pc.TotalConnections = s.proto.accepted[k].Load()
		pc.InMsgs, pc.InBytes = closed.inMsgs.Load(), closed.inBytes.Load()
		pc.OutMsgs, pc.OutBytes = closed.outMsgs.Load(), closed.outBytes.Load()
	}
	s.mu.Lock()
	for _, c := range s.clients {
		pc := kinds[c.kind]
		pc.Connections++
		pc.InMsgs += c.stats.inMsgs.Load()
		pc.InBytes += c.stats.inBytes.Load()
		pc.OutMsgs += c.stats.outMsgs.Load()
		pc.OutBytes += c.stats.outBytes.Load()
	}
	s.mu.Unlock()
	ps.WebSocketOriginRefused = s.proto.wsOriginRefused.Load()
	if s.mq != nil {
		ps.MQTT = s.mq.counters()
		ps.MQTTMalformed = s.mq.malformed.Load()
	}
	return ps
}

// configureProtocols validates the extra listeners' options in New.
func (s *Server) configureProtocols() error {
	if err := s.configureWebSocket(); err != nil {
		return err
	}
	return s.configureMQTT()
}

// startProtocols opens the extra listeners once the NATS one is up.
func (s *Server) startProtocols() error {
	if err := s.startWebSocket(); err != nil {
		return err
	}
	return s.startMQTT()
}

// stopProtocols stops accepting on the extra listeners.
func (s *Server) stopProtocols() {
	s.stopWebSocket()
	s.stopMQTTListener()
}

// infoLine is the INFO a client gets first. A WebSocket client's transport
// is already TLS or never will be, so it is told the listener's TLS state
// and not asked to start TLS inside the stream.
func (c *client) infoLine() []byte {
	if c.kind != kindWebSocket {
		return c.srv.infoLine(c.sec.auth, c.cid, c.host, c.sec.nonce)
	}
	info := c.srv.baseInfo()
	info.ClientID, info.ClientIP, info.Nonce = c.cid, c.host, c.sec.nonce
	info.AuthRequired = c.sec.auth.required
	wsTLS := c.srv.ws.tlsConfig != nil
	info.TLSRequired, info.TLSVerify = wsTLS, wsTLS && c.srv.ws.tlsConfig.ClientAuth != 0
	if a := c.srv.WebSocketAddr(); a != nil {
		info.Host, info.Port = c.srv.listenHost(c.srv.opts.WebSocket.Host), a.Port
	}
	js, _ := json.Marshal(info)
	return parser.AppendInfo(nil, js)
}
