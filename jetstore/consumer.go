package jetstore

import (
	"container/heap"
	"slices"
	"sync"
	"time"

	"github.com/midgemq/midge/sublist"
)

// Consumer is one consumer of a stream: its configuration, delivery
// position, pending acknowledgements and waiting pull requests. One
// goroutine per consumer does all delivery; acks and pull requests reach
// it through a small queue.
type Consumer struct {
	st      *Stream
	name    string
	created time.Time
	send    Sender
	log     *consumerLog // nil when the state lives in memory only

	mu      sync.Mutex
	cfg     ConsumerConfig
	filters []string
	match   map[string]bool // filter verdict per subject, bounded

	sseq  uint64   // next stream sequence to consider for a first delivery
	dseq  uint64   // consumer sequence of the last delivery
	dsseq uint64   // stream sequence of the last delivery (delivered.stream_seq)
	lps   []uint64 // last-per-subject sequences still to deliver, ascending

	npending    int64 // matching messages at or after sseq (lps not included)
	changePos   uint64
	changeEpoch uint64

	pending    map[uint64]*pendingMsg // delivered, not acknowledged, by stream sequence
	deadlines  deadlineHeap
	floorHeap  seqHeap
	ackFloorS  uint64
	ackFloorC  uint64
	redelivers int // pending messages delivered more than once

	waiting    []*pullRequest
	fcBytes    int      // push flow control: bytes sent since the last request
	fcOut      []uint64 // flow control requests not answered yet, oldest first
	fcNext     uint64
	lastSend   time.Time // push heartbeats
	lastActive time.Time // inactivity of ephemerals
	replayBase time.Time // replay original: when the first message was sent
	replayFrom int64     // ... and its stored time

	inbox inbox
	wake  chan struct{}
	timer *time.Timer
	quit  chan struct{}
	done  chan struct{}

	deliverTo []byte // cfg.DeliverSubject, kept as bytes for the delivery loop
}

// pendingMsg is a delivered message awaiting its acknowledgement.
type pendingMsg struct {
	cseq     uint64
	dc       int   // deliveries so far
	sent     int64 // last delivery, unix ns
	deadline int64 // redelivery due, unix ns
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
		Delivered:      SequenceInfo{Consumer: c.dseq, Stream: c.dsseq},
		AckFloor:       SequenceInfo{Consumer: c.ackFloorC, Stream: c.ackFloorS},
		NumAckPending:  len(c.pending),
		NumRedelivered: c.redelivers,
		NumWaiting:     len(c.waiting),
		NumPending:     c.numPendingLocked(),
		TS:             c.st.store.now().UTC(),
	}
	if !c.cfg.isPull() {
		info.PushBound = c.send.HasInterest(c.deliverTo)
	}
	return info
}

func (c *Consumer) numPendingLocked() uint64 {
	return uint64(max(c.npending, 0)) + uint64(len(c.lps))
}

// matches reports whether subject passes the consumer's filters.
func (c *Consumer) matches(subject string) bool {
	if len(c.filters) == 0 {
		return true
	}
	if v, ok := c.match[subject]; ok {
		return v
	}
	v := slices.ContainsFunc(c.filters, func(f string) bool { return sublist.MatchLiteral(subject, f) })
	if len(c.match) > 4096 {
		clear(c.match)
	}
	c.match[subject] = v
	return v
}

// startPositionLocked sets where delivery starts from the deliver policy.
// Called with the stream lock held (read) and the consumer lock.
func (c *Consumer) startPositionLocked() {
	st := c.st
	first, last := max(st.state.first, 1), st.state.last
	switch c.cfg.DeliverPolicy {
	case DeliverAll:
		c.sseq = first
	case DeliverLast:
		c.sseq = last + 1
		if seq := c.lastMatchingLocked(); seq > 0 {
			c.sseq = seq
		}
	case DeliverNew:
		c.sseq = last + 1
	case DeliverByStartSeq:
		c.sseq = max(c.cfg.OptStartSeq, first)
	case DeliverByStartTime:
		c.sseq = st.firstAtOrAfterLocked(c.cfg.OptStartTime.UnixNano())
	case DeliverLastPerSubject:
		c.lps = c.lastPerSubjectLocked()
		c.sseq = last + 1
	}
	c.dsseq = c.sseq - 1
	if len(c.lps) > 0 {
		c.dsseq = c.lps[0] - 1
	}
	c.ackFloorS = c.dsseq
}

func (c *Consumer) lastMatchingLocked() uint64 {
	if len(c.filters) == 0 {
		return c.st.lastLiveLocked()
	}
	var last uint64
	for _, f := range c.filters {
		last = max(last, c.st.subj.lastMatching(f))
	}
	return last
}

func (c *Consumer) lastPerSubjectLocked() []uint64 {
	var seqs []uint64
	collect := func(info *subjectInfo) { seqs = append(seqs, info.seqs[len(info.seqs)-1]) }
	if len(c.filters) == 0 {
		c.st.subj.matching(">", collect)
	}
	for _, f := range c.filters {
		c.st.subj.matching(f, collect)
	}
	slices.Sort(seqs)
	return slices.Compact(seqs)
}

