package jetstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// The sequence high-water mark keeps sequences from ever going backwards.
// Recovery without an index file rebuilds a stream's last sequence from its
// records, so a lost or damaged final record would make the next publish
// reuse a sequence that was already acknowledged. Each file stream
// therefore keeps, in a small file of its own, a sequence at or above every
// sequence it ever assigned; no sequence above the recorded mark is
// acknowledged before the mark is fsynced. Recovery after a crash starts
// above the mark, and the sequences between the last record found and the
// mark become deleted ones.
//
// The mark is reserved ahead in ranges so that a busy stream fsyncs the
// file about once a second, not once per batch; the range follows the
// publish rate (reservedMin to reservedMax sequences). A clean stop writes
// the exact last sequence, so a restart leaves no gap.
//
// The file is a run of 12-byte records, u64 mark and its CRC32C (little
// endian); the highest intact one counts. A write that failed is never
// appended to: the next reservation rewrites the file whole.
const (
	highWaterFile   = "seq.hw"
	highWaterRecLen = 12
	// highWaterRewriteAt is the size past which a reservation rewrites the
	// file with its one record instead of appending.
	highWaterRewriteAt = 4096
	reservedMin        = 64
	reservedMax        = 1 << 20
)

// highWater is a file stream's mark. Its mutex serialises reservations;
// reserved is read without it on the fast path.
type highWater struct {
	reserved atomic.Uint64

	mu     sync.Mutex
	file   File // open for appending; nil until the first reservation, or after a failure
	size   int64
	chunk  uint64
	lastAt time.Time // when the previous range was reserved
}

func encodeHighWater(dst []byte, seq uint64) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// readHighWater returns the stored mark (0 without one) and makes it the
// reserved one.
func (f *fileStorage) readHighWater() uint64 {
	raw, err := f.fs.ReadFile(filepath.Join(f.dir, highWaterFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.log.Warn("cannot read the sequence high-water mark", "dir", f.dir, "error", err)
		}
		return 0
	}
	var mark uint64
	for off := 0; off+highWaterRecLen <= len(raw); off += highWaterRecLen {
		rec := raw[off : off+highWaterRecLen]
		if crc32.Checksum(rec[:8], crcTable) == binary.LittleEndian.Uint32(rec[8:]) {
			mark = max(mark, binary.LittleEndian.Uint64(rec))
		}
	}
	f.hw.reserved.Store(mark)
	return mark
}

// reserve makes durable that sequences up to at least seq may be handed
// out, reserving a range ahead. It returns at once when seq is reserved.
func (f *fileStorage) reserve(seq uint64, now time.Time) error {
	if seq <= f.hw.reserved.Load() {
		return nil
	}
	f.hw.mu.Lock()
	defer f.hw.mu.Unlock()
	if seq <= f.hw.reserved.Load() {
		return nil
	}
	mark := seq + f.nextRange(now)
	if err := f.writeHighWater(mark); err != nil {
		return err
	}
	f.hw.reserved.Store(mark)
	return nil
}

// nextRange sizes the next reservation to last about a second at the
// rate the previous one was used up.
func (f *fileStorage) nextRange(now time.Time) uint64 {
	h := &f.hw
	chunk := uint64(reservedMin)
	if !h.lastAt.IsZero() {
		elapsed := max(now.Sub(h.lastAt), time.Millisecond)
		chunk = h.chunk * uint64(time.Second) / uint64(elapsed)
	}
	h.chunk, h.lastAt = min(max(chunk, reservedMin), reservedMax), now
	return h.chunk
}

// writeHighWater appends mark and fsyncs it, or rewrites the file when it
// grew or a write failed before.
func (f *fileStorage) writeHighWater(mark uint64) error {
	h := &f.hw
	rec := encodeHighWater(nil, mark)
	if h.file == nil || h.size+highWaterRecLen > highWaterRewriteAt {
		return f.rewriteHighWater(rec)
	}
	if _, err := h.file.Write(rec); err != nil {
		f.dropHighWaterFile()
		return err
	}
	if err := h.file.Sync(); err != nil {
		f.dropHighWaterFile()
		return err
	}
	h.size += highWaterRecLen
	return nil
}

