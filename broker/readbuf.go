package broker

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Read buffers are reference counted so that outbound queues may point at a
// large payload where the read loop read it instead of copying it once per
// receiver. The read loop holds one reference while it owns the buffer;
// each queued payload holds one more until its writer has written it. A
// read loop whose buffer is still referenced after a parse takes a fresh
// one for the next read, and the old buffer goes back to its pool when the
// last writer lets go.

// Read buffer sizes: a connection starts small (idle connections are cheap)
// and grows while reads fill the buffer, up to the size that amortises a
// read syscall well.
const (
	minReadBuf = 512
	maxReadBuf = 64 << 10
)

// zeroCopyMin is the smallest payload queued by reference: below it a copy
// costs less than the reference counting, the extra iovec and, above all,
// the fresh (cold) read buffer the read loop must take while the old one is
// referenced; a copy out of a buffer that stays hot is cheap.
const zeroCopyMin = 16 << 10

type readBuf struct {
	b    []byte
	refs atomic.Int32
}

// maxPooledBuf is the largest buffer kept in the pools: read buffers stop
// at maxReadBuf, buffers for large split payloads (splitbuf.go) go on to
// here; larger ones are left to the garbage collector.
const maxPooledBuf = 1 << 20

// readBufPools holds buffers by size class, minReadBuf << i.
var readBufPools [12]sync.Pool // 512 B .. 1 MiB

func readBufClass(size int) int { return bits.Len(uint(size/minReadBuf)) - 1 }

// getReadBuf returns a buffer of size bytes (a power of two between
// minReadBuf and maxReadBuf) owned by the caller (one reference).
func getReadBuf(size int) *readBuf {
	rb, _ := readBufPools[readBufClass(size)].Get().(*readBuf)
	if rb == nil {
		rb = &readBuf{b: make([]byte, size)}
	}
	rb.refs.Store(1)
	return rb
}

func (rb *readBuf) retain() { rb.refs.Add(1) }

// release drops a reference; the last one returns the buffer to its pool
// (when it has a pool's size).
func (rb *readBuf) release() {
	if rb.refs.Add(-1) == 0 && len(rb.b) <= maxPooledBuf {
		readBufPools[readBufClass(len(rb.b))].Put(rb)
	}
}

// contains reports whether p lies within the buffer (a payload the parser
// copied into its own scratch, because it was split across reads, does
// not).
func (rb *readBuf) contains(p []byte) bool {
	if rb == nil || len(p) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(rb.b)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return at >= start && at+uintptr(len(p)) <= start+uintptr(len(rb.b))
}

// nextReadBufSize doubles the size of a buffer that a read filled and
// halves one that a read used less than a quarter of.
func nextReadBufSize(size, n int) int {
	switch {
	case n == size && size < maxReadBuf:
		return 2 * size
	case n < size/4 && size > minReadBuf:
		return size / 2
	}
	return size
}
