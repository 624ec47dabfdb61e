package jetstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"slices"
)

// How far each source of a stream was copied must survive a restart
// exactly, or the stream would copy messages twice or skip some. The
// position is kept where the messages are, so that it is as durable as
// they are and no extra fsync is needed:
//
//   - every copied message carries its source and origin sequence in its
//     header (read back through Headers.SourcePosition), in the same
//     checksummed record as the message;
//   - a message may later be deleted (limits, acks, purges) and its block
//     retired, so every new block starts with a kindSources record holding
//     every position known when the block was started;
//   - the index file of a clean stop lists only live messages, so a clean
//     stop also writes the positions to sources.json, read with the index
//     (a rebuild from the blocks does not need it: every position is in
//     the blocks still there, in a message or in a block's first record).
//
// A mirror needs none of this: its messages keep their origin sequences,
// so the stream's last sequence is the mirror's position.
//
// Recovery takes the highest position any of these gives for a source.

// kindSources: u32 n, then n × (u16 key length, key, u64 seq, u16 ident
// length, ident).
const kindSources byte = 4

// sourcesFile holds the positions at a clean stop.
const sourcesFile = "sources.json"

// appendSourcesRecord encodes the positions of every source.
func appendSourcesRecord(dst []byte, positions map[string]sourcePos) []byte {
	keys := make([]string, 0, len(positions))
	body := 4
	for k, p := range positions {
		keys = append(keys, k)
		body += 2 + len(k) + 8 + 2 + len(p.ident)
	}
	slices.Sort(keys)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+body+recordCRCLen))
	dst = append(dst, kindSources)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		p := positions[k]
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.LittleEndian.AppendUint64(dst, p.seq)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(p.ident)))
		dst = append(dst, p.ident...)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], crcTable))
}

// decodeSources reads a kindSources body.
func (r *record) decodeSources(body []byte) error {
	if len(body) < 4 {
		return errCorruptRecord
	}
	n := int(binary.LittleEndian.Uint32(body))
	rest := body[4:]
	r.sources = make(map[string]sourcePos, min(n, 1024))
	str := func() (string, bool) {
		if len(rest) < 2 {
			return "", false
		}
		l := int(binary.LittleEndian.Uint16(rest))
		if len(rest) < 2+l {
			return "", false
		}
		s := string(rest[2 : 2+l])
		rest = rest[2+l:]
		return s, true
	}
	for i := 0; i < n; i++ {
		key, ok := str()
		if !ok || len(rest) < 8 {
			return errCorruptRecord
		}
		seq := binary.LittleEndian.Uint64(rest)
		rest = rest[8:]
		ident, ok := str()
		if !ok {
			return errCorruptRecord
		}
		r.sources[key] = sourcePos{seq: seq, ident: ident}
	}
	if len(rest) != 0 {
		return errCorruptRecord
	}
	return nil
}

// startBlockLocked writes what a new block must start with: the source
// positions, when the stream copies sources.
func (st *Stream) startBlockLocked(b *block) {
	if len(st.features.sources) > 0 {
		b.appendRecords(appendSourcesRecord(nil, st.features.sources), st.store.opts.BlockSize)
	}
}

// saveSourcesLocked keeps the positions of a cleanly stopped file stream.
func (st *Stream) saveSourcesLocked() {
	if f, ok := st.storage.(*fileStorage); ok {
		if err := f.saveSourcePositions(st.features.sources); err != nil {
			st.store.log.Warn("cannot write source positions; the blocks keep them", "stream", st.name, "error", err)
		}
	}
}

// sourcePosJSON is a position in the positions file.
type sourcePosJSON struct {
	Seq   uint64 `json:"seq"`
	Ident string `json:"ident,omitempty"`
}

// saveSourcePositions writes the positions of a cleanly stopped stream.
func (f *fileStorage) saveSourcePositions(positions map[string]sourcePos) error {
	path := filepath.Join(f.dir, sourcesFile)
	if len(positions) == 0 {
		if err := f.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	out := make(map[string]sourcePosJSON, len(positions))
	for k, p := range positions {
		out[k] = sourcePosJSON{Seq: p.seq, Ident: p.ident}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return writeFileAtomic(f.fs, path, append(data, '\n'))
}

// loadSourcePositions merges the positions of the last clean stop.
func (f *fileStorage) loadSourcePositions(st *Stream) {
	raw, err := f.fs.ReadFile(filepath.Join(f.dir, sourcesFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			st.store.log.Warn("cannot read source positions", "stream", st.name, "error", err)
		}
		return
	}
	var positions map[string]sourcePosJSON
	if err := json.Unmarshal(raw, &positions); err != nil {
		// Damaged: the blocks' own records are all there is.
		st.store.log.Warn("source positions file unusable", "stream", st.name, "error", err)
		return
	}
	for k, p := range positions {
		st.features.noteSource(k, p.Seq, p.Ident)
	}
}

// SourcePositions returns how far each source was copied, by source key.
func (st *Stream) SourcePositions() map[string]uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make(map[string]uint64, len(st.features.sources))
	for k, p := range st.features.sources {
		out[k] = p.seq
	}
	return out
}