// rewriteHighWater replaces the file with the one record rec, atomically,
// and reopens it for appending.
func (f *fileStorage) rewriteHighWater(rec []byte) error {
	f.dropHighWaterFile()
	path := filepath.Join(f.dir, highWaterFile)
	if err := writeFileAtomic(f.fs, path, rec); err != nil {
		return err
	}
	file, err := f.fs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	f.hw.file, f.hw.size = file, int64(len(rec))
	return nil
}

func (f *fileStorage) dropHighWaterFile() {
	if f.hw.file != nil {
		f.hw.file.Close()
		f.hw.file = nil
	}
}

// closeHighWater closes the file at a stop; with exact (a clean stop:
// everything is durable) it first records last as the mark, so that the
// next start continues right after it.
func (f *fileStorage) closeHighWater(last uint64, exact bool) error {
	f.hw.mu.Lock()
	defer f.hw.mu.Unlock()
	var err error
	if exact {
		if err = f.rewriteHighWater(encodeHighWater(nil, last)); err == nil {
			f.hw.reserved.Store(last)
		}
	}
	f.dropHighWaterFile()
	return err
}

// raiseLastToHighWaterLocked starts a recovered stream above its mark. A
// mirror is the exception: its sequences are its origin's, so a copy that
// was lost is copied again under the same sequence, and raising its last
// sequence would make it skip origin messages it never stored.
func (st *Stream) raiseLastToHighWaterLocked(files *fileStorage) {
	if st.cfg.Mirror != nil {
		return
	}
	st.raiseLastLocked(files.readHighWater(), "sequences assigned before a crash were not recovered")
}

// raiseLastLocked makes mark the stream's last sequence when recovery
// found less: the sequences above the last record found may have been
// acknowledged and are gone, so they count as deleted, and the next
// publish gets mark+1.
func (st *Stream) raiseLastLocked(mark uint64, why string) {
	if mark <= st.state.last {
		return
	}
	st.store.log.Warn(why+"; they count as deleted", "stream", st.name, "from", st.state.last+1, "to", mark)
	if st.raised == nil {
		st.raised = &raisedTail{last: st.state.last, first: st.state.first, committed: st.committed}
	}
	st.raised.mark = mark
	st.state.last = mark
	if st.state.msgs == 0 {
		st.state.first = mark + 1
	}
	if tail := st.blocks[len(st.blocks)-1]; !tail.hasMsgs() {
		if st.raised.tail == nil {
			st.raised.tail, st.raised.tailFirst = tail, tail.first
		}
		tail.first = mark + 1
	}
	st.committed = mark
}

// raisedTail is what raiseLastLocked changed, so that a replica's local
// stream can take it back (ForgetLostTail).
type raisedTail struct {
	mark, last, first, committed uint64
	tail                         *block // the tail whose first moved, if it did
	tailFirst                    uint64
}

// ForgetLostTail undoes, for a replica's local stream, what recovery did
// to keep sequences from going backwards: the sequences between the last
// record it found and the high-water mark were counted as deleted. A
// replica's sequences are its group's, not its own (as a mirror's are its
// origin's), so it must get those messages again from the group instead:
// its last sequence goes back to the last record it holds. It reports the
// range taken back (from > to: none) and does nothing once the stream was
// written to since.
func (st *Stream) ForgetLostTail() (from, to uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.raised
	st.raised = nil
	if r == nil || st.state.last != r.mark {
		return 1, 0
	}
	from, to = r.last+1, r.mark
	st.state.last, st.state.first, st.committed = r.last, r.first, r.committed
	if r.tail != nil && !r.tail.hasMsgs() {
		r.tail.first = r.tailFirst
	}
	st.showLocked()
	return from, to
}
