package jetstore

import "slices"

// maxCachedBlocks bounds how many older blocks of a stream keep their bytes
// in memory after being read; the tail block is always resident.
const maxCachedBlocks = 4

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
