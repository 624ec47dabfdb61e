package parser

import (
	"fmt"
	"strings"
	"testing"
)

// rec is one decoded operation, copied out of the borrowed slices.
type rec struct {
	Kind     string
	Subj     string
	Reply    string
	HasReply bool // the parser handed a non-nil Reply
	Hdr      string
	HasHdr   bool // the parser handed a non-nil Header
	Data     string
	Size     int
	Queue    string
	HasQueue bool
	Sid      string
	Max      int64
	Arg      string
}

func (r rec) String() string {
	type plain rec // drops the String method
	s := fmt.Sprintf("%+v", plain(r))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// recorder is a Handler that copies everything it is given, because the
// slices are only valid during the callback.
type recorder struct{ ops []rec }

func (r *recorder) ProcessConnect(arg []byte) error {
	r.ops = append(r.ops, rec{Kind: "CONNECT", Arg: string(arg)})
	return nil
}

func (r *recorder) ProcessPub(pa *PubArg) error {
	r.ops = append(r.ops, rec{
		Kind: "PUB", Subj: string(pa.Subject),
		Reply: string(pa.Reply), HasReply: pa.Reply != nil,
		Hdr: string(pa.Header), HasHdr: pa.Header != nil,
		Data: string(pa.Data), Size: pa.Size,
	})
	return nil
}

func (r *recorder) ProcessSub(subject, queue, sid []byte) error {
	r.ops = append(r.ops, rec{Kind: "SUB", Subj: string(subject),
		Queue: string(queue), HasQueue: queue != nil, Sid: string(sid)})
	return nil
}

func (r *recorder) ProcessUnsub(sid []byte, max int64) error {
	r.ops = append(r.ops, rec{Kind: "UNSUB", Sid: string(sid), Max: max})
	return nil
}

func (r *recorder) ProcessPing() error { r.ops = append(r.ops, rec{Kind: "PING"}); return nil }
func (r *recorder) ProcessPong() error { r.ops = append(r.ops, rec{Kind: "PONG"}); return nil }

func (r *recorder) ProcessInfo(arg []byte) error {
	r.ops = append(r.ops, rec{Kind: "INFO", Arg: string(arg)})
	return nil
}

func (r *recorder) ProcessErr(arg []byte) error {
	r.ops = append(r.ops, rec{Kind: "-ERR", Arg: string(arg)})
	return nil
}

// Expected-op constructors. An empty reply or queue means "absent".
func pub(subj, reply, data string) rec {
	return rec{Kind: "PUB", Subj: subj, Reply: reply, HasReply: reply != "", Data: data, Size: len(data)}
}

func hpub(subj, reply, hdr, data string) rec {
	r := pub(subj, reply, data)
	r.Hdr, r.HasHdr, r.Size = hdr, true, len(hdr)+len(data)
	return r
}

func sub(subj, queue, sid string) rec {
	return rec{Kind: "SUB", Subj: subj, Queue: queue, HasQueue: queue != "", Sid: sid}
}

func unsub(sid string, max int64) rec { return rec{Kind: "UNSUB", Sid: sid, Max: max} }
func connect(arg string) rec          { return rec{Kind: "CONNECT", Arg: arg} }
func info(arg string) rec             { return rec{Kind: "INFO", Arg: arg} }
func errOp(arg string) rec            { return rec{Kind: "-ERR", Arg: arg} }

var (
	ping = rec{Kind: "PING"}
	pong = rec{Kind: "PONG"}
)

const natsGoConnect = `{"verbose":false,"pedantic":false,"tls_required":false,"name":"ex",` +
	`"lang":"go","version":"1.55.0","protocol":1,"echo":true,"headers":true,"no_responders":true}`

// Header blocks used by the HPUB fixtures.
const (
	hdrA      = "NATS/1.0\r\nA: b\r\n\r\n"                // 18 bytes
	hdrDup    = "NATS/1.0\r\nK1: v1\r\nk1: v2\r\n\r\n"    // 28 bytes
	hdrEmpty  = "NATS/1.0\r\n\r\n"                        // 12 bytes
	hdrStatus = "NATS/1.0 503\r\n\r\n"                    // 16 bytes
	binData   = "\r\n\x00PING\r\n\xff\r\nPUB x 1\r\n\r\n" // payload that looks like protocol
)

type fixture struct {
	name string
	in   string
	want []rec
}

var longSubj = strings.Repeat("s", 4094) // SUB <4094> 1 is exactly 4096 bytes of arguments

var fixtures = []fixture{
	{"connect", "CONNECT {\"verbose\":false}\r\n", []rec{connect(`{"verbose":false}`)}},
	{"connect nats.go", "CONNECT " + natsGoConnect + "\r\nPING\r\n", []rec{connect(natsGoConnect), ping}},
	{"connect tabs trailing", "CONNECT\t {}\t \r\n", []rec{connect("{}")}},
	{"pub", "PUB foo 5\r\nhello\r\n", []rec{pub("foo", "", "hello")}},
	{"pub reply", "PUB foo _INBOX.x.1 5\r\nhello\r\n", []rec{pub("foo", "_INBOX.x.1", "hello")}},
	{"pub zero", "PUB foo 0\r\n\r\n", []rec{pub("foo", "", "")}},
	{"pub zero reply then ping", "PUB foo r 0\r\n\r\nPING\r\n", []rec{pub("foo", "r", ""), ping}},
	{"pub binary", fmt.Sprintf("PUB bin %d\r\n%s\r\n", len(binData), binData), []rec{pub("bin", "", binData)}},
	{"pub all bytes", fmt.Sprintf("PUB b r 256\r\n%s\r\n", allBytes()), []rec{pub("b", "r", allBytes())}},
	{"hpub", "HPUB foo 18 23\r\n" + hdrA + "hello\r\n", []rec{hpub("foo", "", hdrA, "hello")}},
	{"hpub reply", "HPUB foo r.1 28 30\r\n" + hdrDup + "hi\r\n", []rec{hpub("foo", "r.1", hdrDup, "hi")}},
	{"hpub headers only", "HPUB foo 12 12\r\n" + hdrEmpty + "\r\n", []rec{hpub("foo", "", hdrEmpty, "")}},
	{"hpub status reply", "HPUB _INBOX.a.b r 16 16\r\n" + hdrStatus + "\r\n", []rec{hpub("_INBOX.a.b", "r", hdrStatus, "")}},
	{"sub", "SUB foo 1\r\n", []rec{sub("foo", "", "1")}},
	{"sub queue", "SUB foo.* workers 2\r\n", []rec{sub("foo.*", "workers", "2")}},
	{"sub nats.go", "SUB foo  1\r\n", []rec{sub("foo", "", "1")}},
	{"sub spaces after op", "SUB   \t foo 1\r\n", []rec{sub("foo", "", "1")}},
	{"unsub", "UNSUB 1\r\n", []rec{unsub("1", -1)}},
	{"unsub nats.go", "UNSUB 1 \r\n", []rec{unsub("1", -1)}},
	{"unsub max", "UNSUB 2 5\r\n", []rec{unsub("2", 5)}},
	{"unsub max zero", "UNSUB 2 0\r\n", []rec{unsub("2", 0)}},
	{"ping pong", "PING\r\nPONG\r\n", []rec{ping, pong}},
	{"ping junk", "PING x y\r\n", []rec{ping}},
	{"ok ignored", "+OK\r\n+ok\r\nPING\r\n", []rec{ping}},
	{"info", "INFO {\"server_id\":\"x\"} \r\n", []rec{info(`{"server_id":"x"}`)}},
	{"err", "-ERR 'Unknown Protocol Operation'\r\n", []rec{errOp("'Unknown Protocol Operation'")}},
	{"lower case", "connect {}\r\nsub foo 1\r\npub foo 2\r\nhi\r\nhpub foo 12 12\r\n" + hdrEmpty +
		"\r\nunsub 1\r\nping\r\npong\r\ninfo {}\r\n-err 'x'\r\n+ok\r\n",
		[]rec{connect("{}"), sub("foo", "", "1"), pub("foo", "", "hi"), hpub("foo", "", hdrEmpty, ""),
			unsub("1", -1), ping, pong, info("{}"), errOp("'x'")}},
	{"mixed case tabs", "Sub\tfoo.*   q1  2\r\nPuB foo.bar reply.x 3\r\nabc\r\nPiNg\r\nUnSuB\t2\t\t7\t\r\n",
		[]rec{sub("foo.*", "q1", "2"), pub("foo.bar", "reply.x", "abc"), ping, unsub("2", 7)}},
	{"tabs and spaces", "PUB\tfoo\t\treply \t 3 \t\r\nabc\r\nHPUB \t foo  12\t\t12  \r\n" + hdrEmpty + "\r\n",
		[]rec{pub("foo", "reply", "abc"), hpub("foo", "", hdrEmpty, "")}},
	{"lone LF", "PING\nSUB foo 1\nPUB foo 2\nhi\r\nPONG\n", []rec{ping, sub("foo", "", "1"), pub("foo", "", "hi"), pong}},
	{"empty lines", "\r\n\r\nPING\r\n\n\r\n\nPONG\r\n\r\n", []rec{ping, pong}},
	{"max control line", "SUB " + longSubj + " 1\r\n", []rec{sub(longSubj, "", "1")}},
	{"max control line two spaces", "SUB  " + longSubj + " 1\r\nPING\r\n", []rec{sub(longSubj, "", "1"), ping}},
	{"max control line trailing space", "UNSUB " + strings.Repeat("9", 4095) + " \r\n", []rec{unsub(strings.Repeat("9", 4095), -1)}},
	{"pipeline", "SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo r 1\r\nb\r\nHPUB foo 12 13\r\n" + hdrEmpty +
		"c\r\nUNSUB 1 2\r\nPING\r\n",
		[]rec{sub("foo", "", "1"), pub("foo", "", "a"), pub("foo", "r", "b"), hpub("foo", "", hdrEmpty, "c"),
			unsub("1", 2), ping}},
}

func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

// feeder passes chunks to a parser through one reused read buffer, which it
// overwrites with garbage after every Parse, as a connection's read loop
// would. A parser that kept a borrowed slice then delivers garbage.
type feeder struct {
	p   *Parser
	rec *recorder
	buf []byte
}

func newFeeder(size int, limits Limits) *feeder {
	r := &recorder{}
	return &feeder{p: New(r, limits), rec: r, buf: make([]byte, size)}
}

func (f *feeder) feed(chunk string) error {
	b := f.buf[:copy(f.buf, chunk)]
	err := f.p.Parse(b)
	for i := range f.buf {
		f.buf[i] = 'X'
	}
	return err
}

// feedAll parses in in the given chunks and returns the ops and the first error.
func feedAll(limits Limits, in string, cuts ...int) ([]rec, error) {
	f := newFeeder(len(in), limits)
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if err := f.feed(in[prev:c]); err != nil {
			return f.rec.ops, err
		}
		prev = c
	}
	return f.rec.ops, nil
}

