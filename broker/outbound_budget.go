package broker

import (
	"sync/atomic"

	"github.com/midgemq/midge/config"
)

// The server-wide cap on outbound memory (Options.MaxOutboundMemory).
// Every client's queue is bounded by max_pending, but thousands of clients
// each somewhat behind can together hold more memory than the machine
// has. The budget counts the bytes queued to all clients. While queuing a
// message would take the total past the cap, each client's pending limit
// drops to 1/pressureShare of the cap (at least pressureFloor): a client
// further behind than that is a slow consumer and is closed, as when it
// passes its own max_pending. Clients keeping up (nothing queued, or less
// than that) are untouched, the ones holding the memory go first, and the
// total stays within the cap plus that much per client still connected.
// Protocol replies (PONG, -ERR) are counted but never refused.

// pressureShare and pressureFloor set a client's pending limit while the
// server is over its cap: cap/pressureShare, and never below the floor.
const (
	pressureShare = 64
	pressureFloor = 1 << 20
)

// outboundBudget is shared by every connection's outbound queue.
type outboundBudget struct {
	opts *atomic.Pointer[config.Options] // the limit, as reloads change it
	used atomic.Int64
}

// limit is the cap in force; 0 or less is none.
func (b *outboundBudget) limit() int64 {
	if b == nil {
		return 0
	}
	return b.opts.Load().MaxOutboundMemory
}

// OutboundMemory is the bytes queued to all clients and not yet written
// (counted only while max_outbound_memory is set).
func (b *Broker) OutboundMemory() int64 { return b.outBudget.used.Load() }

// admit counts n more bytes for o against the budget; refuse says whether
// the message may be refused (a protocol reply may not). Called with o.mu
// held; false means the message must not be queued.
func (o *outbound) admit(n int64, refuse bool) bool {
	limit := o.budget.limit()
	if limit <= 0 {
		return true
	}
	if refuse && o.pending > 0 && o.pending+n > pressureLimit(limit) && o.budget.used.Load()+n > limit {
		return false
	}
	o.counted += n
	o.budget.used.Add(n)
	return true
}

// uncount gives back up to n counted bytes once they were written or
// dropped. Called with o.mu held.
func (o *outbound) uncount(n int64) {
	if d := min(n, o.counted); d > 0 {
		o.counted -= d
		o.budget.used.Add(-d)
	}
}

// pressureLimit is a client's pending limit while the server is over cap.
func pressureLimit(cap int64) int64 { return max(cap/pressureShare, pressureFloor) }
