package jetstore

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/sublist"
)

// Locks and goroutines of a stream and its consumers.
//
// Locks, each with what it guards:
//
//   - Store.mu: the store's map of streams and its closed flag.
//   - Stream.cmu: the map of consumers and the interest filter sets
//     published from it. Consumer.cfg is written only with both Stream.cmu
//     and Consumer.mu held (an update), so either one suffices to read it.
//   - Consumer.mu: a consumer's configuration, filter, cursor, ack tracker,
//     pull queue and push flow (consumer.go); its durable log.
//   - Stream.writeMu: the right to write or fsync the stream's files, so
//     that one goroutine at a time hands bytes to them and a sync knows
//     which writes it covers.
//   - Stream.mu (read-write): everything else of the stream: configuration,
//     blocks and their entries and byte counts, the subject index, counters,
//     deduplication, the committed watermark, deletes and emptied blocks
//     waiting for the next write, the change log, the failure state and
//     the expiry timer. Readers (Get, State, consumer passes) take it for
//     reading; the committer, purges, deletes, expiry and recovery for
//     writing.
//   - Stream.cacheMu: the small lists of older blocks whose bytes, or
//     whose entries, are loaded. A block's bytes and its entries' two
//     forms are atomic pointers (blockindex.go).
//   - Leaves, taken with nothing else acquired inside them: the ingest
//     queue's lock, the listeners' lock, a consumer's inbox lock.
//
// Order: a goroutine holding a lock of this list takes only locks further
// down it:
//
//	Store.mu → Stream.cmu → Consumer.mu → Stream.writeMu → Stream.mu → Stream.cacheMu → leaves
//
// Not every step occurs (no path takes Stream.writeMu while holding
// Consumer.mu: a consumer removes acknowledged messages after its pass). A
// new consumer is built holding Stream.mu and then its own Consumer.mu,
// against the order, before any other goroutine can reach it. Callbacks
// into the server (AckFunc, CommitObserver, Options.ConsumerAdded and
// ConsumerRemoved) run with no stream lock held; a consumer's Sender runs
// with its Consumer.mu held (and, during delivery, Stream.mu for reading),
// so it must not call back into the store.
//
// Goroutines:
//
//   - the committer (Stream.run, commit.go), one per stream, owns the
//     ingest queue's consumer side: it applies each batch under Stream.mu,
//     writes it under Stream.writeMu and either acks it (sync interval,
//     memory) or hands it on;
//   - the syncer (Stream.syncLoop), one per file stream with sync policy
//     always, fsyncs batches (group commit), raises the committed
//     watermark and sends their acks, in order;
//   - the store's interval syncer (Store.syncLoop), one per store with a
//     sync interval, fsyncs what every stream wrote;
//   - the expiry timer's function (Stream.expire) deletes messages past
//     max age;
//   - one goroutine per consumer (Consumer.run, consumer_deliver.go) does
//     all of that consumer's delivery, redelivery and state writes;
//   - callers: publishers only queue (Stream.Publish takes the ingest
//     lock); acks and pull requests only queue into the consumer's inbox;
//     API calls (purge, delete, update, info) take the locks above in
//     order.