func feedBytewise(limits Limits, in string) ([]rec, error) {
	cuts := make([]int, len(in))
	for i := range cuts {
		cuts[i] = i
	}
	return feedAll(limits, in, cuts...)
}

func equalOps(a, b []rec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkOps(t *testing.T, how string, got []rec, err error, want []rec) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error %v", how, err)
	}
	if !equalOps(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", how, got, want)
	}
}

func TestParseFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			got, err := feedAll(DefaultLimits, fx.in)
			checkOps(t, "whole", got, err, fx.want)
			for k := 0; k <= len(fx.in); k++ {
				got, err := feedAll(DefaultLimits, fx.in, k)
				checkOps(t, fmt.Sprintf("split at %d", k), got, err, fx.want)
			}
			got, err = feedBytewise(DefaultLimits, fx.in)
			checkOps(t, "bytewise", got, err, fx.want)
		})
	}
}

// TestParseAllFixturesConcatenated runs every fixture back to back through
// one parser, split at every offset, so state left behind by one op (scratch
// buffers, pending reply) cannot leak into the next.
func TestParseAllFixturesConcatenated(t *testing.T) {
	var in strings.Builder
	var want []rec
	for _, fx := range fixtures {
		if strings.Contains(fx.name, "max control line") {
			continue // keep the quadratic loop below fast
		}
		in.WriteString(fx.in)
		want = append(want, fx.want...)
	}
	s := in.String()
	for k := 0; k <= len(s); k++ {
		got, err := feedAll(DefaultLimits, s, k)
		checkOps(t, fmt.Sprintf("split at %d", k), got, err, want)
	}
	for _, step := range []int{2, 3, 7, 64} {
		var cuts []int
		for c := step; c < len(s); c += step {
			cuts = append(cuts, c)
		}
		got, err := feedAll(DefaultLimits, s, cuts...)
		checkOps(t, fmt.Sprintf("chunks of %d", step), got, err, want)
	}
	got, err := feedBytewise(DefaultLimits, s)
	checkOps(t, "bytewise", got, err, want)
}

