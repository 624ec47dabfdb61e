package parser

import (
	"fmt"
	"strings"
	"testing"
)

func pubOp(subj string, size int) []byte {
	return fmt.Appendf(nil, "PUB %s %d\r\n%s\r\n", subj, size, strings.Repeat("x", size))
}

func benchParse(b *testing.B, in []byte) {
	b.Helper()
	p := New(recorderless{}, DefaultLimits)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := p.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	// 4096 PUBs of 16 bytes each ("PUB fo 4\r\nabcd\r\n"), as a busy
	// publisher's 64 KiB read.
	small := []byte("PUB fo 4\r\nabcd\r\n")
	pipelined := make([]byte, 0, 64<<10)
	for len(pipelined)+len(small) <= 64<<10 {
		pipelined = append(pipelined, small...)
	}
	hdr := "NATS/1.0\r\nNats-Msg-Id: 8f2c1\r\n\r\n"
	cases := []struct {
		name string
		in   []byte
	}{
		{"PUB_0B", pubOp("foo.bar", 0)},
		{"PUB_128B", pubOp("foo.bar", 128)},
		{"PUB_16KiB", pubOp("foo.bar", 16<<10)},
		{"PUB_reply_128B", []byte("PUB foo.bar _INBOX.abc.def 128\r\n" + strings.Repeat("x", 128) + "\r\n")},
		{"HPUB_128B", fmt.Appendf(nil, "HPUB foo.bar _INBOX.abc.def %d %d\r\n%s%s\r\n",
			len(hdr), len(hdr)+128, hdr, strings.Repeat("x", 128))},
		{"SUB", []byte("SUB foo.bar.* workers 42\r\n")},
		{"UNSUB", []byte("UNSUB 42 10\r\n")},
		{"PING", []byte("PING\r\n")},
		{"pipelined_16B_PUBs_64KiB", pipelined},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { benchParse(b, c.in) })
	}
}

// BenchmarkParseSplit feeds a 128-byte PUB in two reads, cut inside the
// control line and inside the payload, so the scratch paths are measured.
func BenchmarkParseSplit(b *testing.B) {
	in := pubOp("foo.bar", 128)
	for _, cut := range []int{6, 40} {
		b.Run(fmt.Sprintf("PUB_128B_cut_%d", cut), func(b *testing.B) {
			p := New(recorderless{}, DefaultLimits)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if err := p.Parse(in[:cut]); err != nil {
					b.Fatal(err)
				}
				if err := p.Parse(in[cut:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	dst := make([]byte, 0, 256)
	subj, sid, reply := []byte("foo.bar"), []byte("42"), []byte("_INBOX.abc.def")
	b.ReportAllocs()
	for b.Loop() {
		d := AppendMsg(dst[:0], subj, sid, reply, 128)
		_ = AppendHMsg(d, subj, sid, reply, 33, 161)
	}
}

func BenchmarkHeaderValue(b *testing.B) {
	hdr := []byte("NATS/1.0\r\nNats-Expected-Stream: S\r\nNats-Msg-Id: 8f2c1\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(hdr)))
	for b.Loop() {
		if HeaderValue(hdr, "Nats-Msg-Id") == nil {
			b.Fatal("missing")
		}
	}
}