// Stream is one stream: its configuration, its log of blocks, the indexes
// over them and the commit pipeline that appends to them. Stream.mu guards
// the fields from cfg to failedAt; the others say what guards them.
type Stream struct {
	store   *Store
	storage storage // where the stream's data lives: files or memory only
	name    string  // cfg.Name, which never changes; read without a lock
	adopted bool    // created over stored blocks (adopt.go); set before start

	mu      sync.RWMutex
	cfg     StreamConfig
	created time.Time // set at creation, read without a lock
	blocks  []*block
	nextID  uint32 // id of the next block
	subj    subjectIndex
	state   counters
	dedup   dedupIndex
	lastID  string // MsgID of the newest message that had one

	dedupSince int64 // recovery: ids of messages older than this are not restored

	// committed is the highest sequence that is durable under the sync
	// policy; readers never see anything above it.
	committed uint64
	// shown is the counters as of the newest durable write: what State
	// reports, so that a publish (or delete) is counted once it is durable
	// and never when its write failed. writeGen numbers the writes.
	shown    stateView
	writeGen uint64
	// counted is the bytes this stream adds to its store's (and pool's)
	// usage: shown.bytes, brought up to date by countUsageLocked.
	counted int64
	// pendingDel collects sequences deleted while applying a batch; they go
	// to disk as one delete record with the batch.
	pendingDel []uint64
	// doomed are emptied front blocks whose files go once the batch that
	// emptied them is durable.
	doomed   []*block
	changes  *changeLog     // nil until the stream has consumers
	failed   error          // set by a failed write or sync; see commit.go
	damage   []recoveryNote // what the last load cut or skipped (replica_damage.go)
	raised   *raisedTail    // what the last load counted as deleted (highwater.go)
	failedAt time.Time
	expiry   *time.Timer
	features streamFeatures

	writeMu sync.Mutex // one writer of the files at a time

	cacheMu sync.Mutex
	cached  []*block // non-tail blocks whose bytes are loaded, oldest first
	hotList []*block // non-tail blocks whose entries are loaded, least recently heated first

	cmu       sync.Mutex // guards consumers
	consumers map[string]*Consumer
	interest  atomic.Pointer[[][]string] // consumer filters, for interest retention; written under cmu

	sourcing  sourcing      // the mirror and source feeds; its own lock
	ingest    ingestQueue   // its own lock
	syncQ     chan *syncJob // committer -> syncer, with sync policy always
	listeners listeners     // its own lock
	hooks     hookSlot      // the replication layer's (replica_consumer.go)
	quit      chan struct{}
	done      chan struct{}
}

// counters are the stream's message accounting.
type counters struct {
	msgs, bytes uint64
	first, last uint64 // lowest live sequence (last+1 when empty), highest ever assigned
}

// StoredMsg is a message read from a stream. Header and Data alias the
// store's buffers: callers must not modify them (they stay valid).
type StoredMsg struct {
	Subject string
	Seq     uint64
	Time    time.Time
	Header  []byte
	Data    []byte
}

// StreamState is a stream's state in the JSON shape of the JetStream API.
type StreamState struct {
	Msgs        uint64            `json:"messages"`
	Bytes       uint64            `json:"bytes"`
	FirstSeq    uint64            `json:"first_seq"`
	FirstTime   time.Time         `json:"first_ts"`
	LastSeq     uint64            `json:"last_seq"`
	LastTime    time.Time         `json:"last_ts"`
	NumSubjects int               `json:"num_subjects,omitempty"`
	Subjects    map[string]uint64 `json:"subjects,omitempty"`
	NumDeleted  int               `json:"num_deleted,omitempty"`
	Deleted     []uint64          `json:"deleted,omitempty"`
	Consumers   int               `json:"consumer_count"`
}

// msgSize is the byte accounting of one message (the reference file
// store's formula, so figures look familiar).
func msgSize(subject, header, data []byte) uint64 {
	n := 30 + len(subject) + len(data)
	if len(header) > 0 {
		n += 4 + len(header)
	}
	return uint64(n)
}

// Name is the stream's name.
func (st *Stream) Name() string { return st.name }

// Config returns the stream's configuration.
func (st *Stream) Config() StreamConfig {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.cfg
}

// Created is when the stream was created.
func (st *Stream) Created() time.Time { return st.created }

