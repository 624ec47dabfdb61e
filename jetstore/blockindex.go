package jetstore

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
)

// A block's index of its messages has two forms, so that a stream's memory
// grows with its blocks and subjects, not with its messages:
//
//   - hot: one entry per sequence (record offset, subject id, size), what
//     reads, deletes and subject walks want. The tail block and every
//     block of a memory stream are always hot.
//   - cold: a bitmap of the deleted sequences and, for every markEvery-th
//     sequence, the offset of a record at or before it: a quarter of a
//     byte per message. An older block that nobody has looked at lately is
//     cold.
//
// A stream keeps at most maxHotBlocks older blocks hot (Stream.hotList,
// least recently heated first). A single lookup in a cold block (a read, a
// delete) reads the records from the nearest mark on; a walk over a block
// (a subject's messages, a wildcard consumer) makes it hot again by
// decoding its records, and so may turn the coldest hot block cold.
//
// Concurrency: the entries of a hot block change only under the stream's
// write lock. Readers holding the read lock may heat a block or cool
// another, which changes which form is current but never what it says;
// cooling publishes the cold form before it drops the hot one, so a reader
// that finds no hot entries always finds the cold form.

const (
	// markEvery is how many sequences one mark of a cold block covers: a
	// lookup decodes at most this many records.
	markEvery = 32
	// maxHotBlocks bounds the older blocks whose entries stay in memory.
	maxHotBlocks = 16
	// coldWindow is how much a lookup in a cold block reads at a time.
	coldWindow = 8 << 10
	// unreadableOff marks a live message whose record a block no longer
	// holds intact (damage after recovery): it stays counted, and reads
	// of it fail as reads of a record failing its checksum do.
	unreadableOff = deletedOff - 1
)

// coldIndex is the summary of a cold block. The write lock guards changes
// to dead (a delete in a cold block); marks never change.
type coldIndex struct {
	dead  []uint64 // bit i set: sequence first+i is deleted
	marks []uint32 // marks[k]: offset of a record at or before sequence first+k*markEvery
}

func (c *coldIndex) isDead(i uint64) bool { return c.dead[i/64]&(1<<(i%64)) != 0 }
func (c *coldIndex) setDead(i uint64)     { c.dead[i/64] |= 1 << (i % 64) }

// coolEntries summarises hot entries.
func coolEntries(ents []entry) *coldIndex {
	c := &coldIndex{dead: make([]uint64, (len(ents)+63)/64), marks: make([]uint32, (len(ents)+markEvery-1)/markEvery)}
	var at uint32 // offset of the newest intact record so far; 0 is the block's first record
	for i, e := range ents {
		switch e.off {
		case deletedOff:
			c.setDead(uint64(i))
		case unreadableOff:
		default:
			at = e.off
		}
		if i%markEvery == 0 {
			c.marks[i/markEvery] = at
		}
	}
	return c
}

// appendEntry indexes the block's next sequence (write lock held; the
// block is the tail, so hot).
func (b *block) appendEntry(e entry) {
	p := b.hot.Load()
	if p == nil {
		p = new([]entry)
		b.hot.Store(p)
	}
	*p = append(*p, e)
	b.n++
}

// resetEntries empties the index of a block that has no messages yet.
func (b *block) resetEntries() {
	if p := b.hot.Load(); p != nil {
		*p = (*p)[:0]
	}
	b.n = 0
}

// isLive reports whether seq, a sequence of the block, is a message not
// deleted.
func (b *block) isLive(seq uint64) bool {
	i := seq - b.first
	if p := b.hot.Load(); p != nil {
		return (*p)[i].off != deletedOff
	}
	return !b.cold.Load().isDead(i)
}

// entryOf returns seq's entry, seq being a sequence of b. In a cold block
// a live message's entry comes from reading its record; an error is a read
// error of the block file.
func (st *Stream) entryOf(b *block, seq uint64) (entry, error) {
	i := seq - b.first
	if p := b.hot.Load(); p != nil {
		return (*p)[i], nil
	}
	c := b.cold.Load()
	if c.isDead(i) {
		return entry{off: deletedOff}, nil
	}
	return st.coldEntry(b, c, seq)
}

// coldEntry reads the records of a cold block from seq's mark on until it
// finds seq's.
func (st *Stream) coldEntry(b *block, c *coldIndex, seq uint64) (entry, error) {
	off := int64(c.marks[(seq-b.first)/markEvery])
	for range markEvery * 4 { // records of other kinds may lie between messages
		buf, err := st.recordsAt(b, off)
		if err != nil {
			return entry{}, err
		}
		if len(buf) == 0 {
			break
		}
		for len(buf) > 0 {
			rec, n, err := decodeRecord(buf)
			if errors.Is(err, errTornRecord) {
				break // the window ends inside it: read on from it
			}
			if err != nil {
				// A damaged record: go on from the next intact one.
				next := nextValidRecord(buf, 0)
				if next < 0 {
					return st.unreadable(b, seq), nil
				}
				buf = buf[next:]
				off += int64(next)
				continue
			}
			if rec.kind == kindMsg && rec.seq > seq {
				return st.unreadable(b, seq), nil
			}
			if rec.kind == kindMsg && rec.seq == seq {
				return st.entryFromRecord(rec, uint32(off)), nil
			}
			buf = buf[n:]
			off += int64(n)
		}
	}
	return st.unreadable(b, seq), nil
}

