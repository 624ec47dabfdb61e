package jscluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/jsapi"
)

// The leader of a stream's group: it takes the stream's publishes, orders
// them (jetstore.Sequencer), proposes them in batches, and acknowledges
// each publish once its entry is committed — a majority of the group has
// it fsynced in its raft log — and applied by this server's replica (so
// that a read right after the ack sees it). It also runs the stream's
// consumers and replicates their state.
//
// Proposals enter the group's log in the order they were made; several are
// in flight at once. If one fails (a leader change, an entry the group
// refused), those after it fail too; the leader then waits for every
// proposal in flight to settle and restarts its sequencer from what was
// applied.
//
// A publish the sequencer answers without proposing it (a refusal — a
// failed expectation such as a compare-and-set's expected last subject
// sequence — or a duplicate) was checked against the writes in flight
// ahead of it. Its answer waits for them: a retry of a message still in
// flight gets its original's outcome; any other answer is given once the
// writes ahead are all applied, and becomes ErrLeaderChanged if one of
// them was not (the check counted a write that never happened). So no
// client is told "wrong last sequence" or "duplicate of seq n" before the
// write that made it so is acknowledged.

const (
	maxBatchBytes   = 1 << 20
	maxBatchMsgs    = 8192
	maxInflight     = 32
	maxQueueMsgs    = 64 << 10
	maxQueueBytes   = 64 << 20
	consumerSyncDur = 250 * time.Millisecond
	// settleWait bounds how long a leader that lost its leadership waits
	// for its proposals in flight, to acknowledge those that were applied.
	settleWait = 3 * time.Second
)

// ErrLeaderChanged answers publishes whose proposal a leader change
// dropped: they were not stored, and can be sent again.
var ErrLeaderChanged = jsapi.ErrLeaderChanged

type leader struct {
	r     *replica
	group *multiraft.Group
	seq   *jetstore.Sequencer

	mu    sync.Mutex
	queue []*jetstore.InMsg
	bytes int
	wake  chan struct{}

	quit chan struct{}
	done chan struct{}

	// consumers started here for replicated consumers; lastState is what
	// was last proposed for each. Touched under r.mu.
	consumers map[string]*jetstore.Consumer
	lastState map[string]string
}

// flight is one proposal in flight and the publishes it carries: msgs[i]
// was ordered at sequence first+i. dups are retries (same message id) of
// one of them that arrived while it was in flight: they are answered with
// the original's outcome once it is known, never before — a duplicate
// acknowledged before its original is committed could name a sequence a
// new leader then gives to another message.
//
// A flight with answers (and p nil) holds refusals and duplicates of
// stored messages back until the proposals ahead of it settle: answered
// before them, a refused expectation (a compare-and-set) would describe a
// state the client cannot have seen yet.
type flight struct {
	p       *multiraft.Proposal
	msgs    []*jetstore.InMsg
	first   uint64
	dups    []dupWait
	answers []jetstore.PublishResult
}

// closedCh is ready at once: a held-back answer's turn comes as soon as it
// is the oldest in flight.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (f *flight) done() <-chan struct{} {
	if f.p == nil {
		return closedCh
	}
	return f.p.Done()
}

// dupWait is a retry waiting for the original ordered at seq.
type dupWait struct {
	m   *jetstore.InMsg
	seq uint64
}

// carries says whether f proposes the message ordered at seq.
func (f *flight) carries(seq uint64) bool {
	return f.answers == nil && len(f.msgs) > 0 && seq >= f.first && seq < f.first+uint64(len(f.msgs))
}

func newLeader(r *replica, g *multiraft.Group) *leader {
	return &leader{
		r: r, group: g, seq: r.st.NewSequencer(),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		consumers: make(map[string]*jetstore.Consumer), lastState: make(map[string]string),
	}
}