// State returns the stream's state. With subjectsFilter non-empty it also
// lists per-subject counts; with deletedDetails the interior gaps.
func (st *Stream) State(subjectsFilter string, deletedDetails bool) StreamState {
	st.mu.RLock()
	defer st.mu.RUnlock()
	n := st.shown.counters
	s := StreamState{
		Msgs:        n.msgs,
		Bytes:       n.bytes,
		FirstSeq:    n.first,
		LastSeq:     n.last,
		NumSubjects: st.subj.count,
	}
	if n.msgs > 0 {
		if m, err := st.getLocked(n.first); err == nil {
			s.FirstTime = m.Time
		}
		if m, err := st.getLocked(st.lastLiveLocked(n.last)); err == nil {
			s.LastTime = m.Time
		}
	}
	if span := n.last - n.first + 1; n.msgs > 0 && span > n.msgs {
		s.NumDeleted = int(span - n.msgs)
		if deletedDetails {
			s.Deleted = st.deletedLocked(n.first, n.last)
		}
	}
	if subjectsFilter != "" {
		s.Subjects = st.subj.counts(subjectsFilter)
	}
	return s
}

// lastLiveLocked returns the highest live sequence up to upTo, or 0.
func (st *Stream) lastLiveLocked(upTo uint64) uint64 {
	for i := len(st.blocks) - 1; i >= 0; i-- {
		b := st.blocks[i]
		if !b.hasMsgs() || b.first > upTo {
			continue
		}
		for seq := min(upTo, b.last()); seq >= b.first; seq-- {
			if b.isLive(seq) {
				return seq
			}
		}
	}
	return 0
}

func (st *Stream) deletedLocked(first, last uint64) []uint64 {
	var out []uint64
	for _, b := range st.blocks {
		if !b.hasMsgs() {
			continue
		}
		for seq := max(first, b.first); seq <= min(last, b.last()); seq++ {
			if !b.isLive(seq) {
				out = append(out, seq)
			}
		}
	}
	return out
}

// showLocked makes State report the counters as they are now: after a
// load, when everything in memory came from disk.
func (st *Stream) showLocked() {
	st.shown = stateView{st.state, st.writeGen}
	st.countUsageLocked()
}

// blockFor finds the block holding seq's entry.
func (st *Stream) blockFor(seq uint64) *block {
	i := sort.Search(len(st.blocks), func(i int) bool { return st.blocks[i].last() >= seq })
	if i < len(st.blocks) && st.blocks[i].contains(seq) {
		return st.blocks[i]
	}
	return nil
}

// blockFrom returns the block holding seq and seq or, when seq falls
// between blocks (a range never stored: sequences reserved before a crash
// and not used), the next block and its first sequence; nil past the last
// block. Readers that walk the stream go through it so that a gap does not
// end their walk.
func (st *Stream) blockFrom(seq uint64) (*block, uint64) {
	i := sort.Search(len(st.blocks), func(i int) bool { return st.blocks[i].last() >= seq })
	if i == len(st.blocks) {
		return nil, 0
	}
	switch b := st.blocks[i]; {
	case b.contains(seq):
		return b, seq
	case b.hasMsgs() && b.first > seq:
		return b, b.first
	}
	return nil, 0
}

// Get returns the message with sequence seq, or ErrNoMessageFound.
func (st *Stream) Get(seq uint64) (*StoredMsg, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.getPtrLocked(seq)
}

