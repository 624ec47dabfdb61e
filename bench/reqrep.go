package bench

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// runReqRep measures request/reply: each requester sends its requests one
// after the other and times each round trip; the responders share a queue
// group, so every request is answered exactly once, with its own payload.
// With NoResponders the requests go to responders running elsewhere.
func runReqRep(r *run) error {
	reqs := r.meters("requesters", "request round trip", r.cfg.Pubs)
	var reps []*meter
	if !r.cfg.NoResponders {
		reps = r.meters("responders", "", r.cfg.Subs)
	}
	for i, m := range reps {
		nc, err := r.connect("responder-" + strconv.Itoa(i+1))
		if err != nil {
			return err
		}
		s, err := nc.QueueSubscribe(r.cfg.Subject, queueGroup, func(msg *nats.Msg) {
			m.received(time.Now(), len(msg.Data), -1)
			if err := msg.Respond(msg.Data); err != nil {
				r.fail("responder: %v", err)
			}
		})
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
	ncs, err := r.connectN("requester", r.cfg.Pubs)
	if err != nil {
		return err
	}
	total := r.phaseTotal()
	r.samp.setPhase("request", total, reqs)
	shares := perClient(r.cfg.Msgs, len(ncs))
	failed := make([]int64, len(ncs))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, nc := range ncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			failed[i] = r.request(nc, reqs[i], shares[i])
		}()
	}
	close(gate)
	wg.Wait()
	answered := sum(reqs)
	var lost int64
	for _, f := range failed {
		lost += f
	}
	r.account(answered+lost, answered)
	if served := sum(reps); reps != nil && served > answered+lost {
		r.fail("responders served %d requests, %d were sent", served, answered+lost)
	}
	return nil
}

// request sends n sequential requests (or requests until the duration is
// over) and returns how many got no reply. A requester stops at the first
// failure: its connection is then in an unknown state.
func (r *run) request(nc *nats.Conn, m *meter, n int) (failed int64) {
	payload := make([]byte, r.cfg.Size)
	start := time.Now()
	deadline := r.deadline()
	if !deadline.IsZero() {
		n = math.MaxInt
	}
	for i := 0; i < n && !r.stopping(deadline); i++ {
		t0 := time.Now()
		reply, err := nc.Request(r.cfg.Subject, payload, r.cfg.Timeout)
		if err != nil {
			r.fail("%s: request: %v", m.role, err)
			failed = 1
			break
		}
		m.observe(time.Since(t0))
		if len(reply.Data) != len(payload) && !r.cfg.NoResponders {
			r.fail("%s: reply of %d bytes to a %d-byte request", m.role, len(reply.Data), len(payload))
		}
		m.n.Add(1)
	}
	m.sent(start, time.Now(), m.count(), r.cfg.Size)
	return failed
}
