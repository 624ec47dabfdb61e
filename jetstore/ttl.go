package jetstore

import (
	"container/heap"
	"time"
)

// ttlIndex holds the messages stored with a time to live, ordered by when
// they expire. It is rebuilt on recovery from the stored headers (through
// Headers.MessageTTL), so nothing of it is written to disk. Entries of
// messages removed in the meantime are dropped when they come due.
//
// Guarded by Stream.mu.
type ttlIndex struct {
	h ttlHeap
}

type ttlEntry struct {
	expires int64 // unix ns
	seq     uint64
}

type ttlHeap []ttlEntry

func (h ttlHeap) Len() int { return len(h) }
func (h ttlHeap) Less(i, j int) bool {
	return h[i].expires < h[j].expires || h[i].expires == h[j].expires && h[i].seq < h[j].seq
}
func (h ttlHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *ttlHeap) Push(x any)   { *h = append(*h, x.(ttlEntry)) }
func (h *ttlHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// add registers seq, stored at ts, to expire after ttl; a ttl that is not
// positive never expires the message on its own.
func (x *ttlIndex) add(seq uint64, ts int64, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	heap.Push(&x.h, ttlEntry{expires: ts + int64(ttl), seq: seq})
}

// next is when the earliest entry expires, or zero when none is left.
func (x *ttlIndex) next() int64 {
	if len(x.h) == 0 {
		return 0
	}
	return x.h[0].expires
}

// due removes and returns the sequences expired by now, in expiry order.
func (x *ttlIndex) due(now int64) []uint64 {
	var out []uint64
	for len(x.h) > 0 && x.h[0].expires <= now {
		out = append(out, heap.Pop(&x.h).(ttlEntry).seq)
	}
	return out
}

// reset forgets every entry (before a rebuild).
func (x *ttlIndex) reset() { x.h = nil }