func (st *Stream) getPtrLocked(seq uint64) (*StoredMsg, error) {
	m, err := st.getLocked(seq)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// getLocked reads one message. It returns a value so that the consumers'
// delivery loop reads without an allocation per message.
func (st *Stream) getLocked(seq uint64) (StoredMsg, error) {
	if seq > st.committed {
		return StoredMsg{}, ErrNoMessageFound
	}
	return st.readLocked(seq)
}

// readLocked reads one message, durable or not (the committer's view).
func (st *Stream) readLocked(seq uint64) (StoredMsg, error) {
	if seq == 0 {
		return StoredMsg{}, ErrNoMessageFound
	}
	b := st.blockFor(seq)
	if b == nil {
		return StoredMsg{}, ErrNoMessageFound
	}
	e, err := st.entryOf(b, seq)
	if err != nil {
		return StoredMsg{}, st.store.storageFailed("cannot read a stored message", st.name, err)
	}
	switch e.off {
	case deletedOff:
		return StoredMsg{}, ErrNoMessageFound
	case unreadableOff:
		st.store.log.Error("stored message failed its checksum", "stream", st.name, "seq", seq)
		return StoredMsg{}, ErrNoMessageFound
	}
	buf, err := st.recordBytes(b, e.off)
	if err != nil {
		return StoredMsg{}, st.store.storageFailed("cannot read a stored message", st.name, err)
	}
	rec, _, err := decodeRecord(buf)
	if err != nil || rec.kind != kindMsg || rec.seq != seq {
		// The bytes changed under us (disk corruption after recovery):
		// never hand out a message that fails its checksum.
		st.store.log.Error("stored message failed its checksum", "stream", st.name, "seq", seq)
		return StoredMsg{}, ErrNoMessageFound
	}
	return StoredMsg{
		Subject: st.subj.name(e.subj),
		Seq:     seq,
		Time:    time.Unix(0, rec.ts).UTC(),
		Header:  rec.header,
		Data:    rec.data,
	}, nil
}

// lastBySubjectWait bounds how long LastBySubject waits for a write in
// flight (an fsync, normally milliseconds) before it answers without it.
const lastBySubjectWait = 2 * time.Second

// LastBySubject returns the newest message on a subject matching filter
// (wildcards allowed).
//
// A write in flight on the subject may already have removed the message
// it replaces (a per-subject limit of one, as in a key-value bucket, or a
// rollup) while it is not durable, hence not visible, itself. A reader
// that finds nothing durable but such a write then waits for that write
// to be committed and returns it: answering "not found" for a key that
// was never absent would be wrong.
func (st *Stream) LastBySubject(filter string) (*StoredMsg, error) {
	if !sublist.ValidSubject(filter) {
		return nil, ErrNoMessageFound
	}
	var wake <-chan struct{}
	var timeout <-chan time.Time
	for {
		m, inFlight, err := st.lastBySubjectOnce(filter)
		if !inFlight {
			return m, err
		}
		if wake == nil {
			// Watch before looking again, so that no commit is missed.
			var stop func()
			wake, stop = st.Watch()
			defer stop()
			t := time.NewTimer(lastBySubjectWait)
			defer t.Stop()
			timeout = t.C
			continue
		}
		select {
		case <-wake:
		case <-timeout:
			return m, err
		}
	}
}

// lastBySubjectOnce is LastBySubject's look at the stream; inFlight: the
// newest match is not durable yet and no older one is left.
func (st *Stream) lastBySubjectOnce(filter string) (m *StoredMsg, inFlight bool, err error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	newest := st.lastMatchingLocked(filter)
	seq := newest
	for seq > st.committed && seq > 0 {
		// Fall back to the newest durable match (publishes in flight on
		// the same subject).
		seq = st.prevMatchingLocked(filter, seq)
	}
	inFlight = seq == 0 && newest > st.committed
	m, err = st.getPtrLocked(seq)
	return m, inFlight, err
}

func (st *Stream) prevMatchingLocked(filter string, below uint64) uint64 {
	var best uint64
	st.subj.matching(filter, func(info *subjectInfo) { best = max(best, st.subjectPrev(info, below)) })
	return best
}

// NextBySubject returns the first message with sequence >= from on a
// subject matching filter ("" or ">" match everything).
func (st *Stream) NextBySubject(from uint64, filter string) (*StoredMsg, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	seq, err := st.nextLocked(from, filter)
	if err != nil {
		return nil, err
	}
	return st.getPtrLocked(seq)
}

func (st *Stream) nextLocked(from uint64, filter string) (uint64, error) {
	from = max(from, st.state.first)
	if filter == "" || filter == ">" {
		for seq := from; seq <= st.committed; {
			b, at := st.blockFrom(seq)
			if b == nil {
				return 0, ErrNoMessageFound
			}
			seq = at
			for ; seq <= b.last() && seq <= st.committed; seq++ {
				if b.isLive(seq) {
					return seq, nil
				}
			}
		}
		return 0, ErrNoMessageFound
	}
	if !sublist.ValidSubject(filter) {
		return 0, ErrNoMessageFound
	}
	seq := st.nextMatchingLocked(filter, from)
	if seq == 0 || seq > st.committed {
		return 0, ErrNoMessageFound
	}
	return seq, nil
}

// SubjectsCount returns how many live messages each subject matching
// filter has.
func (st *Stream) SubjectsCount(filter string) map[string]uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.subj.counts(filter)
}

