package broker

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// A large payload in the producer's read buffer is queued by reference: the
// buffer stays alive (and unchanged) until the writer has written it, then
// goes back to its pool.
func TestLargePayloadQueuedByReference(t *testing.T) {
	o := newOutbound(1<<20, nil, nil)
	rb := getReadBuf(maxReadBuf)
	payload := rb.b[100 : 100+zeroCopyMin]
	for i := range payload {
		payload[i] = byte(i)
	}
	want := append([]byte(nil), payload...)
	if ok, _ := o.enqueueMsg([]byte("MSG big 1 16384\r\n"), nil, payload, rb, -1); !ok {
		t.Fatal("refused")
	}
	if n := rb.refs.Load(); n != 2 {
		t.Fatalf("refs after queuing = %d, want the read loop's and the queue's", n)
	}
	if o.pinned != maxReadBuf {
		t.Fatalf("pinned %d", o.pinned)
	}
	rb.release() // the read loop moves on to another buffer

	var out bytes.Buffer
	w := writer{conn: sinkConn{&out}}
	if _, err := w.flush(&o); err != nil {
		t.Fatal(err)
	}
	if got := out.Bytes(); !bytes.Equal(got, append(append([]byte("MSG big 1 16384\r\n"), want...), "\r\n"...)) {
		t.Fatalf("wrote %d bytes, not the message", len(got))
	}
	if rb.refs.Load() != 0 || o.pinned != 0 || o.pending != 0 {
		t.Fatalf("after the write: refs %d, pinned %d, pending %d", rb.refs.Load(), o.pinned, o.pending)
	}
}

// Small payloads, payloads outside the read buffer and payloads past the
// pinned bound are copied; a closed queue lets go of its references.
func TestPayloadsCopiedWhenReferenceDoesNotPay(t *testing.T) {
	o := newOutbound(256<<10, nil, nil) // pins up to 64 KiB: one full read buffer
	rb := getReadBuf(maxReadBuf)
	other := getReadBuf(maxReadBuf)
	small := rb.b[:zeroCopyMin-1]
	outside := make([]byte, zeroCopyMin)
	o.enqueueMsg(nil, nil, small, rb, -1)
	o.enqueueMsg(nil, nil, outside, rb, -1)
	if rb.refs.Load() != 1 {
		t.Fatalf("refs %d after copies", rb.refs.Load())
	}
	o.enqueueMsg(nil, nil, rb.b[:zeroCopyMin], rb, -1)
	o.enqueueMsg(nil, nil, rb.b[zeroCopyMin:2*zeroCopyMin], rb, -1) // same buffer: pinned once
	o.enqueueMsg(nil, nil, other.b[:zeroCopyMin], other, -1)        // a second buffer would pass the bound
	if rb.refs.Load() != 3 || other.refs.Load() != 1 || o.pinned != maxReadBuf {
		t.Fatalf("refs %d and %d, pinned %d", rb.refs.Load(), other.refs.Load(), o.pinned)
	}
	o.close()
	if rb.refs.Load() != 1 || o.pinned != 0 {
		t.Fatalf("after close: refs %d, pinned %d", rb.refs.Load(), o.pinned)
	}
}

type sinkConn struct{ w *bytes.Buffer }

func (s sinkConn) Write(b []byte) (int, error) { return s.w.Write(b) }

func (sinkConn) Read([]byte) (int, error)            { return 0, nil }
func (sinkConn) Close() error                        { return nil }
func (sinkConn) LocalAddr() net.Addr                 { return nil }
func (sinkConn) RemoteAddr() net.Addr                { return nil }
func (sinkConn) SetDeadline(tm time.Time) error      { return nil }
func (sinkConn) SetReadDeadline(tm time.Time) error  { return nil }
func (sinkConn) SetWriteDeadline(tm time.Time) error { return nil }