// firstAtOrAfterLocked finds the first live message stored at or after ts.
func (st *Stream) firstAtOrAfterLocked(ts int64) uint64 {
	for seq := st.state.first; seq <= st.state.last; seq++ {
		if m, err := st.getLocked(seq); err == nil && m.Time.UnixNano() >= ts {
			return seq
		}
	}
	return st.state.last + 1
}

// countFromLocked counts the live messages passing the filters at or after
// from. Used at creation and when the change log cannot be replayed.
func (c *Consumer) countFromLocked(from uint64) int64 {
	st := c.st
	if len(c.filters) == 0 {
		if from <= st.state.first {
			return int64(st.state.msgs)
		}
		var n int64
		for _, b := range st.blocks {
			if !b.hasMsgs() || b.last() < from {
				continue
			}
			if b.first >= from {
				n += int64(b.live)
				continue
			}
			for _, e := range b.entries[from-b.first:] {
				if e.off != deletedOff {
					n++
				}
			}
		}
		return n
	}
	var n int64
	for _, f := range c.filters {
		st.subj.matching(f, func(info *subjectInfo) {
			i, _ := slices.BinarySearch(info.seqs, from)
			n += int64(len(info.seqs) - i)
		})
	}
	return n
}

// catchUpLocked replays the stream's changes since the last look, keeping
// npending, lps and pending exact.
func (c *Consumer) catchUpLocked() {
	st := c.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	log := st.changes
	if log == nil {
		return
	}
	if log.epoch != c.changeEpoch {
		c.recountLocked()
		return
	}
	end, ok := log.since(c.changePos, func(ch change) {
		if !c.matches(ch.subject) {
			return
		}
		if ch.add {
			if ch.seq >= c.sseq {
				c.npending++
			}
			return
		}
		if ch.seq >= c.sseq {
			c.npending--
		}
		if i, found := slices.BinarySearch(c.lps, ch.seq); found {
			c.lps = slices.Delete(c.lps, i, i+1)
		}
		c.forgetPendingLocked(ch.seq)
	})
	if !ok {
		c.recountLocked()
		return
	}
	c.changePos = end
}

// recountLocked rebuilds the counts from the stream (stream lock held).
func (c *Consumer) recountLocked() {
	st := c.st
	c.npending = c.countFromLocked(c.sseq)
	c.lps = slices.DeleteFunc(c.lps, func(seq uint64) bool { return !st.liveLocked(seq) })
	for seq := range c.pending {
		if !st.liveLocked(seq) {
			c.forgetPendingLocked(seq)
		}
	}
	c.changePos, c.changeEpoch = st.changes.next, st.changes.epoch
}

func (st *Stream) liveLocked(seq uint64) bool {
	b := st.blockFor(seq)
	return b != nil && b.entries[seq-b.first].off != deletedOff
}

// forgetPendingLocked drops a pending message that left the stream.
func (c *Consumer) forgetPendingLocked(seq uint64) {
	p, ok := c.pending[seq]
	if !ok {
		return
	}
	if p.dc > 1 {
		c.redelivers--
	}
	delete(c.pending, seq)
}

// deadlineHeap orders pending redeliveries; entries whose deadline no
// longer matches the pending message are stale and skipped.
type deadlineHeap []deadlineItem

type deadlineItem struct {
	at  int64
	seq uint64
}

func (h deadlineHeap) Len() int { return len(h) }
func (h deadlineHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h deadlineHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)   { *h = append(*h, x.(deadlineItem)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// seqHeap finds the lowest pending sequence for the ack floor.
type seqHeap []uint64

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *seqHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// setDeadlineLocked (re)arms the redelivery of a pending message.
func (c *Consumer) setDeadlineLocked(seq uint64, p *pendingMsg, at int64) {
	p.deadline = at
	heap.Push(&c.deadlines, deadlineItem{at: at, seq: seq})
}

// updateAckFloorLocked moves the ack floor up to just below the lowest
// pending message (or to the last delivery when nothing is pending).
func (c *Consumer) updateAckFloorLocked() {
	for c.floorHeap.Len() > 0 {
		if _, ok := c.pending[c.floorHeap[0]]; ok {
			break
		}
		heap.Pop(&c.floorHeap)
	}
	if c.floorHeap.Len() == 0 {
		c.ackFloorS, c.ackFloorC = c.dsseq, c.dseq
		return
	}
	low := c.floorHeap[0]
	c.ackFloorS = low - 1
	c.ackFloorC = c.pending[low].cseq - 1
}

// ackWaitFor returns the wait before redelivering after delivery number dc.
func (c *Consumer) ackWaitFor(dc int) time.Duration {
	if n := len(c.cfg.BackOff); n > 0 {
		return c.cfg.BackOff[min(dc-1, n-1)]
	}
	return c.cfg.AckWait
}
