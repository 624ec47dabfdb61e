package broker

import (
	"net"
	"sync"
	"time"
)

// Outbound data to one client lives in pooled fixed-size chunks. Producers
// (the read loops of publishing clients) copy messages into the chunks under
// the destination's lock, or, for runs of small messages, into a chunk of
// their own that they hand over whole (staging.go); a large payload still in
// the producer's read buffer is queued by reference instead (readbuf.go),
// its own chunk pointing into that buffer. The destination's writer goroutine swaps the chunk list
// out, releases the lock and writes everything with one writev under a
// deadline. A destination whose queued bytes pass the limit is a slow
// consumer: the producer is told, and the producer never waits for it.

// Chunk sizes grow with the amount queued: a client that gets a PONG now and
// then holds 1 KiB at most, a busy subscriber works in 64 KiB pieces.
var chunkSizes = [...]int{1 << 10, 8 << 10, 64 << 10}

// chunk is a piece of outbound data: pooled memory the queue owns, or, with
// ref set, a payload in a producer's read buffer that the chunk holds a
// reference on (pin is what that counted against the queue's pinned bytes).
type chunk struct {
	b   []byte
	ref *readBuf
	pin int64
}

var (
	chunkPools [len(chunkSizes)]sync.Pool
	refChunks  sync.Pool // chunks of referenced payloads, without memory of their own
)

func getChunk(tier int) *chunk {
	if c, ok := chunkPools[tier].Get().(*chunk); ok {
		return c
	}
	return &chunk{b: make([]byte, 0, chunkSizes[tier])}
}

func putChunk(c *chunk) {
	if c.ref != nil {
		c.ref.release()
		c.b, c.ref, c.pin = nil, nil, 0
		refChunks.Put(c)
		return
	}
	for tier, size := range chunkSizes {
		if cap(c.b) == size {
			c.b = c.b[:0]
			chunkPools[tier].Put(c)
			return
		}
	}
}

// outbound is the queue of bytes waiting to be written to one client.
type outbound struct {
	mu      sync.Mutex
	chunks  []*chunk
	pending int64 // queued plus being written; what the slow-consumer limit counts
	limit   int64
	closed  bool

	// pinned is the size of the read buffers that queued references keep
	// alive, counted once per run of references into the same buffer. It is
	// bounded (pinLimit), so a consumer that falls behind cannot hold far
	// more memory than its pending bytes say; past the bound payloads are
	// copied.
	pinned  int64
	lastPin *readBuf

	// budget is the server-wide cap (outbound_budget.go); counted is what
	// this queue has counted against it. budget may be nil.
	budget  *outboundBudget
	counted int64

	// stall is non-nil while pending is above three quarters of the limit;
	// the writer closes it once it catches up. Producers wait on it briefly,
	// which slows a fast publisher (and, through TCP, its socket) before the
	// consumer is lost to the limit.
	stall chan struct{}

	// signal wakes the writer; capacity 1 so that any number of producers
	// coalesce into one wake-up.
	signal chan struct{}

	// stats are the connection's counters; their out fields are written
	// only under mu (see countOut), so a delivery counts itself without
	// an atomic read-modify-write. nil counts nothing.
	stats *connStats
}

func newOutbound(limit int64, budget *outboundBudget, stats *connStats) outbound {
	return outbound{limit: limit, budget: budget, stats: stats, signal: make(chan struct{}, 1)}
}

// countOut adds msgs messages and size bytes to the out counters. Called
// with o.mu held: the lock makes each connection's out counters single
// writer, so a plain load and store suffice (readers still load them
// atomically, from any goroutine).
func (o *outbound) countOut(msgs, size int64) {
	if o.stats == nil {
		return
	}
	o.stats.outMsgs.Store(o.stats.outMsgs.Load() + msgs)
	o.stats.outBytes.Store(o.stats.outBytes.Load() + size)
}

