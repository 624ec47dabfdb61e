package broker

import "sync/atomic"

// Kind is the protocol and transport a connection came in by.
type Kind uint8

const (
	KindNATS      Kind = iota // the NATS protocol over TCP
	KindWebSocket             // the NATS protocol over WebSocket
	KindMQTT                  // MQTT 3.1.1, through the MQTT gateway
	KindRoute                 // another server of the cluster
	numKinds
)

var kindNames = [numKinds]string{KindNATS: "nats", KindWebSocket: "websocket", KindMQTT: "mqtt", KindRoute: "route"}

func (k Kind) String() string { return kindNames[k] }

// speaksNATS tells the kinds served by this package's NATS client handler.
func (k Kind) speaksNATS() bool { return k == KindNATS || k == KindWebSocket }

// kindCounters are the totals of each kind of connection.
type kindCounters struct {
	accepted [numKinds]atomic.Int64
	closed   [numKinds]connStats // counters of connections already gone
}

// ProtocolCounters describe one kind of connection since the broker started.
type ProtocolCounters struct {
	Connections      int   `json:"connections"`       // open now
	TotalConnections int64 `json:"total_connections"` // accepted in total
	InMsgs           int64 `json:"in_msgs"`           // messages clients published
	InBytes          int64 `json:"in_bytes"`          // ... and their payload bytes
	OutMsgs          int64 `json:"out_msgs"`          // messages delivered to clients
	OutBytes         int64 `json:"out_bytes"`         // bytes written to clients
}

// Counters returns the counters of one kind of connection, open and gone.
func (b *Broker) Counters(k Kind) ProtocolCounters {
	closed := &b.kinds.closed[k]
	pc := ProtocolCounters{
		TotalConnections: b.kinds.accepted[k].Load(),
		InMsgs:           closed.inMsgs.Load(),
		InBytes:          closed.inBytes.Load(),
		OutMsgs:          closed.outMsgs.Load(),
		OutBytes:         closed.outBytes.Load(),
	}
	b.mu.Lock()
	for _, c := range b.conns {
		if c.kind != k {
			continue
		}
		pc.Connections++
		pc.InMsgs += c.stats.inMsgs.Load()
		pc.InBytes += c.stats.inBytes.Load()
		pc.OutMsgs += c.stats.outMsgs.Load()
		pc.OutBytes += c.stats.outBytes.Load()
	}
	b.mu.Unlock()
	return pc
}
