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
	st.lastID = ""
	st.dedupSince = st.store.now().Add(-st.cfg.Duplicates).UnixNano()
	st.pendingDel = nil
	st.doomed = nil
	st.damage = nil
	st.nextID = 1
	st.cacheMu.Lock()
	st.cached = nil
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
	st.blocks = append(st.blocks, b)
	valid := st.scanBlockLocked(b, data, 0)
	if valid < len(data) {
		st.noteCutLocked(b, valid, len(data))
		st.store.log.Warn("cut off a torn or damaged block tail",
			"stream", st.name, "block", path, "kept_bytes", valid, "lost_bytes", len(data)-valid)
		if err := file.Truncate(int64(valid)); err != nil {
			return fmt.Errorf("truncating %s: %w", path, err)
		}
		data = data[:valid]
	}
	b.size, b.written, b.synced = int64(valid), int64(valid), int64(valid)
	b.cache.Store(&data)
	// Only the tail keeps its bytes; older blocks are read back on demand.
	if n := len(st.blocks); n > 1 {
		st.blocks[n-2].cache.Store(nil)
	}
	return nil
}

// scanBlockLocked applies every valid record of data from offset start on
// to the indexes and returns the length of the prefix worth keeping.
func (st *Stream) scanBlockLocked(b *block, data []byte, start int) int {
	off := start
	for off < len(data) {
		rec, n, err := decodeRecord(data[off:])
		if err == nil && st.plausibleLocked(rec) {
			st.applyRecoveredLocked(b, off, rec)
			off += n
			continue
		}
		next := nextValidRecord(data, off)
		if next < 0 {
			return off
		}
		st.noteSkippedLocked(b, off, next)
		st.store.log.Warn("skipped a damaged record range",
			"stream", st.name, "block", b.path, "from", off, "to", next)
		off = next
	}
	return off
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
		if k := data[i+4]; k != kindMsg && k != kindDelete && k != kindFloor {
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
	err := st.storage.load(st)
	if old != nil {
		st.changes = &changeLog{ring: old.ring, epoch: old.epoch + 1}
	}
	return err
}