// enqueueMsg queues line, header, data and a CRLF as one message and counts
// it as size bytes delivered (a negative size: not counted). A large data
// inside rb (the producer's read buffer, nil for none) is queued by
// reference. It returns false, queuing nothing, when that would pass the
// pending limit, and the stall gate when the queue is running high.
func (o *outbound) enqueueMsg(line, header, data []byte, rb *readBuf, size int) (ok bool, stall <-chan struct{}) {
	n := int64(len(line) + len(header) + len(data) + 2)
	o.mu.Lock()
	if queue, ok := o.acceptLocked(n); !queue {
		o.mu.Unlock()
		return ok, nil
	}
	if size >= 0 {
		o.countOut(1, int64(size))
	}
	if !o.appendToTail(n, line, header, data) {
		o.copyIn(line)
		o.copyIn(header)
		if len(data) < zeroCopyMin || !o.reference(data, rb) {
			o.copyIn(data)
		}
		o.copyIn(crlf)
	}
	stall = o.stallGateLocked()
	o.mu.Unlock()
	return true, stall
}

// acceptLocked counts n more bytes of deliveries as pending, when they
// are to be queued (queue): not for a client that is gone (ok: nothing to
// deliver to), nor past the pending limit or the outbound budget (not ok).
func (o *outbound) acceptLocked(n int64) (queue, ok bool) {
	if o.closed || o.pending+n > o.limit || !o.admit(n, true) {
		return false, o.closed
	}
	o.pending += n
	return true, true
}

// stallGateLocked is the gate producers wait on while the queue runs high
// (nil while it does not), made when the queue passes the threshold.
func (o *outbound) stallGateLocked() <-chan struct{} {
	if o.pending > o.stallThreshold() && o.stall == nil {
		o.stall = make(chan struct{})
	}
	return o.stall
}

// enqueueRun queues a run of whole messages a producer gathered in c
// (staging.go), msgs messages counted as size bytes delivered, as one
// unit, and takes c over. Limits and results are enqueueMsg's.
func (o *outbound) enqueueRun(c *chunk, msgs, size int64) (ok bool, stall <-chan struct{}) {
	n := int64(len(c.b))
	o.mu.Lock()
	queue, ok := o.acceptLocked(n)
	if !queue {
		o.mu.Unlock()
		putChunk(c)
		return ok, nil
	}
	o.countOut(msgs, size)
	// A short run joins the tail when it fits, so that a receiver of a
	// message now and then does not collect a chunk per message.
	if tail := o.tailWithRoom(n); tail != nil && n <= int64(chunkSizes[0]) {
		tail.b = append(tail.b, c.b...)
		putChunk(c)
	} else {
		o.chunks = append(o.chunks, c)
	}
	stall = o.stallGateLocked()
	o.mu.Unlock()
	return true, stall
}

func (o *outbound) stallThreshold() int64 { return o.limit / 4 * 3 }

func (o *outbound) pinLimit() int64 { return o.limit / 4 }

// reference queues data as a chunk pointing into rb, when rb holds it and
// the pinned bound allows. Called with o.mu held.
func (o *outbound) reference(data []byte, rb *readBuf) bool {
	if !rb.contains(data) {
		return false
	}
	var pin int64
	if rb != o.lastPin {
		pin = int64(len(rb.b))
		if o.pinned+pin > o.pinLimit() {
			return false
		}
		o.pinned += pin
		o.lastPin = rb
	}
	rb.retain()
	c, _ := refChunks.Get().(*chunk)
	if c == nil {
		c = &chunk{}
	}
	c.b, c.ref, c.pin = data[:len(data):len(data)], rb, pin
	o.chunks = append(o.chunks, c)
	return true
}

// releaseStall opens the stall gate. Called with o.mu held.
func (o *outbound) releaseStall() {
	if o.stall != nil {
		close(o.stall)
		o.stall = nil
	}
}

// enqueue queues raw protocol bytes (PONG, +OK, -ERR, INFO, ...).
func (o *outbound) enqueue(b []byte) bool {
	n := int64(len(b))
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return true
	}
	if o.pending+n > o.limit {
		o.mu.Unlock()
		return false
	}
	o.admit(n, false)
	o.pending += n
	o.copyIn(b)
	o.mu.Unlock()
	return true
}

var crlf = []byte("\r\n")

// appendToTail copies a whole small message (n bytes: line, header, data,
// CRLF) into the tail chunk when it has room, the common case of a busy
// subscriber, and reports whether it did. Called with o.mu held.
func (o *outbound) appendToTail(n int64, line, header, data []byte) bool {
	if len(data) >= zeroCopyMin {
		return false
	}
	tail := o.tailWithRoom(n)
	if tail == nil {
		return false
	}
	b := append(tail.b, line...)
	b = append(b, header...)
	b = append(b, data...)
	tail.b = append(b, '\r', '\n')
	return true
}

