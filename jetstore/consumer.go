package jetstore

import (
	"slices"
	"sync"
	"time"

	"github.com/midgemq/midge/sublist"
)

// Consumer is one consumer of a stream. Its state is four parts, each in a
// file of its own:
//
//   - cursor (consumer_cursor.go): where delivery stands in the stream and
//     how many matching messages are left;
//   - ackTracker (consumer_acks.go): delivered messages awaiting their
//     acknowledgement, their redelivery deadlines, the ack floor;
//   - pullQueue (consumer_pull.go): the waiting pull requests;
//   - pushFlow (consumer_push.go): a push consumer's heartbeats and flow
//     control.
//
// One goroutine per consumer (consumer_deliver.go) does all delivery; acks
// and pull requests reach it through its inbox (consumer_inbox.go), its
// output leaves through its Sender (consumer_output.go), and a durable's
// state goes to its log (consumer_state.go).
//
// Locking: mu guards the configuration, the filter and all four parts.
// The consumer's goroutine holds it for a whole pass, taking the stream
// lock (read) inside it to read messages; the order is always Consumer.mu,
// then Stream.mu (see stream.go). The inbox has a lock of its own, taken
// alone, so that clients never wait for a pass.
type Consumer struct {
	st      *Stream
	name    string
	created time.Time
	send    Sender
	log     *consumerLog // nil when the state lives in memory only; guarded by mu

	mu         sync.Mutex
	cfg        ConsumerConfig
	filter     subjectFilter
	cur        cursor
	acks       ackTracker
	pulls      pullQueue
	push       pushFlow
	lastActive time.Time // last sign of interest, for the inactive threshold

	inbox inbox
	wake  chan struct{}
	timer *time.Timer
	quit  chan struct{}
	done  chan struct{}

	quitOnce sync.Once // guards close(quit): see signalQuit

	deliverTo []byte // cfg.DeliverSubject, kept as bytes for the delivery loop
}

// ConsumerInfo is a consumer's info in the JetStream API's JSON shape.
type ConsumerInfo struct {
	Stream         string         `json:"stream_name"`
	Name           string         `json:"name"`
	Created        time.Time      `json:"created"`
	Config         ConsumerConfig `json:"config"`
	Delivered      SequenceInfo   `json:"delivered"`
	AckFloor       SequenceInfo   `json:"ack_floor"`
	NumAckPending  int            `json:"num_ack_pending"`
	NumRedelivered int            `json:"num_redelivered"`
	NumWaiting     int            `json:"num_waiting"`
	NumPending     uint64         `json:"num_pending"`
	PushBound      bool           `json:"push_bound,omitempty"`
	TS             time.Time      `json:"ts"`
}

// SequenceInfo is a consumer and stream sequence pair.
type SequenceInfo struct {
	Consumer   uint64     `json:"consumer_seq"`
	Stream     uint64     `json:"stream_seq"`
	LastActive *time.Time `json:"last_active,omitempty"`
}

// Name is the consumer's name.
func (c *Consumer) Name() string { return c.name }

// Config returns the consumer's configuration.
func (c *Consumer) Config() ConsumerConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

// Info returns the consumer's state.
func (c *Consumer) Info() ConsumerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.catchUpLocked()
	info := ConsumerInfo{
		Stream:         c.st.Name(),
		Name:           c.name,
		Created:        c.created,
		Config:         c.cfg,
		Delivered:      SequenceInfo{Consumer: c.cur.dseq, Stream: c.cur.dsseq},
		AckFloor:       SequenceInfo{Consumer: c.acks.floorC, Stream: c.acks.floorS},
		NumAckPending:  c.acks.count(),
		NumRedelivered: c.acks.redelivered,
		NumWaiting:     c.pulls.len(),
		NumPending:     c.cur.pending(),
		TS:             c.st.store.now().UTC(),
	}
	if !c.cfg.isPull() {
		info.PushBound = c.send.HasInterest(c.deliverTo)
	}
	return info
}

// ackWaitFor returns the wait before redelivering after delivery number dc.
func (c *Consumer) ackWaitFor(dc int) time.Duration {
	if n := len(c.cfg.BackOff); n > 0 {
		return c.cfg.BackOff[min(dc-1, n-1)]
	}
	return c.cfg.AckWait
}

// hasAcked reports whether this consumer is done with seq (for interest
// retention): acknowledged, or never going to see it.
func (c *Consumer) hasAcked(seq uint64, subject string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.filter.matches(subject) {
		return true
	}
	return !c.cur.owes(seq) && !c.acks.has(seq)
}

// subjectFilter is a consumer's filter subjects (none: every subject) with
// a bounded cache of verdicts per stored subject.
type subjectFilter struct {
	subjects []string
	match    map[string]bool
}

func newSubjectFilter(subjects []string) subjectFilter {
	return subjectFilter{subjects: subjects, match: make(map[string]bool)}
}

// all reports whether the filter lets every subject through.
func (f *subjectFilter) all() bool { return len(f.subjects) == 0 }

// matches reports whether subject passes the filter.
func (f *subjectFilter) matches(subject string) bool {
	if f.all() {
		return true
	}
	if v, ok := f.match[subject]; ok {
		return v
	}
	v := slices.ContainsFunc(f.subjects, func(p string) bool { return sublist.MatchLiteral(subject, p) })
	if len(f.match) > 4096 {
		clear(f.match)
	}
	f.match[subject] = v
	return v
}

// literal reports whether every filter subject is free of wildcards.
func (f *subjectFilter) literal() bool {
	return !f.all() && !slices.ContainsFunc(f.subjects, func(p string) bool { return !sublist.IsLiteral(p) })
}
