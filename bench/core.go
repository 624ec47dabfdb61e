package bench

import (
	"encoding/binary"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Core NATS scenarios: publishers, subscribers, fan-out/in and queue groups.
//
// Publishers stamp their send time (UnixNano, little endian) into the first
// eight payload bytes when the payload has room, and subscribers turn it
// into an end-to-end latency. Subscribers are confirmed subscribed (a flush
// round trip on their connection) before any publisher starts, and all
// publishers start together.

const (
	queueGroup   = "midge-bench"
	stampBytes   = 8
	pendingBytes = 512 << 20 // per subscription, before nats.go drops messages
)

func runPub(r *run) error {
	pubs := r.meters("publishers", "", r.cfg.Pubs)
	ncs, err := r.connectN("pub", r.cfg.Pubs)
	if err != nil {
		return err
	}
	r.publishAll(ncs, pubs, false)
	return nil
}

func runSub(r *run) error {
	subs := r.meters("subscribers", "", r.cfg.Subs)
	if err := r.subscribeAll(subs, false, false); err != nil {
		return err
	}
	if r.cfg.Ready != nil {
		r.cfg.Ready()
	}
	want := int64(r.cfg.Msgs) * int64(r.cfg.Subs)
	r.samp.setPhase("receive", want, subs)
	// The publisher is someone else: give them a minute to start.
	if !r.waitStart(subs, max(time.Minute, r.cfg.Timeout)) {
		r.fail("no message arrived on %q", r.cfg.Subject)
		r.account(want, 0)
		return nil
	}
	if r.cfg.Duration > 0 {
		got := r.waitDuration(subs, want, r.cfg.Duration)
		r.account(got, got) // the count expected is unknown
		return nil
	}
	r.account(want, r.waitFor(subs, want))
	return nil
}

// runPubSub covers pubsub, fanout, fanin and queue.
func runPubSub(r *run, queue bool) error {
	stamp := r.cfg.Size >= stampBytes
	kind := ""
	if stamp {
		kind = "end-to-end"
	}
	pubs := r.meters("publishers", "", r.cfg.Pubs)
	subs := r.meters("subscribers", kind, r.cfg.Subs)
	if err := r.subscribeAll(subs, queue, stamp); err != nil {
		return err
	}
	ncs, err := r.connectN("pub", r.cfg.Pubs)
	if err != nil {
		return err
	}
	published := r.publishAll(ncs, pubs, stamp)
	want := published * int64(r.cfg.Subs)
	if queue {
		want = published
	}
	r.samp.setPhase("receive", want, subs)
	got := r.waitFor(subs, want)
	if got > want {
		r.fail("%d more deliveries than expected (duplicates)", got-want)
	}
	r.account(want, got)
	return nil
}

// subscribeAll connects one client per meter, subscribes it to the subject
// (in one queue group when queue is set) and confirms the subscription with
// a flush round trip.
func (r *run) subscribeAll(ms []*meter, queue, stamped bool) error {
	for i, m := range ms {
		nc, err := r.connect(m.role + "-" + strconv.Itoa(i+1))
		if err != nil {
			return err
		}
		var s *nats.Subscription
		if queue {
			s, err = nc.QueueSubscribe(r.cfg.Subject, queueGroup, r.receiver(m, stamped))
		} else {
			s, err = nc.Subscribe(r.cfg.Subject, r.receiver(m, stamped))
		}
		if err != nil {
			return err
		}
		if err := r.limitPending(s); err != nil {
			return err
		}
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) limitPending(s *nats.Subscription) error {
	r.watchSub(s)
	msgs := -1
	if r.cfg.pendingLimit > 0 {
		msgs = r.cfg.pendingLimit
	}
	return s.SetPendingLimits(msgs, pendingBytes)
}

// receiver is a core subscriber's message handler.
func (r *run) receiver(m *meter, stamped bool) nats.MsgHandler {
	hook := r.cfg.onReceive
	return func(msg *nats.Msg) {
		if hook != nil {
			hook()
		}
		now := time.Now()
		lat := time.Duration(-1)
		if stamped && len(msg.Data) >= stampBytes {
			lat = time.Duration(now.UnixNano() - int64(binary.LittleEndian.Uint64(msg.Data)))
		}
		m.received(now, len(msg.Data), lat)
	}
}

// publishAll runs one publisher per connection, all released at once, and
// returns how many messages they sent.
func (r *run) publishAll(ncs []*nats.Conn, ms []*meter, stamp bool) int64 {
	total := r.phaseTotal()
	r.samp.setPhase("publish", total, ms)
	shares := perClient(r.cfg.Msgs, len(ncs))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, nc := range ncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			r.publish(nc, ms[i], shares[i], stamp)
		}()
	}
	close(gate)
	wg.Wait()
	return sum(ms)
}

// publish sends n messages, or as many as fit in the configured duration,
// then flushes so the server has seen them all before the clock stops.
func (r *run) publish(nc *nats.Conn, m *meter, n int, stamp bool) {
	payload := make([]byte, r.cfg.Size)
	start := time.Now()
	deadline := r.deadline()
	if !deadline.IsZero() {
		n = math.MaxInt
	}
	for i := 0; i < n; i++ {
		if stamp {
			binary.LittleEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		}
		if err := nc.Publish(r.cfg.Subject, payload); err != nil {
			r.fail("%s: publish: %v", m.role, err)
			break
		}
		m.n.Add(1)
		if i&255 == 255 && r.stopping(deadline) {
			break
		}
	}
	if err := nc.Flush(); err != nil {
		r.fail("%s: flush: %v", m.role, err)
	}
	m.sent(start, time.Now(), m.count(), r.cfg.Size)
}

// stopping reports whether a sender should stop: the run was cancelled or
// its duration is over.
func (r *run) stopping(deadline time.Time) bool {
	return r.ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline))
}

// waitStart polls until the first message arrives; false after limit.
func (r *run) waitStart(ms []*meter, limit time.Duration) bool {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	end := time.Now().Add(limit)
	for sum(ms) == 0 {
		if time.Now().After(end) || r.ctx.Err() != nil {
			return false
		}
		<-t.C
	}
	return true
}

// waitDuration polls until want messages arrived or d has passed.
func (r *run) waitDuration(ms []*meter, want int64, d time.Duration) int64 {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	end := time.Now().Add(d)
	for sum(ms) < want && time.Now().Before(end) && r.ctx.Err() == nil {
		<-t.C
	}
	return sum(ms)
}
