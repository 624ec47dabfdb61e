package jetstore

import (
	"sync"
	"time"
)

// The commit pipeline. Publishers hand messages to a stream's bounded
// ingest queue and return at once; the stream's committer goroutine takes
// everything queued as one batch and, in this order:
//
//  1. applies each message under the stream lock: the publisher's checks,
//     dedup, sequence assignment, record encoding into the tail block,
//     limits;
//  2. writes all new bytes of the batch with one write per block;
//  3. with sync policy "always", hands the batch to the syncer goroutine,
//     which fsyncs once for every batch written since its last fsync
//     (group commit) while the committer already applies and writes the
//     next batch; with an interval, the written batch is final;
//  4. only then raises the committed watermark (readers and consumers
//     never see a message above it) and calls the AckFunc for every
//     message, in sequence order.
//
// Invariants:
//   - No acknowledgement leaves before its record is durable under the stream's sync
//     policy: fsynced with "always"; written to the OS with an interval
//     (and fsynced within one interval).
//   - Acks are delivered in sequence order, one per published message.
//   - A failed write or fsync poisons the stream: every message of the
//     failed batch is answered with an error, and every later publish is
//     refused until the stream is reopened from what is on disk, which
//     drops anything that was not durable. Nothing acknowledged is lost;
//     nothing unacknowledged is reported as stored.
//   - Only one goroutine writes a stream's files at a time (writeMu), so
//     purges and deletes share the same ordering and durability rules. An
//     fsync covers everything written before it began, so a batch is
//     acknowledged only by a sync that started after its write returned.

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

// run is the committer goroutine.
func (st *Stream) run() {
	defer close(st.done)
	if st.syncAlways() && st.storage.persistent() {
		// With fsync before every ack, a second goroutine syncs and acks
		// while this one applies and writes the next batch: the disk is
		// never idle waiting for the CPU, or the CPU for the disk.
		st.syncQ = make(chan *syncJob, syncQueueLen)
		synced := make(chan struct{})
		go st.syncLoop(synced)
		defer func() { close(st.syncQ); <-synced }()
	}
	for {
		select {
		case <-st.ingest.wake:
		case <-st.quit:
			if batch := st.ingest.take(nil); len(batch) > 0 {
				st.commit(batch)
			}
			return
		}
		// Each batch goes its own way (to the syncer), so no buffer reuse.
		if batch := st.ingest.take(nil); len(batch) > 0 {
			st.commit(batch)
		}
	}
}

// syncQueueLen bounds the batches written but not yet synced; a full queue
// holds the committer back, and with it, through the ingest queue, the
// publishers.
const syncQueueLen = 16

// syncJob is a written batch waiting for its fsync and acks.
type syncJob struct {
	batch []*InMsg
	acks  []PublishResult
	w     written
	write time.Duration
	err   error // the write failed
}

// written is what one writeOut handed to the files: the highest sequence
// assigned, the blocks emptied (removed once durable) and the stream's
// counters as they were then, which State shows once it is durable.
type written struct {
	target uint64
	doomed []*block
	view   stateView
}

// stateView is the stream's counters as of one write; gen orders writes.
type stateView struct {
	counters
	gen uint64
}

// merge folds a later write into w (a group commit of several batches).
func (w *written) merge(o written) {
	w.target = max(w.target, o.target)
	w.doomed = append(w.doomed, o.doomed...)
	if o.view.gen > w.view.gen {
		w.view = o.view
	}
}

func (st *Stream) commit(batch []*InMsg) {
	acks := make([]PublishResult, len(batch))
	now := st.store.now()
	st.mu.Lock()
	usable := st.usableLocked()
	if usable {
		st.applyAllLocked(batch, acks, now)
	} else {
		for i := range acks {
			acks[i] = PublishResult{Err: ErrStreamUnavailable}
		}
	}
	st.mu.Unlock()

	job := &syncJob{batch: batch, acks: acks}
	if usable {
		job.w, job.write, job.err = st.writeOut()
	} else {
		// Nothing to sync; and no later sync may make the failed batch's
		// bytes durable before the stream is reloaded from disk.
		job.err = ErrStreamUnavailable
	}
	if st.syncQ != nil {
		st.syncQ <- job // even refused batches: acks leave in order
		return
	}
	if usable && job.err == nil {
		job.err = st.reserveSeqs(job.w.target, job.w.doomed)
	}
	if usable && job.err == nil {
		// Sync policy interval, or a memory stream: written is final.
		st.commitWritten(job.w)
		if obs := st.store.opts.Observer; obs != nil {
			obs.Commit(len(batch), job.write, 0)
		}
	}
	st.finish([]*syncJob{job}, job.err)
}

// syncLoop makes written batches durable, many at a time, and acks them
// in order.
func (st *Stream) syncLoop(done chan<- struct{}) {
	defer close(done)
	for job := range st.syncQ {
		jobs := []*syncJob{job}
	more:
		for len(jobs) < syncQueueLen {
			select {
			case j, ok := <-st.syncQ:
				if !ok {
					break more
				}
				jobs = append(jobs, j)
			default:
				break more
			}
		}
		var err error
		var w written
		for _, j := range jobs {
			if err == nil {
				err = j.err
			}
			w.merge(j.w)
		}
		var syncDur time.Duration
		if err == nil {
			syncDur, err = st.syncOut(w)
		} else {
			st.mu.Lock()
			st.doomed = append(st.doomed, w.doomed...) // retried after recovery
			st.mu.Unlock()
		}
		if obs := st.store.opts.Observer; obs != nil && err == nil {
			n := 0
			for _, j := range jobs {
				n += len(j.batch)
			}
			obs.Commit(n, jobs[0].write, syncDur)
		}
		st.finish(jobs, err)
	}
}