// TestParseNoAllocs checks the steady state: whole ops in one buffer, and ops
// split across reads once the parser's scratch has grown.
func TestParseNoAllocs(t *testing.T) {
	h := &recorderless{}
	for _, fx := range fixtures {
		in := []byte(fx.in)
		p := New(h, DefaultLimits)
		if n := testing.AllocsPerRun(50, func() { _ = p.Parse(in) }); n != 0 {
			t.Errorf("%s whole: %v allocs", fx.name, n)
		}
		half := len(in) / 2
		if n := testing.AllocsPerRun(50, func() { _ = p.Parse(in[:half]); _ = p.Parse(in[half:]) }); n != 0 {
			t.Errorf("%s split: %v allocs", fx.name, n)
		}
	}
}

// recorderless is a Handler that does nothing.
type recorderless struct{}

func (recorderless) ProcessConnect([]byte) error      { return nil }
func (recorderless) ProcessPub(*PubArg) error         { return nil }
func (recorderless) ProcessSub(_, _, _ []byte) error  { return nil }
func (recorderless) ProcessUnsub([]byte, int64) error { return nil }
func (recorderless) ProcessPing() error               { return nil }
func (recorderless) ProcessPong() error               { return nil }
func (recorderless) ProcessInfo([]byte) error         { return nil }
func (recorderless) ProcessErr([]byte) error          { return nil }