// publish queues a message captured on one of the stream's subjects. It
// never blocks; a full queue is an error the publisher is told at once.
func (l *leader) publish(m *jetstore.InMsg) error {
	select {
	case <-l.quit:
		return ErrLeaderChanged
	default:
	}
	size := len(m.Subject) + len(m.Header) + len(m.Data)
	l.mu.Lock()
	if len(l.queue) >= maxQueueMsgs || l.bytes+size > maxQueueBytes {
		l.mu.Unlock()
		return jetstore.ErrIngestQueueFull
	}
	l.queue = append(l.queue, m)
	l.bytes += size
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

func (l *leader) take() []*jetstore.InMsg {
	l.mu.Lock()
	q := l.queue
	l.queue, l.bytes = nil, 0
	l.mu.Unlock()
	return q
}

func (l *leader) stop() {
	select {
	case <-l.quit:
	default:
		close(l.quit)
	}
	<-l.done
}

// run is the proposer.
func (l *leader) run() {
	defer close(l.done)
	var inflight []*flight
	resync := false
	tick := time.NewTicker(consumerSyncDur)
	defer tick.Stop()
	for {
		var oldest <-chan struct{}
		if len(inflight) > 0 {
			oldest = inflight[0].done()
		}
		wake := l.wake
		if resync || len(inflight) >= maxInflight {
			wake = nil
		}
		select {
		case <-l.quit:
			// A leader that steps down on purpose (step-down, shutdown)
			// hands its consumers' last acks over; one that lost its
			// leadership sees the proposal refused at once.
			if p := l.syncConsumers(); p != nil {
				inflight = append(inflight, &flight{p: p})
			}
			l.settle(inflight)
			l.refuse(l.take(), ErrLeaderChanged)
			return
		case <-oldest:
			if !l.complete(inflight[0], resync) {
				resync = true
			}
			inflight = inflight[1:]
		case <-wake:
			inflight = append(inflight, l.propose(l.take(), inflight)...)
		case <-tick.C:
			l.syncConsumers()
		}
		if resync && len(inflight) == 0 {
			l.seq.Reset()
			resync = false
			select { // take what queued meanwhile
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

// propose orders msgs and proposes them in batches. Duplicates of a
// message still in flight (in inflight or in this call's batches) wait
// for it; refusals and duplicates of stored messages are answered at once
// when nothing is in flight ahead of them, else held back in order.
func (l *leader) propose(msgs []*jetstore.InMsg, inflight []*flight) []*flight {
	var out []*flight
	var batch []jetstore.ReplicatedMsg
	cur := &flight{}
	size := 0
	ahead := len(inflight) > 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		cur.p = l.group.ProposeAsync(encodeMsgs(batch))
		out = append(out, cur)
		batch, cur, size = nil, &flight{}, 0
		ahead = true
	}
	// waitFor attaches a duplicate to the flight carrying its original.
	waitFor := func(m *jetstore.InMsg, seq uint64) bool {
		if cur.carries(seq) {
			cur.dups = append(cur.dups, dupWait{m: m, seq: seq})
			return true
		}
		for _, fs := range [][]*flight{out, inflight} {
			for _, f := range fs {
				if f.carries(seq) {
					f.dups = append(f.dups, dupWait{m: m, seq: seq})
					return true
				}
			}
		}
		return false
	}
	now := time.Now()
	for _, m := range msgs {
		rm, res, ok := l.seq.Order(m, now)
		if !ok {
			if res.Duplicate && waitFor(m, res.Seq) {
				continue
			}
			if !ahead && len(batch) == 0 {
				l.r.c.ack(l.r, []*jetstore.InMsg{m}, []jetstore.PublishResult{res})
				continue
			}
			flush()
			if n := len(out); n > 0 && out[n-1].p == nil {
				out[n-1].msgs = append(out[n-1].msgs, m)
				out[n-1].answers = append(out[n-1].answers, res)
			} else {
				out = append(out, &flight{msgs: []*jetstore.InMsg{m}, answers: []jetstore.PublishResult{res}})
			}
			continue
		}
		if len(batch) == 0 {
			cur.first = rm.Seq
		}
		batch = append(batch, rm)
		cur.msgs = append(cur.msgs, m)
		size += len(rm.Subject) + len(rm.Header) + len(rm.Data)
		if size >= maxBatchBytes || len(batch) >= maxBatchMsgs {
			flush()
		}
	}
	flush()
	return out
}

// complete acknowledges a settled proposal's publishes and the retries
// waiting for them, or gives held-back answers (ErrLeaderChanged instead
// when void: a proposal ahead of them was not applied); false when it was
// not applied (the sequencer must restart).
func (l *leader) complete(f *flight, void bool) bool {
	if f.p == nil {
		if void {
			l.refuse(f.msgs, ErrLeaderChanged)
			return false
		}
		l.r.c.ack(l.r, f.msgs, f.answers)
		return true
	}
	res, err := f.p.Result()
	results := make([]jetstore.PublishResult, len(f.msgs))
	mr, applied := res.(msgsResult)
	switch {
	case err == nil && applied:
		for i := range results {
			results[i] = jetstore.PublishResult{Seq: mr.first + uint64(i)}
		}
		l.r.c.ack(l.r, f.msgs, results)
		for _, d := range f.dups {
			res := jetstore.PublishResult{Seq: mr.first + (d.seq - f.first), Duplicate: true}
			l.r.c.ack(l.r, []*jetstore.InMsg{d.m}, []jetstore.PublishResult{res})
		}
		return true
	case err == nil || errors.Is(err, multiraft.ErrDropped) || errors.Is(err, multiraft.ErrNotLeader):
		// Refused (errStale) or dropped: certainly not stored, nor are
		// the originals the waiting duplicates name.
		l.refuse(f.msgs, ErrLeaderChanged)
		for _, d := range f.dups {
			l.refuse([]*jetstore.InMsg{d.m}, ErrLeaderChanged)
		}
	default:
		// Stopped: perhaps stored by the others. Say nothing; the
		// publisher times out and asks again (deduplicated by its id).
	}
	return false
}

func (l *leader) refuse(msgs []*jetstore.InMsg, err error) {
	if len(msgs) == 0 {
		return
	}
	results := make([]jetstore.PublishResult, len(msgs))
	for i := range results {
		results[i] = jetstore.PublishResult{Err: err}
	}
	l.r.c.ack(l.r, msgs, results)
}

// settle waits (bounded) for the proposals in flight of a leader that is
// stepping down and acknowledges those that were applied.
func (l *leader) settle(inflight []*flight) {
	deadline := time.NewTimer(settleWait)
	defer deadline.Stop()
	void := false
	for _, f := range inflight {
		select {
		case <-f.done():
			if !l.complete(f, void) {
				void = true
			}
		case <-deadline.C:
			return
		}
	}
}

// syncConsumers proposes the state of the replicated consumers that
// changed since it was last proposed; nil when none did.
func (l *leader) syncConsumers() *multiraft.Proposal {
	r := l.r
	r.mu.Lock()
	var states map[string]string
	for name, c := range l.consumers {
		s := string(c.ExportState())
		if l.lastState[name] == s {
			continue
		}
		if states == nil {
			states = make(map[string]string)
		}
		states[name] = s
		l.lastState[name] = s
	}
	r.mu.Unlock()
	if states == nil {
		return nil
	}
	raw := make(map[string]json.RawMessage, len(states))
	for k, v := range states {
		raw[k] = json.RawMessage(v)
	}
	return l.group.ProposeAsync(encodeJSON(opStates, raw))
}

// startConsumer starts (or updates) a replicated consumer on the leader
// from its record. Called with r.mu held.
func (l *leader) startConsumer(name string, rec *consumerRec, action string) (*jetstore.Consumer, error) {
	st := l.r.st
	local := rec.Config
	local.MemoryStorage = true // its state is the group's, not the store's
	if c, err := st.Consumer(name); err == nil {
		c2, _, err := st.AddConsumer(local, jetstore.ActionCreateOrUpdate)
		if err != nil {
			return c, err
		}
		l.consumers[name] = c2
		return c2, nil
	}
	_ = action
	c, err := st.RestoreConsumer(local, rec.Created, rec.State)
	if err != nil {
		return nil, err
	}
	l.consumers[name] = c
	l.lastState[name] = string(rec.State)
	return c, nil
}

// configChanged follows an applied configuration on the leader: the
// subscriptions follow the subjects, and an update request is answered.
func (l *leader) configChanged(reply string) {
	r := l.r
	go func() {
		if err := r.c.js.ResubscribeReplicated(r.c.account(r.account), r.name); err != nil {
			r.c.log.Warn("resubscribing stream", "stream", r.name, "error", err)
		}
		if reply != "" {
			r.c.respondInfo(r, reply, false, true)
		}
	}()
}

// proposeWait proposes one control entry and waits for it to be applied.
func (l *leader) proposeWait(ctx context.Context, data []byte) (any, error) {
	return l.group.Propose(ctx, data)
}
