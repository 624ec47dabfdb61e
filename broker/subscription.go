package broker

import "sync/atomic"

// MsgHandler receives the messages of an internal subscription (one the
// server itself holds, e.g. for JetStream). The slices are borrowed from the
// publisher's read buffer and only valid during the call.
type MsgHandler func(subject, reply, header, data []byte)

// TracedHandler receives the traced messages of an internal subscription
// that takes part in message tracing (SubscribeTraced) instead of its
// MsgHandler, with the trace to add its part to.
type TracedHandler func(t *MsgTrace, subject, reply, header, data []byte)

// subscription is one SUB of a client, an internal subscription of the
// server when handler (or from) is set, or a remote server's interest when
// remote is set; client is nil but for a client's.
type subscription struct {
	client  *client
	handler MsgHandler
	from    OriginHandler // instead of handler, for SubscribeLocalFrom
	traced  TracedHandler // set for internal subscriptions that trace
	remote  *Remote
	// weight is, for a remote queue subscription, how many members the
	// remote server has in the group.
	weight atomic.Int32
	// local marks an internal subscription that is not announced to other
	// servers.
	local   bool
	subject string
	queue   string
	sid     []byte // echoed verbatim in MSG/HMSG

	// deny lists the subscriber's deny-subscribe entries this (wildcard or
	// queue) subscription overlaps: matching messages are not delivered.
	// Nil when there are none; a reload replaces it while publishers read.
	deny atomic.Pointer[denyFilter]

	// delivered counts messages handed to this subscription; max, when
	// positive, is the UNSUB limit on that count. Both are touched by every
	// publisher that delivers here, hence atomic.
	delivered atomic.Int64
	max       atomic.Int64
}

// claim counts one delivery and reports whether it is allowed and whether it
// was the last one the subscription may take.
func (s *subscription) claim() (ok, last bool) {
	n := s.delivered.Add(1)
	max := s.max.Load()
	if max <= 0 {
		return true, false
	}
	return n <= max, n == max
}

// weightOf is the subscription's share in its queue group's random choice.
func (s *subscription) weightOf() int {
	if s.remote == nil {
		return 1
	}
	return max(int(s.weight.Load()), 1)
}
