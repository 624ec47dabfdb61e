package jetstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Recovery rebuilds a stream's indexes from its block files. It trusts no
// record without its checksum; a damaged record is skipped when a valid one
// follows it, and a torn or damaged tail is cut off. Everything dropped is
// logged with the byte range it occupied. It never deletes a stream or a
// block file on its own.

// load (re)builds the stream from its directory: from the index file of
// a clean stop when it is there and matches the blocks, else from the
// blocks alone (stream lock held).
func (f *fileStorage) load(st *Stream) error {
	ids, err := f.blockIDs(st)
	if err != nil {
		return err
	}
	st.resetIndexesLocked()
	// The index lists live messages only: the positions of sources whose
	// messages were removed come from the file of the same clean stop.
	f.loadSourcePositions(st)
	if err := f.loadIndex(st, ids); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			st.store.log.Warn("index file unusable; rebuilding from blocks", "stream", st.name, "error", err)
		}
		st.closeBlocksLocked()
		st.resetIndexesLocked()
		for _, id := range ids {
			if err := f.loadBlock(st, id); err != nil {
				return err
			}
			st.nextID = id + 1
		}
	}
	st.endRecoveredBatchLocked()
	if len(st.blocks) == 0 {
		if _, err := st.newBlockLocked(); err != nil {
			return err
		}
	}
	if st.state.msgs == 0 && st.state.last > 0 {
		st.state.first = st.state.last + 1
	}
	st.committed = st.state.last
	return nil
}

func (st *Stream) resetIndexesLocked() {
	st.blocks = nil
	st.subj = newSubjectIndex()
	st.state = counters{}
	st.dedup = dedupIndex{}
	st.features.resetStored()
	st.lastID = ""
	st.dedupSince = st.store.now().Add(-st.cfg.Duplicates).UnixNano()
	st.pendingDel = nil
	st.doomed = nil
	st.damage = nil
	st.nextID = 1
	st.cacheMu.Lock()
	st.cached = nil
	st.hotList = nil
	st.cacheMu.Unlock()
}

// blockIDs lists the block files in order.
func (f *fileStorage) blockIDs(st *Stream) ([]uint32, error) {
	entries, err := f.fs.ReadDir(f.blockDir())
	if err != nil {
		return nil, err
	}
	var ids []uint32
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".blk") {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, ".blk"), 10, 32)
		if err != nil {
			st.store.log.Warn("ignoring unexpected file in stream", "stream", st.name, "file", name)
			continue
		}
		ids = append(ids, uint32(id))
	}
	slices.Sort(ids)
	return ids, nil
}

// loadBlock scans one block file into the indexes, cutting off a torn or
// damaged tail.
func (f *fileStorage) loadBlock(st *Stream, id uint32) error {
	path := filepath.Join(f.blockDir(), blockFileName(id))
	file, err := f.fs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return err
	}
	data := make([]byte, info.Size())
	if _, err := file.ReadAt(data, 0); err != nil && info.Size() > 0 {
		file.Close()
		return fmt.Errorf("reading %s: %w", path, err)
	}
	b := &block{id: id, path: path, file: file, first: st.state.last + 1}
	st.appendBlockLocked(b)
	var dmg blockDamage
	valid := st.scanBlockLocked(b, data, 0, &dmg)
	if valid < len(data) {
		dmg.tail = len(data) - valid
		st.noteCutLocked(b, valid, len(data))
		if err := file.Truncate(int64(valid)); err != nil {
			return fmt.Errorf("truncating %s: %w", path, err)
		}
		data = data[:valid]
	}
	dmg.report(st, b, valid)
	b.size, b.written, b.synced = int64(valid), int64(valid), int64(valid)
	b.cache.Store(&data)
	// Only the tail keeps its bytes; older blocks are read back on demand.
	if n := len(st.blocks); n > 1 {
		st.blocks[n-2].cache.Store(nil)
	}
	return nil
}

// scanBlockLocked applies every valid record of data from offset start on
// to the indexes and returns the length of the prefix worth keeping; the
// ranges it skips go into dmg.
func (st *Stream) scanBlockLocked(b *block, data []byte, start int, dmg *blockDamage) int {
	off := start
	for off < len(data) {
		rec, n, err := decodeRecord(data[off:])
		if err == nil && st.plausibleLocked(rec) {
			if rec.kind == kindMsg && rec.seq > b.last()+1 {
				dmg.missing += rec.seq - b.last() - 1
			}
			st.applyRecoveredLocked(b, off, rec)
			off += n
			continue
		}
		next := nextValidRecord(data, off)
		if next < 0 {
			return off
		}
		dmg.skip(off, next)
		st.noteSkippedLocked(b, off, next)
		off = next
	}
	return off
}

// blockDamage is what recovery dropped from one block, reported in one log
// line per block however many places were damaged.
type blockDamage struct {
	ranges  int      // damaged ranges skipped between good records
	skipped int      // their bytes
	shown   []string // the first few ranges, "from-to" byte offsets
	tail    int      // bytes of a torn or damaged tail cut off
	missing uint64   // sequences between good records with no record
	bad     int      // indexed messages that failed their checksum
}

// maxShownRanges bounds the byte ranges one summary line lists.
const maxShownRanges = 4