// tailWithRoom is the tail chunk when it is pooled memory with room for n
// more bytes, or nil. Called with o.mu held.
func (o *outbound) tailWithRoom(n int64) *chunk {
	k := len(o.chunks)
	if k == 0 {
		return nil
	}
	if tail := o.chunks[k-1]; tail.ref == nil && int64(cap(tail.b)-len(tail.b)) >= n {
		return tail
	}
	return nil
}

// copyIn appends b across the tail chunk and as many new chunks as needed.
// Called with o.mu held.
func (o *outbound) copyIn(b []byte) {
	for len(b) > 0 {
		var tail *chunk
		if k := len(o.chunks); k > 0 {
			tail = o.chunks[k-1]
		}
		if tail == nil || tail.ref != nil || len(tail.b) == cap(tail.b) {
			tail = getChunk(min(len(o.chunks), len(chunkSizes)-1))
			o.chunks = append(o.chunks, tail)
		}
		n := copy(tail.b[len(tail.b):cap(tail.b)], b)
		tail.b = tail.b[:len(tail.b)+n]
		b = b[n:]
	}
}

// kick wakes the writer without blocking.
func (o *outbound) kick() {
	select {
	case o.signal <- struct{}{}:
	default:
	}
}

// take hands the queued chunks to the writer, leaving spare (emptied) in
// their place so the two slices alternate without allocating.
func (o *outbound) take(spare []*chunk) ([]*chunk, int64) {
	o.mu.Lock()
	chunks := o.chunks
	o.chunks = spare[:0]
	// References queued from now on count their buffer again: the one
	// taken may be recycled once written.
	o.lastPin = nil
	var n int64
	for _, c := range chunks {
		n += int64(len(c.b))
	}
	o.mu.Unlock()
	return chunks, n
}

// written releases n bytes from the pending count, and unpinned from the
// pinned count, once they left.
func (o *outbound) written(n, unpinned int64) {
	o.mu.Lock()
	o.pending -= n
	o.uncount(n)
	o.pinned -= unpinned
	if o.pending <= o.stallThreshold() {
		o.releaseStall()
	}
	o.mu.Unlock()
}

// close drops everything queued and makes further enqueues no-ops.
func (o *outbound) close() {
	o.mu.Lock()
	o.closed = true
	o.uncount(o.counted) // what is dropped here is never written
	for i, c := range o.chunks {
		putChunk(c)
		o.chunks[i] = nil
	}
	o.chunks = o.chunks[:0]
	o.pinned, o.lastPin = 0, nil
	o.releaseStall()
	o.mu.Unlock()
}

func (o *outbound) pendingBytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending
}

// writer owns the writing side of one connection: it is the only goroutine
// that writes to the socket.
type writer struct {
	conn     net.Conn
	deadline time.Duration
	spare    []*chunk
	iov      [][]byte
	// bufs is the header WriteTo consumes: a field, so that handing its
	// address to the connection does not allocate one per write.
	bufs net.Buffers
	// trace, when set, sees every batch of outbound bytes before it is
	// written (protocol tracing, -V); nil costs one comparison per flush.
	trace func(iov [][]byte)
}

// flush writes everything queued in o. It returns the bytes written and the
// first write error; on error the caller closes the connection.
func (w *writer) flush(o *outbound) (int64, error) {
	chunks, n := o.take(w.spare)
	if len(chunks) == 0 {
		w.spare = chunks
		return 0, nil
	}
	w.iov = w.iov[:0]
	for _, c := range chunks {
		w.iov = append(w.iov, c.b)
	}
	if w.trace != nil {
		w.trace(w.iov)
	}
	w.bufs = w.iov // WriteTo consumes this header, not w.iov's
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.deadline))
	written, err := w.bufs.WriteTo(w.conn)
	w.bufs = nil
	clear(w.iov)
	var unpinned int64
	for i, c := range chunks {
		unpinned += c.pin
		putChunk(c)
		chunks[i] = nil
	}
	w.spare = chunks[:0]
	o.written(n, unpinned)
	return written, err
}

// enqueueParts queues two pieces as one unit (all or nothing).
func (o *outbound) enqueueParts(a, b []byte) bool {
	n := int64(len(a) + len(b))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return true
	}
	if o.pending+n > o.limit {
		return false
	}
	o.admit(n, false)
	o.pending += n
	o.copyIn(a)
	o.copyIn(b)
	return true
}
