package broker

import "sync/atomic"

// Staging: a client's read loop gathers the small messages that one read
// delivers to each other client in a chunk of its own, without that
// receiver's lock, and hands the chunk over whole: when it is full, and
// for every receiver at the end of the read. A receiver is locked once per
// run instead of once per message, and each message is copied once, into
// memory that goes to the receiver's writer as it is. Limits (the pending
// bytes of a slow consumer, the server's outbound budget, the stall of a
// fast producer) apply when a run is handed over. The first message a
// read delivers to a receiver is queued directly, as without staging: a
// run starts with the second.
//
// Order: a publisher's messages reach each receiver in the order
// published. Before the producer queues anything else for a receiver with
// a run (a payload by reference, a traced message) it hands that run over,
// and before it answers a PING it hands every run over, so that the PONG
// still follows the delivery of everything published before the PING.
// Deliveries to the publisher itself are never staged.

// stageMax bounds the messages staged; bigger ones are queued directly.
// It is the smallest chunk's size, so a staged message always fits a
// fresh chunk.
// Staging pays where the lock per message costs as much as the message's
// copy: small messages. (With 4 KiB ones the runs were slower than the
// lock: peerbench large 0.94 of the binary without staging.)
const stageMax = 1 << 10

// stagedRun is what one read delivered to one receiver so far.
type stagedRun struct {
	dst  *client
	c    *chunk // nil once handed over
	msgs int64
	size int64 // bytes counted as delivered
	tier int   // size of the next chunk: a receiver that gets more gets bigger ones

	// sub's deliveries not yet added to its count: a subscription without
	// a delivery limit is counted once per run, not with an atomic add
	// per message (the fence of which, after the copy, cost as much as
	// the copy).
	sub     *subscription
	subMsgs int64
}

// countSub adds the deliveries counted in the run to their subscription.
func (r *stagedRun) countSub() {
	if r.sub != nil {
		r.sub.delivered.Add(r.subMsgs)
		r.sub, r.subMsgs = nil, 0
	}
}

// staging is a producer's runs of the current read.
type staging struct {
	runs []stagedRun
	id   uint32 // this producer's, in the receivers' hints
	read uint16 // counts reads, in the receivers' hints

	// index finds runs when the hints do not (several producers write to
	// the same receivers); built on the first such lookup of a read.
	index   map[*client]int
	indexed bool
}

// stagingScanLimit is the number of runs searched one by one when the
// hints do not tell.
const stagingScanLimit = 8

var stagingIDs atomic.Uint32

// newStaging gives the producer an id; 0 is none (see add).
func newStaging() *staging {
	id := stagingIDs.Add(1)
	for id == 0 {
		id = stagingIDs.Add(1)
	}
	return &staging{id: id}
}

// A receiver's hint says which producer last started a run for it, in
// which read, at which index: id<<32 | read<<16 | index. A hint with this
// producer's id and another read proves that the receiver has no run in
// this read (only this producer writes its id, and it writes the hint
// whenever it starts a run), so fan-out finds its runs, and learns that a
// receiver has none, without a map.
func (s *staging) hint(i int) uint64 {
	return uint64(s.id)<<32 | uint64(s.read)<<16 | uint64(i)
}

// find returns dst's run, or nil.
func (s *staging) find(dst *client) *stagedRun {
	h := dst.stageHint.Load()
	if uint32(h>>32) == s.id {
		if uint16(h>>16) != s.read {
			return nil
		}
		if i := int(uint16(h)); i < len(s.runs) && s.runs[i].dst == dst {
			return &s.runs[i]
		}
	}
	if len(s.runs) <= stagingScanLimit {
		for i := range s.runs {
			if s.runs[i].dst == dst {
				return &s.runs[i]
			}
		}
		return nil
	}
	if !s.indexed {
		if s.index == nil {
			s.index = make(map[*client]int, 2*len(s.runs))
		}
		for j := range s.runs {
			s.index[s.runs[j].dst] = j
		}
		s.indexed = true
	}
	if i, ok := s.index[dst]; ok {
		return &s.runs[i]
	}
	return nil
}

// add starts dst's run.
func (s *staging) add(dst *client) {
	i := len(s.runs)
	s.runs = append(s.runs, stagedRun{dst: dst})
	if i <= 0xffff {
		dst.stageHint.Store(s.hint(i))
	} else {
		dst.stageHint.Store(0) // no producer's id: the next lookup asks the index
	}
	if s.indexed {
		s.index[dst] = i
	}
}

// endRead forgets the read's runs (all handed over).
func (s *staging) endRead() {
	clear(s.runs)
	s.runs = s.runs[:0]
	if s.indexed {
		clear(s.index) // kept: a producer that fanned out wide will again
		s.indexed = false
	}
	s.read++
}

// stage adds one message to dst's run; count is the subscription to
// count the delivery for, when it was not counted already. The first
// message a read delivers to dst is not staged (false): it is queued
// directly, as without staging, so that a read of one message costs what
// it did; staging pays from the second on.
func (p *producer) stage(dst *client, count *subscription, line, header, data []byte, size int) bool {
	n := len(line) + len(header) + len(data) + 2
	r := p.staged.find(dst)
	if r == nil {
		p.staged.add(dst)
		return false
	}
	if r.c != nil && cap(r.c.b)-len(r.c.b) < n {
		p.handOver(r)
	}
	if r.c == nil { // stageMax fits even the smallest chunk
		r.c = getChunk(r.tier)
		r.tier = min(r.tier+1, len(chunkSizes)-1)
	}
	b := append(r.c.b, line...)
	b = append(b, header...)
	b = append(b, data...)
	r.c.b = append(b, '\r', '\n')
	r.msgs++
	r.size += int64(size)
	if count != nil {
		if count != r.sub {
			r.countSub()
			r.sub = count
		}
		r.subMsgs++
	}
	return true
}

// handOver queues r's chunk with its receiver.
func (p *producer) handOver(r *stagedRun) {
	r.countSub()
	c, msgs, size := r.c, r.msgs, r.size
	r.c, r.msgs, r.size = nil, 0, 0
	if c == nil {
		return
	}
	ok, stall := r.dst.out.enqueueRun(c, msgs, size)
	p.queued(r.dst, ok, stall)
}

// handOverTo hands dst's run over, if it has one: the producer is about
// to queue something for dst directly.
func (p *producer) handOverTo(dst *client) {
	if p.staged == nil {
		return
	}
	if r := p.staged.find(dst); r != nil {
		p.handOver(r)
	}
}

// endRead is what follows the parse of one read: every run handed over,
// every receiver's writer woken.
func (p *producer) endRead() {
	p.handOverAll()
	p.flushes.kickAll()
}

// handOverAll hands every run over and starts the next read afresh.
func (p *producer) handOverAll() {
	s := p.staged
	if s == nil || len(s.runs) == 0 {
		return
	}
	for i := range s.runs {
		p.handOver(&s.runs[i])
	}
	s.endRead()
}