func (d *blockDamage) skip(from, to int) {
	d.ranges++
	d.skipped += to - from
	if len(d.shown) < maxShownRanges {
		d.shown = append(d.shown, fmt.Sprintf("%d-%d", from, to))
	}
}

// report logs the summary, if anything was dropped.
func (d *blockDamage) report(st *Stream, b *block, kept int) {
	// Sequence gaps alone are no damage: a restart after a crash starts
	// above the high-water mark and leaves one.
	if d.ranges == 0 && d.tail == 0 && d.bad == 0 {
		return
	}
	kv := []any{"stream", st.name, "block", b.path, "kept_bytes", kept,
		"lost_bytes", d.skipped + d.tail, "damaged_ranges", d.ranges, "cut_tail_bytes", d.tail,
		"missing_seqs", d.missing}
	if len(d.shown) > 0 {
		ranges := strings.Join(d.shown, ",")
		if d.ranges > len(d.shown) {
			ranges += fmt.Sprintf(",... (%d more)", d.ranges-len(d.shown))
		}
		kv = append(kv, "ranges", ranges)
	}
	if d.bad > 0 {
		kv = append(kv, "messages_failing_checksum", d.bad)
	}
	st.store.log.Warn("recovered a damaged block; what could not be read is dropped", kv...)
}

// plausibleLocked rejects records that passed their checksum but cannot
// belong here (sequence going backwards).
func (st *Stream) plausibleLocked(r record) bool {
	if r.kind == kindMsg {
		return r.seq > st.state.last
	}
	return true
}

func (st *Stream) applyRecoveredLocked(b *block, off int, r record) {
	switch r.kind {
	case kindMsg:
		st.recoverBatchMsgLocked(r.seq)
		st.addEntryLocked(b, int64(off), r.seq, r.subject, r.header, r.data)
		st.noteRecoveredLocked(r.seq, r.ts, r.header)
	case kindDelete:
		for _, rg := range r.ranges {
			st.state.last = max(st.state.last, rg.last)
			from := max(rg.first, st.state.first)
			for seq := from; seq <= rg.last && st.state.msgs > 0; seq++ {
				st.removeLocked(seq)
			}
		}
	case kindBatch:
		st.recoverBatchRecordLocked(r)
	case kindSources:
		for k, p := range r.sources {
			st.features.noteSource(k, p.seq, p.ident)
		}
	case kindFloor:
		if r.seq > 0 {
			st.state.last = max(st.state.last, r.seq-1)
		}
		for st.state.msgs > 0 && st.state.first < r.seq {
			st.removeLocked(st.state.first)
		}
		if st.state.msgs == 0 {
			st.state.first = st.state.last + 1
		}
	}
}

// nextValidRecord finds where the next intact record starts after a bad
// one at off, or -1. It first trusts the bad record's length field (a
// flipped bit in the body leaves it intact), then scans byte by byte.
func nextValidRecord(data []byte, off int) int {
	if off+4 <= len(data) {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if next := off + 4 + n; n > 0 && next < len(data) {
			if _, _, err := decodeRecord(data[next:]); err == nil {
				return next
			}
		}
	}
	for i := off + 1; i+recordHeaderLen+recordCRCLen <= len(data); i++ {
		n := int(binary.LittleEndian.Uint32(data[i:]))
		if n < 1+recordCRCLen || i+4+n > len(data) {
			continue
		}
		if k := data[i+4]; k != kindMsg && k != kindDelete && k != kindFloor && k != kindSources && k != kindBatch && k != kindMsgS2 {
			continue
		}
		if _, _, err := decodeRecord(data[i:]); err == nil {
			return i
		}
	}
	return -1
}

// noteRecoveredLocked restores, from one recovered message, the duplicate
// window and the id of the newest message that had one. Recovery calls it
// in sequence (and so time) order while it reads the records anyway.
func (st *Stream) noteRecoveredLocked(seq uint64, ts int64, header []byte) {
	st.noteRecoveredFeaturesLocked(seq, ts, header)
	idOf := st.store.opts.MessageID
	if len(header) == 0 || idOf == nil {
		return
	}
	id := idOf(header)
	if len(id) == 0 {
		return
	}
	st.lastID = string(id)
	if ts >= st.dedupSince {
		st.dedup.add(st.lastID, seq, ts)
	}
}

func (st *Stream) closeBlocksLocked() {
	for _, b := range st.blocks {
		if b.file != nil {
			b.file.Close()
		}
	}
}

// reloadLocked rebuilds a poisoned stream from disk. Bytes that were
// written but never made durable are cut first: after a failed fsync the
// page cache may hold data the disk does not.
func (st *Stream) reloadLocked() error {
	for _, b := range st.blocks {
		if b.file == nil {
			continue
		}
		if b.synced < b.written && st.syncAlways() {
			if err := b.file.Truncate(b.synced); err != nil {
				return err
			}
		}
		b.file.Close()
	}
	// Consumers must recount: positions in the old change log are void.
	old := st.changes
	st.changes = nil
	acked := st.committed
	err := st.storage.load(st)
	if err == nil {
		st.raiseLastLocked(acked, "acknowledged sequences were not found on reload")
		st.showLocked()
	}
	if old != nil {
		st.changes = &changeLog{ring: old.ring, epoch: old.epoch + 1}
	}
	return err
}
