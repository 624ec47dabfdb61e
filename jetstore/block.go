package jetstore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
)

// A block is one file of a stream's log (or, for memory streams, one
// in-memory buffer of the same format). Message records in a block carry
// consecutive sequences starting at first; entries indexes them.
type block struct {
	id   uint32
	path string
	file File // nil for memory streams and closed blocks
	// first is the sequence of entries[0]; a block without messages yet
	// holds the next sequence to be assigned, so that blocks stay ordered
	// by first and last() for binary search.
	first uint64

	// n is how many sequences the block indexes, from first on; their
	// entries are hot (a slice) or cold (a summary), see blockindex.go.
	// The write lock guards n and every change of an entry.
	n    int
	hot  atomic.Pointer[[]entry]
	cold atomic.Pointer[coldIndex]
	live int // sequences not deleted

	size    int64 // bytes of records in the block (valid, whether written or not)
	written int64 // bytes handed to the file
	synced  int64 // bytes made durable by fsync

	// cache holds the block's bytes; always set for the tail block and for
	// memory streams, loaded on demand (and dropped again) for the others.
	// Readers load it once and keep using the slice they got.
	cache atomic.Pointer[[]byte]
	// Reads of a block that is not loaded go to the file record by record
	// while they are sparse; a run of reads of adjacent records (a scan)
	// loads the whole block instead. nextOff is where the last record read
	// ended, run how many adjacent records were read in a row.
	nextOff atomic.Uint32
	run     atomic.Int32
}

// entry locates one sequence's message record in its block.
type entry struct {
	off  uint32 // offset of the record; deletedOff once deleted
	subj uint32 // subject id in the stream's subject table
	size uint32 // accounted size (msgSize), kept to delete without reading
}

const deletedOff = ^uint32(0)

func blockFileName(id uint32) string { return fmt.Sprintf("%08d.blk", id) }

// last is the highest sequence with an entry in the block, or first-1.
func (b *block) last() uint64 { return b.first + uint64(b.n) - 1 }

func (b *block) hasMsgs() bool { return b.n > 0 }

func (b *block) contains(seq uint64) bool {
	return b.hasMsgs() && seq >= b.first && seq <= b.last()
}

// bytes returns the block's content, reading the file when it is not
// cached. The returned slice is never modified afterwards.
func (b *block) bytes(fsys FS) ([]byte, error) {
	if p := b.cache.Load(); p != nil {
		return *p, nil
	}
	if b.file == nil {
		return nil, fmt.Errorf("block %d has no data", b.id)
	}
	buf := make([]byte, b.written)
	if _, err := b.file.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading block %s: %w", b.path, err)
	}
	b.cache.Store(&buf)
	return buf, nil
}

// appendRecords adds encoded records to the block's cache. Called by the
// committer with the stream lock held.
func (b *block) appendRecords(recs []byte, blockSize int64) {
	buf := b.room(len(recs), blockSize)
	buf = append(buf, recs...)
	b.commitBuf(buf)
}

// smallBlockBuf is how far a tail buffer grows by doubling; past it, it
// jumps to the full block size at once, so a busy stream copies its tail
// once per block instead of at every doubling, while a quiet stream (a
// small KV bucket) never holds a full block of memory.
const smallBlockBuf = 64 << 10

// room returns the cached bytes with capacity for n more.
func (b *block) room(n int, blockSize int64) []byte {
	var buf []byte
	if p := b.cache.Load(); p != nil {
		buf = *p
	}
	if len(buf)+n <= cap(buf) {
		return buf
	}
	want := max(2*cap(buf), len(buf)+n)
	if want > smallBlockBuf {
		want = max(int(blockSize)+n, len(buf)+n)
	}
	grown := make([]byte, len(buf), want)
	copy(grown, buf)
	return grown
}

// commitBuf publishes buf (from room, with records appended) as the cache.
func (b *block) commitBuf(buf []byte) {
	b.cache.Store(&buf)
	b.size = int64(len(buf))
}

// unwritten returns the bytes not yet handed to the file.
func (b *block) unwritten() []byte {
	p := b.cache.Load()
	if p == nil || b.file == nil {
		return nil
	}
	return (*p)[b.written:b.size]
}

// createBlockFile creates the file of a new block and makes its directory
// entry durable, so a synced record in it cannot vanish with the entry.
func createBlockFile(fsys FS, dir string, id uint32) (File, string, error) {
	path := filepath.Join(dir, blockFileName(id))
	f, err := fsys.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o644)
	if err != nil {
		return nil, path, err
	}
	if err := fsys.SyncDir(dir); err != nil {
		f.Close()
		return nil, path, err
	}
	return f, path, nil
}