// addEntryLocked indexes a message record stored at off in b.
func (st *Stream) addEntryLocked(b *block, off int64, seq uint64, subject, header, data []byte) {
	if !b.hasMsgs() {
		b.first = seq
		b.resetEntries()
	}
	for b.last()+1 < seq { // a gap left by a damaged record
		b.appendEntry(entry{off: deletedOff})
	}
	id := st.subj.add(subject, seq)
	size := msgSize(subject, header, data)
	b.appendEntry(entry{off: uint32(off), subj: id, size: uint32(size)})
	b.live++
	st.state.msgs++
	st.state.bytes += size
	if st.state.first == 0 || st.state.msgs == 1 {
		st.state.first = seq
	}
	st.state.last = max(st.state.last, seq)
	if st.changes != nil {
		st.changes.record(seq, st.subj.name(id), true)
	}
}

// removeLocked deletes seq from the indexes; it reports whether it was
// live. The caller decides whether a delete record is needed.
func (st *Stream) removeLocked(seq uint64) bool {
	b := st.blockFor(seq)
	if b == nil {
		return false
	}
	e, err := st.entryOf(b, seq)
	if err != nil {
		// Its record cannot be read now: the message stays until it can.
		st.store.log.Error("cannot delete a stored message", "stream", st.name, "seq", seq, "error", err)
		return false
	}
	if e.off == deletedOff {
		return false
	}
	size := uint64(e.size)
	if e.off == unreadableOff {
		// Its subject is unknown: that subject keeps counting it.
		st.store.log.Error("deleting a message whose record is damaged", "stream", st.name, "seq", seq)
	} else {
		if st.changes != nil {
			st.changes.record(seq, st.subj.name(e.subj), false)
		}
		st.subj.remove(e.subj, seq)
	}
	b.markDeleted(seq)
	b.live--
	st.state.msgs--
	st.state.bytes -= min(size, st.state.bytes)
	if seq == st.state.first {
		st.advanceFirstLocked()
	}
	return true
}

// advanceFirstLocked moves state.first to the lowest live sequence, or to
// last+1 when nothing is left.
func (st *Stream) advanceFirstLocked() {
	if st.state.msgs == 0 {
		st.state.first = st.state.last + 1
		return
	}
	for _, b := range st.blocks {
		if b.live == 0 || !b.hasMsgs() || b.last() < st.state.first {
			continue
		}
		start := max(st.state.first, b.first)
		for seq := start; seq <= b.last(); seq++ {
			if b.isLive(seq) {
				st.state.first = seq
				return
			}
		}
	}
}

// deleteLocked removes seq and queues its delete record.
func (st *Stream) deleteLocked(seq uint64) bool {
	if !st.removeLocked(seq) {
		return false
	}
	st.pendingDel = append(st.pendingDel, seq)
	return true
}

// dropEmptyFrontBlocksLocked retires front blocks without live messages.
// The tail block always stays: it carries the highest sequence on disk.
func (st *Stream) dropEmptyFrontBlocksLocked() {
	for len(st.blocks) > 1 && st.blocks[0].live == 0 {
		st.doomed = append(st.doomed, st.blocks[0])
		st.blocks[0] = nil
		st.blocks = st.blocks[1:]
	}
}
