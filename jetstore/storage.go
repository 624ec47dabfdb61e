package jetstore

import "time"

// storage is where a stream keeps what outlives a restart: its
// configuration, its block files, the index file of a clean stop, and the
// state of its durable consumers. fileStorage keeps them in the stream's
// directory; memStorage keeps nothing outside the process: a memory
// stream's block buffers are the only copy of its messages, and its
// consumers keep their state in memory.
//
// Everything else (the block format, the indexes, the commit pipeline,
// limits, consumers) is the same for both; the stream calls its storage at
// these points only.
type storage interface {
	// persistent reports whether the stream's data survives a restart:
	// written bytes must then be fsynced under the sync policy.
	persistent() bool
	// create records a new stream: its place and configuration.
	create(m streamMeta) error
	// saveMeta records a changed configuration.
	saveMeta(m streamMeta) error
	// newBlockFile creates the file of a new block; a nil File means the
	// block lives in its buffer only.
	newBlockFile(id uint32) (File, string, error)
	// load (re)builds the stream's blocks and indexes from what is stored,
	// on open and after a storage failure (stream lock held).
	load(st *Stream) error
	// saveIndex snapshots the indexes after a clean stop, so that the next
	// load is fast (stream lock held).
	saveIndex(st *Stream) error
	// reserve makes durable that sequences up to seq may be handed out
	// (highwater.go) before any of them is acknowledged.
	reserve(seq uint64, now time.Time) error
	// closeHighWater ends the mark's use at a stop; exact (a clean stop)
	// records last as the mark.
	closeHighWater(last uint64, exact bool) error
	// retire removes blocks that a durable batch emptied.
	retire(blocks []*block)
	// remove deletes everything stored for the stream.
	remove() error
	// consumerDir is where the durable consumer name keeps its state; ok
	// is false when consumers of this stream keep their state in memory.
	consumerDir(name string) (dir string, ok bool)
	// consumerNames lists the consumers with stored state.
	consumerNames() ([]string, error)
}

// memStorage backs memory streams.
type memStorage struct{}

func (memStorage) persistent() bool                          { return false }
func (memStorage) create(streamMeta) error                   { return nil }
func (memStorage) saveMeta(streamMeta) error                 { return nil }
func (memStorage) newBlockFile(uint32) (File, string, error) { return nil, "", nil }
func (memStorage) saveIndex(*Stream) error                   { return nil }
func (memStorage) retire([]*block)                           {}
func (memStorage) reserve(uint64, time.Time) error           { return nil }
func (memStorage) closeHighWater(uint64, bool) error         { return nil }
func (memStorage) remove() error                             { return nil }
func (memStorage) consumerDir(string) (string, bool)         { return "", false }
func (memStorage) consumerNames() ([]string, error)          { return nil, nil }

// load has nothing to rebuild: the block buffers are what is stored, and a
// memory stream never fails a write that would call for a reload.
func (memStorage) load(*Stream) error { return nil }
