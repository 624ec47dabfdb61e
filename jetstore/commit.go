package jetstore

import (
	"errors"
	"sync"
	"time"
)

// The commit pipeline. Publishers hand messages to a stream's bounded
// ingest queue and return at once; the stream's committer goroutine takes
// everything queued as one batch and, in this order:
//
//  1. applies each message under the stream lock: header checks, dedup,
//     sequence assignment, record encoding into the tail block, limits;
//  2. writes all new bytes of the batch with one write per block and, with
//     sync policy "always", one fsync for the whole batch (group commit);
//  3. only then raises the committed watermark (readers and consumers
//     never see a message above it) and calls the AckFunc for every
//     message, in sequence order.
//
// Invariants:
//   - No PubAck leaves before its record is durable under the stream's sync
//     policy: fsynced with "always"; written to the OS with an interval
//     (and fsynced within one interval).
//   - Acks are delivered in sequence order, one per published message.
//   - A failed write or fsync poisons the stream: every message of the
//     failed batch is answered with an error, and every later publish is
//     refused until the stream is reopened from what is on disk, which
//     drops anything that was not durable. Nothing acknowledged is lost;
//     nothing unacknowledged is reported as stored.
//   - Only one goroutine writes a stream's files at a time (writeMu), so
//     purges and deletes share the same ordering and durability rules.

// InMsg is a message published into a stream, copied out of the
// publisher's buffers.
type InMsg struct {
	Subject string
	Reply   string
	Header  []byte
	Data    []byte
}

// NewInMsg copies borrowed slices into one allocation owned by the message.
func NewInMsg(subject, reply, header, data []byte) *InMsg {
	buf := make([]byte, 0, len(subject)+len(reply)+len(header)+len(data))
	buf = append(buf, subject...)
	buf = append(buf, reply...)
	buf = append(buf, header...)
	buf = append(buf, data...)
	ls, lr, lh := len(subject), len(reply), len(header)
	m := &InMsg{Subject: string(buf[:ls]), Reply: string(buf[ls : ls+lr])}
	if lh > 0 {
		m.Header = buf[ls+lr : ls+lr+lh : ls+lr+lh]
	}
	m.Data = buf[ls+lr+lh:]
	return m
}

func (m *InMsg) size() int { return len(m.Subject) + len(m.Reply) + len(m.Header) + len(m.Data) }

// PubAck is the outcome of one publish, in the JSON shape clients expect.
type PubAck struct {
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Duplicate bool      `json:"duplicate,omitempty"`
	Error     *APIError `json:"error,omitempty"`
}

// AckFunc receives the outcome of a batch of published messages, in
// sequence order, once they are durable (or have failed); acks[i] belongs
// to msgs[i].
type AckFunc func(st *Stream, msgs []*InMsg, acks []PubAck)

// Bounds of a stream's ingest queue: past them publishes are refused at
// once instead of queuing without limit.
const (
	maxIngestMsgs  = 64 << 10
	maxIngestBytes = 64 << 20
)

type ingestQueue struct {
	mu    sync.Mutex
	msgs  []*InMsg
	bytes int
	wake  chan struct{}
}