// recordsAt returns bytes of b from off on: the cached bytes, or a window
// read from the file that holds at least the whole record at off.
func (st *Stream) recordsAt(b *block, off int64) ([]byte, error) {
	if p := b.cache.Load(); p != nil {
		return (*p)[min(int(off), len(*p)):], nil
	}
	if b.file == nil {
		return nil, nil
	}
	n := min(coldWindow, b.written-off)
	if n <= 0 {
		return nil, nil
	}
	buf := make([]byte, n)
	if _, err := b.file.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, err
	}
	if len(buf) >= 4 {
		if need := int64(binary.LittleEndian.Uint32(buf)) + 4; need > n && need <= maxRecordLen && off+need <= b.written {
			buf = make([]byte, need)
			if _, err := b.file.ReadAt(buf, off); err != nil && err != io.EOF {
				return nil, err
			}
		}
	}
	return buf, nil
}

func (st *Stream) entryFromRecord(rec record, off uint32) entry {
	return entry{off: off, subj: st.subj.ids[string(rec.subject)], size: uint32(msgSize(rec.subject, rec.header, rec.data))}
}

// unreadable is the entry of a live message whose record is gone.
func (st *Stream) unreadable(b *block, seq uint64) entry {
	st.store.log.Error("stored message failed its checksum", "stream", st.name, "block", b.path, "seq", seq)
	return entry{off: unreadableOff}
}

// entries returns b's entries, heating the block if it is cold. The slice
// may be read while the stream lock is held; only the write lock's holder
// may change it.
func (st *Stream) entries(b *block) ([]entry, error) {
	if p := b.hot.Load(); p != nil {
		return *p, nil
	}
	c := b.cold.Load()
	buf, err := st.blockBytes(b)
	if err != nil {
		return nil, st.store.storageFailed("cannot read a block", st.name, err)
	}
	ents := make([]entry, b.n)
	for i := range ents {
		ents[i].off = unreadableOff
		if c.isDead(uint64(i)) {
			ents[i].off = deletedOff
		}
	}
	for off := 0; off < len(buf); {
		rec, n, err := decodeRecord(buf[off:])
		if err != nil {
			if off = nextValidRecord(buf, off); off < 0 {
				break
			}
			continue
		}
		if rec.kind == kindMsg && b.contains(rec.seq) {
			if e := &ents[rec.seq-b.first]; e.off == unreadableOff {
				*e = st.entryFromRecord(rec, uint32(off))
			}
		}
		off += n
	}
	for i, e := range ents {
		if e.off == unreadableOff {
			st.unreadable(b, b.first+uint64(i))
		}
	}
	if b.hot.CompareAndSwap(nil, &ents) {
		st.heat(b)
		return ents, nil
	}
	// Another reader heated it first; by now a third may even have cooled
	// it again. Both decodings say the same, so ours serves this walk.
	if p := b.hot.Load(); p != nil {
		return *p, nil
	}
	return ents, nil
}

// heat puts b at the hot end of the stream's hot list and cools the
// coldest blocks past maxHotBlocks.
func (st *Stream) heat(b *block) {
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if i := slices.Index(st.hotList, b); i >= 0 {
		st.hotList = slices.Delete(st.hotList, i, i+1)
	}
	st.hotList = append(st.hotList, b)
	for len(st.hotList) > maxHotBlocks {
		old := st.hotList[0]
		st.hotList = slices.Delete(st.hotList, 0, 1)
		old.cool()
	}
}

// cool turns a hot block of a file stream cold. The tail is never cooled:
// the stream heats a block only when a newer one exists, and heat() cools
// the oldest of them.
func (b *block) cool() {
	p := b.hot.Load()
	if p == nil || b.file == nil {
		return
	}
	b.cold.Store(coolEntries(*p))
	b.hot.Store(nil)
}

// sealLocked is called when b stops being the tail: it joins the hot list,
// to be cooled once maxHotBlocks newer blocks were looked at.
func (st *Stream) sealLocked(b *block) {
	if b.file != nil && b.hot.Load() != nil {
		st.heat(b)
	}
}

// appendBlockLocked adds b as the stream's new tail.
func (st *Stream) appendBlockLocked(b *block) {
	if n := len(st.blocks); n > 0 {
		st.sealLocked(st.blocks[n-1])
	}
	st.blocks = append(st.blocks, b)
}

// markDeleted marks seq, a live sequence of b, deleted (write lock held).
func (b *block) markDeleted(seq uint64) {
	i := seq - b.first
	if p := b.hot.Load(); p != nil {
		(*p)[i].off = deletedOff
		return
	}
	b.cold.Load().setDead(i)
}

// deadBits returns the block's deleted-sequence bitmap (stream lock held).
func (b *block) deadBits() []uint64 {
	if p := b.hot.Load(); p != nil {
		return coolEntries(*p).dead
	}
	if c := b.cold.Load(); c != nil {
		return c.dead
	}
	return nil
}
