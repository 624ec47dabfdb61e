package broker

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
)

// discardConn is a net.Conn whose writes vanish, so benchmarks measure the
// server's path and not the kernel's.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (discardConn) Close() error                     { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// benchClients builds a publisher and n subscribers of "bench" on an
// unstarted server; nothing runs in the background.
func benchClients(b *testing.B, n int) (*client, []*client) {
	b.Helper()
	s, err := New(config.Options{Host: "127.0.0.1"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	pub := newClient(s, discardConn{}, Transport{})
	pub.ProcessConnect([]byte(`{"verbose":false,"pedantic":false,"headers":true}`))
	subs := make([]*client, n)
	for i := range subs {
		subs[i] = newClient(s, discardConn{}, Transport{})
		subs[i].ProcessConnect([]byte(`{"verbose":false,"headers":true}`))
		subs[i].ProcessSub([]byte("bench"), nil, []byte("1"))
	}
	return pub, subs
}

// drain empties the subscribers' queues the way their writers would.
func drain(subs []*client) {
	for _, c := range subs {
		c.w.flush(&c.out)
	}
}

// BenchmarkDeliver measures parse → match → enqueue for one PUB, the hot
// path of a core publish, with 0, 1, 4 and 64 subscribers.
func BenchmarkDeliver(b *testing.B) {
	for _, tc := range []struct {
		subs, size int
	}{{0, 16}, {1, 16}, {4, 16}, {1, 4096}, {64, 128}} {
		b.Run(fmt.Sprintf("subs=%d/size=%d", tc.subs, tc.size), func(b *testing.B) {
			pub, subs := benchClients(b, tc.subs)
			msg := []byte(fmt.Sprintf("PUB bench %d\r\n%s\r\n", tc.size, bytes.Repeat([]byte("x"), tc.size)))
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := pub.parser.Parse(msg); err != nil {
					b.Fatal(err)
				}
				pub.prod.endRead()
				if i%64 == 0 {
					drain(subs)
				}
			}
		})
	}
}

// BenchmarkDeliverBatch parses a 64 KiB read of 16-byte PUBs, as a busy
// publisher's socket delivers them, into one subscriber.
func BenchmarkDeliverBatch(b *testing.B) {
	pub, subs := benchClients(b, 1)
	one := []byte("PUB bench 16\r\n0123456789abcdef\r\n")
	batch := bytes.Repeat(one, (64<<10)/len(one))
	perBatch := len(batch) / len(one)
	b.SetBytes(int64(16 * perBatch))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pub.parser.Parse(batch); err != nil {
			b.Fatal(err)
		}
		pub.prod.endRead()
		drain(subs)
	}
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDeliverHeaders is BenchmarkDeliver for HPUB with an ordinary
// header block, which the publish path searches once for a trace header.
func BenchmarkDeliverHeaders(b *testing.B) {
	hdr := "NATS/1.0\r\nNats-Msg-Id: 0123456789\r\nX-Tenant: acme\r\n\r\n"
	for _, subs := range []int{0, 1} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			pub, subs := benchClients(b, subs)
			msg := []byte(fmt.Sprintf("HPUB bench %d %d\r\n%s0123456789abcdef\r\n", len(hdr), len(hdr)+16, hdr))
			b.SetBytes(16)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := pub.parser.Parse(msg); err != nil {
					b.Fatal(err)
				}
				pub.prod.endRead()
				if i%64 == 0 {
					drain(subs)
				}
			}
		})
	}
}

// BenchmarkDeliverLarge parses reads of large PUBs the way the read loop
// does (the payloads in a reference-counted read buffer) into 1 and 4
// subscribers, and drains them: with zero copy the payload is written from
// the read buffer; copy=on forces the copy for comparison.
func BenchmarkDeliverLarge(b *testing.B) {
	for _, tc := range []struct {
		subs, size  int
		copyPayload bool
	}{{1, 4096, false}, {1, 4096, true}, {1, 8192, false}, {1, 8192, true}, {1, 16 << 10, false}, {1, 16 << 10, true}, {4, 16 << 10, false}, {4, 16 << 10, true}} {
		b.Run(fmt.Sprintf("subs=%d/size=%d/copy=%v", tc.subs, tc.size, tc.copyPayload), func(b *testing.B) {
			pub, subs := benchClients(b, tc.subs)
			one := []byte(fmt.Sprintf("PUB bench %d\r\n%s\r\n", tc.size, bytes.Repeat([]byte("x"), tc.size)))
			perRead := max(1, maxReadBuf/len(one))
			// One read buffer, filled once and parsed again and again: the
			// writers' releases leave it with the loop's reference only.
			rb := getReadBuf(maxReadBuf)
			n := copy(rb.b, bytes.Repeat(one, perRead))
			b.SetBytes(int64(tc.size * perRead))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !tc.copyPayload {
					pub.prod.rb = rb
				}
				if err := pub.parser.Parse(rb.b[:n]); err != nil {
					b.Fatal(err)
				}
				pub.prod.rb = nil
				pub.prod.endRead()
				drain(subs)
			}
		})
	}
}
