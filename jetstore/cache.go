package jetstore

import (
	"encoding/binary"
	"io"
	"slices"
)

// maxCachedBlocks bounds how many older blocks of a stream keep their bytes
// in memory after being read; the tail block is always resident.
const maxCachedBlocks = 4

// wholeBlockAfter is how many adjacent records read one by one make
// loading the whole block the cheaper way (a consumer scanning it).
const wholeBlockAfter = 16

// recordWindow is how much a single-record read fetches at first; longer
// records take a second read of their exact length.
const recordWindow = 512

// recordBytes returns bytes starting at the record at off in b: from the
// cache when the block is loaded, else from the file, record by record for
// sparse access (a filtered consumer on a big stream) and the whole block
// once access turns dense.
func (st *Stream) recordBytes(b *block, off uint32) ([]byte, error) {
	if p := b.cache.Load(); p != nil {
		return (*p)[min(int(off), len(*p)):], nil
	}
	sequential := b.nextOff.Load() == off
	if !sequential {
		b.run.Store(0)
	}
	if b.file == nil || sequential && b.run.Add(1) > wholeBlockAfter {
		buf, err := st.blockBytes(b)
		if err != nil {
			return nil, err
		}
		return buf[min(int(off), len(buf)):], nil
	}
	end := min(int64(off)+recordWindow, b.written)
	buf := make([]byte, max(end-int64(off), 0))
	if _, err := b.file.ReadAt(buf, int64(off)); err != nil && err != io.EOF {
		return nil, err
	}
	if len(buf) >= 4 {
		if n := int64(binary.LittleEndian.Uint32(buf)) + 4; n > int64(len(buf)) && n <= maxRecordLen && int64(off)+n <= b.written {
			buf = make([]byte, n)
			if _, err := b.file.ReadAt(buf, int64(off)); err != nil && err != io.EOF {
				return nil, err
			}
		}
		b.nextOff.Store(off + 4 + binary.LittleEndian.Uint32(buf))
	}
	return buf, nil
}

// blockBytes returns b's bytes, loading them from the file if needed and
// remembering the block in the stream's small LRU of loaded blocks.
func (st *Stream) blockBytes(b *block) ([]byte, error) {
	if p := b.cache.Load(); p != nil {
		return *p, nil
	}
	buf, err := b.bytes(st.store.fs)
	if err != nil {
		return nil, err
	}
	st.cacheMu.Lock()
	st.cached = append(st.cached, b)
	for len(st.cached) > maxCachedBlocks {
		old := st.cached[0]
		st.cached = st.cached[1:]
		if old != b && old.file != nil && old.written == old.size {
			old.cache.Store(nil)
		}
	}
	st.cacheMu.Unlock()
	return buf, nil
}

// releaseWrittenCaches drops the bytes of full, written, older blocks,
// which only the tail needs to keep. Called with the stream lock held.
func (st *Stream) releaseWrittenCachesLocked() {
	for _, b := range st.blocks[:len(st.blocks)-1] {
		if b.file != nil && b.written == b.size && !slices.Contains(st.cached, b) {
			b.cache.Store(nil)
		}
	}
}

func sortSeqs(s []uint64) { slices.Sort(s) }
