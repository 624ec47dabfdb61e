package broker

import "math/bits"

// Large payloads split across reads. A payload bigger than what one read
// brings (a 64 KiB message never fits the 64 KiB read buffer with its
// control line) is gathered by the parser in a buffer of its own. Without
// help that costs two copies per message — into the parser's buffer, then
// into every receiver's outbound chunks — and, for payloads larger than
// the parser keeps, an allocation per message. The client therefore lends
// the parser a reference-counted buffer (parser.SplitBuffers) from the
// read-buffer pools: the payload is gathered there once and queued by
// reference like a large payload in a read buffer. The client holds one
// reference while the parser fills it and drops it once the parser is no
// longer gathering into it (readLoop); receivers hold theirs until written.

// SplitBuffer lends the parser a buffer for a split payload of n bytes
// (parser.SplitBuffers); nil for payloads small enough to copy.
func (c *client) SplitBuffer(n int) []byte {
	if n < zeroCopyMin {
		return nil
	}
	c.dropSplitBuf()
	var rb *readBuf
	if n <= maxPooledBuf {
		rb = getReadBuf(max(minReadBuf, 1<<bits.Len(uint(n-1))))
	} else {
		rb = &readBuf{b: make([]byte, n)}
		rb.refs.Store(1)
	}
	c.splitBuf = rb
	return rb.b[:n]
}

// dropSplitBuf lets go of the lent buffer (receivers may still hold it).
func (c *client) dropSplitBuf() {
	if c.splitBuf != nil {
		c.splitBuf.release()
		c.splitBuf = nil
	}
}