// finish sends the acks of durable (or failed) batches, in order, and wakes
// the consumers.
func (st *Stream) finish(jobs []*syncJob, err error) {
	for _, j := range jobs {
		if err != nil {
			for i := range j.acks {
				if j.acks[i].Err == nil && !j.acks[i].Duplicate {
					j.acks[i] = PublishResult{Err: errStorage(err)}
				}
			}
		}
		if fn := st.store.opts.Ack; fn != nil {
			fn(st, j.batch, j.acks)
		}
		for i, m := range j.batch {
			if m.Done != nil {
				m.Done(j.acks[i])
			}
		}
	}
	st.listeners.notify()
}

// retryAfterFailure paces attempts to reopen a poisoned stream.
const retryAfterFailure = time.Second

// persist makes everything applied so far durable under the sync policy and
// then raises the committed watermark: purges, deletes and other changes
// outside the publish pipeline go this way.
func (st *Stream) persist() error {
	w, _, err := st.writeOut()
	if err != nil {
		return err
	}
	if st.syncAlways() {
		_, err = st.syncOut(w)
		return err
	}
	if err := st.reserveSeqs(w.target, w.doomed); err != nil {
		return err
	}
	st.commitWritten(w)
	return nil
}

// reserveSeqs makes the high-water mark cover target before anything up to
// it is acknowledged; a failure poisons the stream like a failed write.
func (st *Stream) reserveSeqs(target uint64, doomed []*block) error {
	err := st.storage.reserve(target, st.store.now())
	if err != nil {
		st.mu.Lock()
		st.failLocked(err)
		st.doomed = append(st.doomed, doomed...) // retried after recovery
		st.mu.Unlock()
	}
	return err
}

// writeOut hands everything applied but unwritten to the files, one write
// per block; it returns the highest sequence written and the blocks that
// may go once that is durable. Only one goroutine writes at a time.
func (st *Stream) writeOut() (w written, took time.Duration, err error) {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()

	st.mu.Lock()
	if st.failed != nil {
		st.mu.Unlock()
		return w, 0, st.failed
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
	st.writeGen++
	w = written{target: st.state.last, doomed: st.doomed, view: stateView{st.state, st.writeGen}}
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
	took = time.Since(start)
	if err != nil {
		st.mu.Lock()
		st.failLocked(err)
		st.doomed = append(st.doomed, w.doomed...) // retried after recovery
		st.mu.Unlock()
		return written{}, took, err
	}
	return w, took, nil
}

// syncOut fsyncs every block with written but unsynced bytes, then commits
// up to target.
func (st *Stream) syncOut(w written) (time.Duration, error) {
	type pending struct {
		b       *block
		written int64
	}
	var todo []pending
	// The snapshot of what is written is taken between writes, and only it
	// counts as synced: bytes a later, failing write adds while the fsync
	// runs are cut off when the stream reloads, never reported as stored.
	st.writeMu.Lock()
	st.mu.RLock()
	if err := st.failed; err != nil {
		st.mu.RUnlock()
		st.writeMu.Unlock()
		return 0, err
	}
	for _, b := range st.blocks {
		if b.file != nil && b.synced < b.written {
			todo = append(todo, pending{b, b.written})
		}
	}
	for _, b := range w.doomed { // emptied by this batch: its records must be durable too
		if b.file != nil && b.synced < b.written {
			todo = append(todo, pending{b, b.written})
		}
	}
	st.mu.RUnlock()
	st.writeMu.Unlock()
	start := time.Now()
	// The mark first: a batch whose blocks are durable but whose sequences
	// are not reserved must not survive a reload as stored.
	if err := st.reserveSeqs(w.target, w.doomed); err != nil {
		return time.Since(start), err
	}
	for _, p := range todo {
		if err := p.b.file.Sync(); err != nil {
			st.mu.Lock()
			st.failLocked(err)
			st.doomed = append(st.doomed, w.doomed...)
			st.mu.Unlock()
			return time.Since(start), err
		}
		st.mu.Lock()
		p.b.synced = max(p.b.synced, p.written)
		st.mu.Unlock()
	}
	took := time.Since(start)
	st.commitWritten(w)
	return took, nil
}

// commitWritten raises the committed watermark to w's target, shows the
// counters as of that write, and retires the blocks emptied on the way.
func (st *Stream) commitWritten(w written) {
	st.mu.Lock()
	st.committed = max(st.committed, w.target)
	if w.view.gen > st.shown.gen {
		st.shown = w.view
		st.countUsageLocked()
	}
	st.cacheMu.Lock()
	st.releaseWrittenCachesLocked()
	st.cacheMu.Unlock()
	st.mu.Unlock()
	st.storage.retire(w.doomed)
}

func (st *Stream) syncAlways() bool { return st.store.opts.SyncInterval <= 0 }

// failLocked poisons the stream after an I/O failure.
func (st *Stream) failLocked(err error) {
	if st.failed == nil {
		st.store.log.Error("stream storage failed; refusing publishes until it can be reopened",
			"stream", st.name, "error", err)
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
		st.store.log.Warn("stream still failing", "stream", st.name, "error", err)
		st.failedAt = st.store.now()
		return false
	}
	st.store.log.Info("stream recovered from storage failure", "stream", st.name)
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
