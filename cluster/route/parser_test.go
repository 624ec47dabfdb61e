package route

import (
	"fmt"
	"strings"
	"testing"
)

// recorder writes each parsed operation as a line, to compare.
type recorder struct{ ops []string }

func (r *recorder) processInfo(arg []byte) error    { r.add("INFO %s", arg); return nil }
func (r *recorder) processConnect(arg []byte) error { r.add("CONNECT %s", arg); return nil }
func (r *recorder) processPing() error              { r.add("PING"); return nil }
func (r *recorder) processPong() error              { r.add("PONG"); return nil }
func (r *recorder) processErr(arg []byte) error     { r.add("ERR %s", arg); return nil }
func (r *recorder) processSub(a, s, q []byte, w int) error {
	r.add("SUB %s %s %s %d", a, s, q, w)
	return nil
}
func (r *recorder) processUnsub(a, s, q []byte) error { r.add("UNSUB %s %s %s", a, s, q); return nil }
func (r *recorder) processMsg(m *routedMsg) error {
	r.add("MSG %s %s reply=%s queues=%q hdr=%q data=%q", m.account, m.subject, m.reply, m.queues, m.header, m.data)
	return nil
}
func (r *recorder) add(format string, args ...any) {
	r.ops = append(r.ops, fmt.Sprintf(format, args...))
}

func TestParserOperations(t *testing.T) {
	in := "INFO {\"server_id\":\"X\"}\r\nCONNECT {}\r\nping\r\nPONG\r\n" +
		"RS+ $G foo\r\nRS+ $G foo q 3\r\nRS+ $G foo q x\r\nRS- $G foo\r\nRS- $G foo q\r\n" +
		"RMSG $G foo 2\r\nhi\r\nRMSG $G foo r 2\r\nhi\r\nRMSG $G foo + r q1 q2 2\r\nhi\r\nRMSG $G foo | q1 2\r\nhi\r\n" +
		"HMSG $G foo 4 6\r\nh:v\nhi\r\nHRMSG $G foo + r q 4 6\r\nh:v\nhi\r\n-ERR 'x'\r\n"
	want := []string{
		`INFO {"server_id":"X"}`, "CONNECT {}", "PING", "PONG",
		"SUB $G foo  0", "SUB $G foo q 3", "SUB $G foo q 1", "UNSUB $G foo ", "UNSUB $G foo q",
		`MSG $G foo reply= queues=[] hdr="" data="hi"`,
		`MSG $G foo reply=r queues=[] hdr="" data="hi"`,
		`MSG $G foo reply=r queues=["q1" "q2"] hdr="" data="hi"`,
		`MSG $G foo reply= queues=["q1"] hdr="" data="hi"`,
		`MSG $G foo reply= queues=[] hdr="h:v\n" data="hi"`,
		`MSG $G foo reply=r queues=["q"] hdr="h:v\n" data="hi"`,
		"ERR 'x'",
	}
	// Whole, and split at every byte boundary into two reads.
	for split := 0; split <= len(in); split++ {
		rec := &recorder{}
		p := newParser(rec)
		if err := p.parse([]byte(in[:split])); err != nil {
			t.Fatalf("split %d: %v", split, err)
		}
		if err := p.parse([]byte(in[split:])); err != nil {
			t.Fatalf("split %d: %v", split, err)
		}
		if got := strings.Join(rec.ops, "\n"); got != strings.Join(want, "\n") {
			t.Fatalf("split %d:\n%s\nwant\n%s", split, got, strings.Join(want, "\n"))
		}
	}
}

func TestParserRejectsMalformed(t *testing.T) {
	for _, in := range []string{
		"FOO bar\r\n", "RS+ $G\r\n", "RS+ $G a b\r\n", "RS- $G a b c\r\n",
		"RMSG $G foo\r\n", "RMSG $G foo x 2\r\nhiXX", "RMSG $G foo -1\r\n",
		"RMSG $G foo * r q 2\r\n", "HRMSG $G foo 5 2\r\n", "RMSG $G foo 99999999999\r\n",
		"RMSG $G foo 999999999\r\n",
	} {
		if err := newParser(&recorder{}).parse([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	long := "RS+ $G " + strings.Repeat("a", maxControlLine+1)
	if err := newParser(&recorder{}).parse([]byte(long)); err == nil {
		t.Error("an endless control line was accepted")
	}
}

func TestWireFormatsMessages(t *testing.T) {
	var w wire
	for _, tc := range []struct {
		reply  string
		queues []string
		hdr    int
		want   string
	}{
		{"", nil, -1, "RMSG $G s 5\r\n"},
		{"r", nil, -1, "RMSG $G s r 5\r\n"},
		{"r", []string{"q1", "q2"}, -1, "RMSG $G s + r q1 q2 5\r\n"},
		{"", []string{"q"}, -1, "RMSG $G s | q 5\r\n"},
		{"", nil, 3, "HMSG $G s 3 5\r\n"},
		{"r", []string{"q"}, 3, "HMSG $G s + r q 3 5\r\n"},
	} {
		if got := string(w.AppendMsg(nil, "$G", []byte("s"), []byte(tc.reply), tc.queues, tc.hdr, 5)); got != tc.want {
			t.Errorf("got %q want %q", got, tc.want)
		}
	}
	if got := string(appendSub(nil, "$G", "s", "q", 7)); got != "RS+ $G s q 7\r\n" {
		t.Errorf("RS+: %q", got)
	}
	if got := string(appendUnsub(nil, "A", "s", "")); got != "RS- A s\r\n" {
		t.Errorf("RS-: %q", got)
	}
}

func BenchmarkParseRoutedMsg(b *testing.B) {
	p := newParser(&nopHandler{})
	msg := []byte("RMSG $G bench.subject reply.x 16\r\n0123456789abcdef\r\n")
	b.ReportAllocs()
	b.SetBytes(16)
	for i := 0; i < b.N; i++ {
		if err := p.parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}

type nopHandler struct{}

func (nopHandler) processInfo([]byte) error               { return nil }
func (nopHandler) processConnect([]byte) error            { return nil }
func (nopHandler) processPing() error                     { return nil }
func (nopHandler) processPong() error                     { return nil }
func (nopHandler) processSub(_, _, _ []byte, _ int) error { return nil }
func (nopHandler) processUnsub(_, _, _ []byte) error      { return nil }
func (nopHandler) processMsg(*routedMsg) error            { return nil }
func (nopHandler) processErr([]byte) error                { return nil }
