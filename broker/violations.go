package broker

import (
	"errors"
	"sync/atomic"

	"github.com/midgemq/midge/parser"
)

// Violations count, since the server started, the clients refused or cut
// off by authentication, permissions and limits (slow consumers are in
// Stats.SlowConsumers).
type Violations struct {
	AuthFailures         int64 // bad credentials or an operation before CONNECT
	AuthTimeouts         int64
	PublishDenied        int64 // publish permission violations
	SubscribeDenied      int64 // subscribe permission violations
	MaxConnections       int64 // connections refused at max_connections
	MaxSubscriptions     int64 // SUBs refused at max_subscriptions
	MaxPayload           int64 // connections closed for max_payload
	MaxControlLine       int64 // connections closed for max_control_line
	StaleConnections     int64 // closed after ping_max unanswered PINGs
	TLSHandshakeFailures int64 // including plaintext clients on a TLS port
}

type violationCounters struct {
	authFailures, authTimeouts           atomic.Int64
	publishDenied, subscribeDenied       atomic.Int64
	maxConnections, maxSubscriptions     atomic.Int64
	maxPayload, maxControlLine           atomic.Int64
	staleConnections, tlsHandshakeFailed atomic.Int64
}

func (v *violationCounters) snapshot() Violations {
	return Violations{
		AuthFailures:         v.authFailures.Load(),
		AuthTimeouts:         v.authTimeouts.Load(),
		PublishDenied:        v.publishDenied.Load(),
		SubscribeDenied:      v.subscribeDenied.Load(),
		MaxConnections:       v.maxConnections.Load(),
		MaxSubscriptions:     v.maxSubscriptions.Load(),
		MaxPayload:           v.maxPayload.Load(),
		MaxControlLine:       v.maxControlLine.Load(),
		StaleConnections:     v.staleConnections.Load(),
		TLSHandshakeFailures: v.tlsHandshakeFailed.Load(),
	}
}

// countProtocolError counts the parser's limit violations.
func (v *violationCounters) countProtocolError(err error) {
	switch {
	case errors.Is(err, parser.ErrMaxPayload):
		v.maxPayload.Add(1)
	case errors.Is(err, parser.ErrMaxControlLine):
		v.maxControlLine.Add(1)
	}
}

// Violation names a counter of Violations that adapters may add to.
type Violation uint8

const (
	ViolationAuthFailure Violation = iota
	ViolationAuthTimeout
	ViolationStale
	ViolationMaxPayload
	ViolationPublishDenied
	ViolationSubscribeDenied
)