func (q *ingestQueue) push(m *InMsg) bool {
	q.mu.Lock()
	if len(q.msgs) >= maxIngestMsgs || q.bytes+m.size() > maxIngestBytes {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, m)
	q.bytes += m.size()
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves everything queued into dst (emptied), swapping buffers.
func (q *ingestQueue) take(dst []*InMsg) []*InMsg {
	q.mu.Lock()
	msgs := q.msgs
	q.msgs = dst[:0]
	q.bytes = 0
	q.mu.Unlock()
	return msgs
}

// Publish queues a message for the stream. It never blocks; a full queue
// or a closed stream is an error the caller reports to the publisher.
func (st *Stream) Publish(m *InMsg) error {
	select {
	case <-st.quit:
		return ErrStreamNotFound
	default:
	}
	if !st.ingest.push(m) {
		return ErrIngestQueueFull
	}
	return nil
}

// run is the committer goroutine.
func (st *Stream) run() {
	defer close(st.done)
	var batch []*InMsg
	for {
		select {
		case <-st.ingest.wake:
		case <-st.quit:
			if batch = st.ingest.take(batch); len(batch) > 0 {
				st.commit(batch)
			}
			return
		}
		batch = st.ingest.take(batch)
		if len(batch) > 0 {
			st.commit(batch)
			clear(batch)
		}
	}
}

// retryAfterFailure paces attempts to reopen a poisoned stream.
const retryAfterFailure = time.Second

func (st *Stream) commit(batch []*InMsg) {
	acks := make([]PubAck, len(batch))
	now := st.store.now()
	st.mu.Lock()
	usable := st.usableLocked()
	for i, m := range batch {
		if !usable {
			acks[i] = PubAck{Stream: st.cfg.Name, Error: ErrStreamUnavailable}
			continue
		}
		acks[i] = st.applyLocked(m, now)
	}
	st.mu.Unlock()

	if usable {
		timing, err := st.persistTimed()
		if obs := st.store.opts.Observer; obs != nil && err == nil {
			obs.Commit(len(batch), timing.write, timing.sync)
		}
		if err != nil {
			for i := range acks {
				if acks[i].Error == nil && !acks[i].Duplicate {
					acks[i] = PubAck{Stream: st.cfg.Name, Error: errStorage(err)}
				}
			}
		}
	}
	if fn := st.store.opts.Ack; fn != nil {
		fn(st, batch, acks)
	}
	st.listeners.notify()
}

// persist makes everything applied so far durable under the sync policy and
// then raises the committed watermark. It is the only path to the files.
func (st *Stream) persist() error {
	_, err := st.persistTimed()
	return err
}

// persistTiming is how long a persist spent writing and fsyncing (zero when
// it did not sync), for the store's Observer.
type persistTiming struct{ write, sync time.Duration }

func (st *Stream) persistTimed() (timing persistTiming, err error) {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()

	st.mu.Lock()
	if st.failed != nil {
		st.mu.Unlock()
		return timing, st.failed
	}
	st.flushDeletesLocked()
	st.dropEmptyFrontBlocksLocked()
	type region struct {
		b    *block
		data []byte
	}
	var regions []region
	for _, b := range st.blocks {
		if data := b.unwritten(); len(data) > 0 {
			regions = append(regions, region{b, data})
		}
	}
	target := st.state.last
	doomed := st.doomed
	st.doomed = nil
	st.mu.Unlock()

	start := time.Now()
	for _, r := range regions {
		if _, err = r.b.file.Write(r.data); err != nil {
			break
		}
		st.mu.Lock()
		r.b.written += int64(len(r.data))
		st.mu.Unlock()
	}
	timing.write = time.Since(start)
	if err == nil && st.syncAlways() && len(regions) > 0 {
		start = time.Now()
		for _, r := range regions {
			if err = r.b.file.Sync(); err != nil {
				break
			}
			st.mu.Lock()
			r.b.synced = r.b.written
			st.mu.Unlock()
		}
		timing.sync = time.Since(start)
	}

	st.mu.Lock()
	if err != nil {
		st.failLocked(err)
		st.doomed = append(st.doomed, doomed...) // retried after recovery
		st.mu.Unlock()
		return timing, err
	}
	st.committed = max(st.committed, target)
	st.cacheMu.Lock()
	st.releaseWrittenCachesLocked()
	st.cacheMu.Unlock()
	st.mu.Unlock()
	st.retire(doomed)
	return timing, nil
}

func (st *Stream) syncAlways() bool { return st.store.opts.SyncInterval <= 0 }

// retire closes and removes the files of blocks emptied by a durable batch.
func (st *Stream) retire(doomed []*block) {
	if len(doomed) == 0 {
		return
	}
	for _, b := range doomed {
		if b.file != nil {
			b.file.Close()
			if err := st.store.fs.Remove(b.path); err != nil {
				st.store.log.Warn("cannot remove emptied block", "file", b.path, "error", err)
			}
		}
	}
	if st.dir != "" {
		_ = st.store.fs.SyncDir(st.blockDir())
	}
}

// failLocked poisons the stream after an I/O failure.
func (st *Stream) failLocked(err error) {
	if st.failed == nil {
		st.store.log.Error("stream storage failed; refusing publishes until it can be reopened",
			"stream", st.cfg.Name, "error", err)
	}
	st.failed = err
	st.failedAt = st.store.now()
}

// usableLocked reports whether the stream may change: it is not poisoned,
// or it just recovered.
func (st *Stream) usableLocked() bool { return st.failed == nil || st.recoverLocked() }

// recoverLocked tries to reopen a poisoned stream from disk, at most once
// per retryAfterFailure. It reports whether the stream is usable.
func (st *Stream) recoverLocked() bool {
	if st.store.now().Sub(st.failedAt) < retryAfterFailure {
		return false
	}
	if err := st.reloadLocked(); err != nil {
		st.store.log.Warn("stream still failing", "stream", st.cfg.Name, "error", err)
		st.failedAt = st.store.now()
		return false
	}
	st.store.log.Info("stream recovered from storage failure", "stream", st.cfg.Name)
	st.failed = nil
	return true
}

// flushDeletesLocked turns the sequences deleted since the last write into
// one delete record in the tail block.
func (st *Stream) flushDeletesLocked() {
	if len(st.pendingDel) == 0 {
		return
	}
	ranges := toRanges(st.pendingDel)
	st.pendingDel = st.pendingDel[:0]
	rec := appendDeleteRecord(nil, ranges)
	if tail, err := st.tailLocked(len(rec)); err == nil {
		tail.appendRecords(rec, st.store.opts.BlockSize)
	} else {
		st.failLocked(err)
	}
}

// toRanges compresses sequences (sorted here) into inclusive ranges.
func toRanges(seqs []uint64) []seqRange {
	sortSeqs(seqs)
	var out []seqRange
	for _, s := range seqs {
		if n := len(out); n > 0 && out[n-1].last+1 == s {
			out[n-1].last = s
			continue
		} else if n > 0 && out[n-1].last >= s {
			continue
		}
		out = append(out, seqRange{s, s})
	}
	return out
}

// errClosed is returned for operations on a stream that was deleted.
var errClosed = errors.New("jetstore: stream closed")
