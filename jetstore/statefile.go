package jetstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The index file makes a clean restart fast: on a clean stop each stream
// writes its block table (which sequences each block holds and which of
// them are deleted) with a checksum; on open the index is trusted only if
// its checksum holds and every block it lists still has at least the bytes
// it recorded. The loader reads the blocks' message records (each must
// pass its checksum) but applies none of their delete records: the index
// says what is deleted. Bytes appended after the snapshot are scanned as
// records; any disagreement falls back to rebuilding from the blocks. The
// file is removed once loaded, so a later crash always recovers from the
// blocks.
//
// Layout (little endian): magic, u32 version, u64 first, u64 last,
// u32 block count, per block {u32 id, u64 first, u64 size, u32 sequences,
// ceil(sequences/64) × u64 deleted bitmap}, u16 length + last message id,
// u32 crc32c of all the preceding bytes.
const (
	indexFile    = "index.db"
	indexMagic   = "MIDGEIDX"
	indexVersion = 2
)

var errIndexMismatch = errors.New("index does not match the blocks")

// saveIndex snapshots the indexes (after a clean stop).
func (f *fileStorage) saveIndex(st *Stream) error {
	b := []byte(indexMagic)
	b = binary.LittleEndian.AppendUint32(b, indexVersion)
	b = binary.LittleEndian.AppendUint64(b, st.state.first)
	b = binary.LittleEndian.AppendUint64(b, st.state.last)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(st.blocks)))
	for _, blk := range st.blocks {
		b = binary.LittleEndian.AppendUint32(b, blk.id)
		b = binary.LittleEndian.AppendUint64(b, blk.first)
		b = binary.LittleEndian.AppendUint64(b, uint64(blk.synced))
		b = binary.LittleEndian.AppendUint32(b, uint32(blk.n))
		for _, w := range blk.deadBits() {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(st.lastID)))
	b = append(b, st.lastID...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	return writeFileAtomic(f.fs, filepath.Join(f.dir, indexFile), b)
}

// indexReader decodes the index file, remembering the first error.
type indexReader struct {
	b   []byte
	err error
}

func (r *indexReader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errIndexMismatch
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *indexReader) u16() uint16 { return binary.LittleEndian.Uint16(r.take(2)) }
func (r *indexReader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *indexReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }

// loadIndex rebuilds the indexes from the index file and the bytes
// appended since. On any error the caller rebuilds from the blocks.
func (f *fileStorage) loadIndex(st *Stream, ids []uint32) error {
	path := filepath.Join(f.dir, indexFile)
	raw, err := f.fs.ReadFile(path)
	if err != nil {
		return err
	}
	// Whatever happens next, a crash must not find this snapshot again.
	defer f.fs.Remove(path)
	if len(raw) < len(indexMagic)+8 || string(raw[:len(indexMagic)]) != indexMagic {
		return errIndexMismatch
	}
	body, sum := raw[:len(raw)-4], binary.LittleEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return errIndexMismatch
	}
	r := &indexReader{b: body[len(indexMagic):]}
	if r.u32() != indexVersion {
		return errIndexMismatch
	}
	first, last := r.u64(), r.u64()
	nblocks := int(r.u32())
	if r.err != nil || nblocks > len(ids) {
		return errIndexMismatch
	}
	sizes := make([]uint64, nblocks)
	for i := 0; i < nblocks; i++ {
		if err := f.loadIndexedBlock(st, r, ids[i], &sizes[i]); err != nil {
			return err
		}
	}
	if lastID := string(r.take(int(r.u16()))); lastID != "" {
		st.lastID = lastID // newer than any id seen in the live messages' records
	}
	if r.err != nil || len(r.b) != 0 {
		return errIndexMismatch
	}
	st.state.first, st.state.last = first, last
	st.advanceFirstLocked() // in case the first message failed its checksum
	// Records written after the snapshot, then blocks created after it.
	for i, b := range st.blocks {
		if err := st.scanTailLocked(b, int64(sizes[i])); err != nil {
			return err
		}
	}
	for _, id := range ids[nblocks:] {
		if err := f.loadBlock(st, id); err != nil {
			return err
		}
		st.nextID = id + 1
	}
	return nil
}

// loadIndexedBlock reads one block's table, opens its file and indexes
// the live messages of its records.
func (f *fileStorage) loadIndexedBlock(st *Stream, r *indexReader, wantID uint32, size *uint64) error {
	id, first, recorded, n := r.u32(), r.u64(), r.u64(), int(r.u32())
	if r.err != nil || id != wantID || n/64 > len(r.b)/8 {
		return errIndexMismatch
	}
	dead := &coldIndex{dead: make([]uint64, (n+63)/64)}
	for i := range dead.dead {
		dead.dead[i] = r.u64()
	}
	path := filepath.Join(f.blockDir(), blockFileName(id))
	file, err := f.fs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	b := &block{id: id, path: path, file: file, first: first}
	st.appendBlockLocked(b)
	info, err := file.Stat()
	if err != nil || uint64(info.Size()) < recorded {
		return errIndexMismatch
	}
	data := make([]byte, recorded)
	if _, err := file.ReadAt(data, 0); err != nil && recorded > 0 {
		return err
	}
	var dmg blockDamage
	defer func() { dmg.report(st, b, int(recorded)) }()
	// The records of the block's messages come in sequence order; a live
	// sequence without an intact record is lost (counted as damage), and a
	// deleted one keeps its place. Other records are not needed here.
	skipTo := func(seq uint64) {
		for b.first+uint64(b.n) < seq {
			if !dead.isDead(uint64(b.n)) {
				dmg.bad++
			}
			b.appendEntry(entry{off: deletedOff})
		}
	}
	for off := 0; off < len(data); {
		rec, size, err := decodeRecord(data[off:])
		if err != nil {
			if off = nextValidRecord(data, off); off < 0 {
				break
			}
			continue
		}
		if rec.kind == kindMsg && rec.seq >= b.first+uint64(b.n) && rec.seq < first+uint64(n) {
			skipTo(rec.seq)
			if dead.isDead(rec.seq - first) {
				b.appendEntry(entry{off: deletedOff})
			} else {
				st.addEntryLocked(b, int64(off), rec.seq, rec.subject, rec.header, rec.data)
				st.noteRecoveredLocked(rec.seq, rec.ts, rec.header)
			}
		}
		off += size
	}
	skipTo(first + uint64(n))
	b.size, b.written, b.synced = int64(recorded), int64(recorded), int64(recorded)
	st.nextID = id + 1
	*size = recorded
	return r.err
}

// scanTailLocked applies records appended to b after its indexed size.
func (st *Stream) scanTailLocked(b *block, from int64) error {
	info, err := b.file.Stat()
	if err != nil {
		return err
	}
	isTail := b == st.blocks[len(st.blocks)-1]
	if info.Size() == from && !isTail {
		return nil
	}
	data := make([]byte, info.Size())
	if _, err := b.file.ReadAt(data, 0); err != nil && info.Size() > 0 {
		return fmt.Errorf("reading %s: %w", b.path, err)
	}
	valid := int(from)
	if info.Size() > from {
		var dmg blockDamage
		valid = st.scanBlockLocked(b, data, int(from), &dmg)
		if valid < len(data) {
			dmg.tail = len(data) - valid
			if err := b.file.Truncate(int64(valid)); err != nil {
				return err
			}
		}
		dmg.report(st, b, valid)
		b.size, b.written, b.synced = int64(valid), int64(valid), int64(valid)
	}
	data = data[:valid]
	if isTail {
		b.cache.Store(&data)
	}
	return nil
}
