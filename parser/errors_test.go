package parser

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type errFixture struct {
	name string
	in   string
	want error // ErrUnknownOp, ErrMaxControlLine, ErrMaxPayload or ErrBadArgs
	ops  []rec // decoded before the error
}

var errFixtures = []errFixture{
	// Unknown operations.
	{"unknown op", "FOO bar\r\n", ErrUnknownOp, nil},
	{"op with suffix", "PUBX foo 1\r\n", ErrUnknownOp, nil},
	{"op too long", "CONNECTX {}\r\n", ErrUnknownOp, nil},
	{"pub without args", "PUB\r\n", ErrUnknownOp, nil},
	{"unsub without args", "UNSUB\r\n", ErrUnknownOp, nil}, // as the reference server
	{"connect without args", "CONNECT\r\n", ErrUnknownOp, nil},
	{"leading space", " PING\r\n", ErrUnknownOp, nil},
	{"CR inside op", "PI\rNG\r\n", ErrUnknownOp, nil},
	{"partial unknown op", "PING\r\nXYZ", ErrUnknownOp, []rec{ping}},
	{"partial op too long", "CONNECTS", ErrUnknownOp, nil},
	{"after good ops", "SUB foo 1\r\nPING\r\nMSG foo 1 1\r\n", ErrUnknownOp, []rec{sub("foo", "", "1"), ping}},

	// Payload not followed by CRLF.
	{"payload no CRLF", "PUB foo 1\r\nxyz\r\n", ErrUnknownOp, nil},
	{"payload LF only", "PUB foo 1\r\nx\nPING\r\n", ErrUnknownOp, nil},
	{"payload too long", "PUB foo 2\r\nabc\r\n", ErrUnknownOp, nil},
	{"zero payload no CRLF", "PUB foo 0\r\nPING\r\n", ErrUnknownOp, nil},
	{"hpub payload no CRLF", "HPUB foo 12 12\r\n" + hdrEmpty + "XY", ErrUnknownOp, nil},
	{"second payload no CRLF", "PUB a 1\r\nx\r\nPUB b 1\r\nyz\r\n", ErrUnknownOp, []rec{pub("a", "", "x")}},

	// Limits.
	{"control line 4095", "SUB " + strings.Repeat("s", 4095) + " 1\r\n", ErrMaxControlLine, nil},
	{"control line 4097 LF", "SUB " + strings.Repeat("s", 4095) + " 1\n", ErrMaxControlLine, nil},
	{"control line pub", "PUB " + strings.Repeat("s", 4097) + " 1\r\n\r\n", ErrMaxControlLine, nil},
	{"control line no newline", "SUB " + strings.Repeat("s", 5000), ErrMaxControlLine, nil},
	{"control line ping junk", "PING " + strings.Repeat("j", 5000) + "\r\n", ErrMaxControlLine, nil},
	{"max payload", "PUB foo 1048577\r\n", ErrMaxPayload, nil},
	{"max payload reply", "PUB foo r 1048577\r\n", ErrMaxPayload, nil},
	{"max payload hpub", "HPUB foo 12 1048577\r\n", ErrMaxPayload, nil},
	{"max payload 12 digits", "PUB foo 999999999999\r\n", ErrMaxPayload, nil},

	// Bad arguments: closed without -ERR.
	{"pub size not a number", "PUB foo x\r\n", ErrBadArgs, nil},
	{"pub negative size", "PUB foo -1\r\n", ErrBadArgs, nil},
	{"pub plus size", "PUB foo +1\r\n", ErrBadArgs, nil},
	{"pub size suffix", "PUB foo 1x\r\n", ErrBadArgs, nil},
	{"pub 13 digits", "PUB foo 0000000000001\r\n", ErrBadArgs, nil},
	{"pub one arg", "PUB foo\r\n", ErrBadArgs, nil},
	{"pub only spaces", "PUB  \t \r\n", ErrBadArgs, nil},
	{"pub four args", "PUB a b c 1\r\n", ErrBadArgs, nil},
	{"pub many args", "PUB a b c d e f g 1\r\n", ErrBadArgs, nil},
	{"hpub hdr > total", "HPUB foo 10 5\r\n", ErrBadArgs, nil},
	{"hpub two args", "HPUB foo 5\r\n", ErrBadArgs, nil},
	{"hpub bad hdr", "HPUB foo x 5\r\n", ErrBadArgs, nil},
	{"hpub bad total", "HPUB foo r 1 -5\r\n", ErrBadArgs, nil},
	{"hpub 13 digits", "HPUB foo 1 1234567890123\r\n", ErrBadArgs, nil},
	{"hpub five args", "HPUB a b c 1 2\r\n", ErrBadArgs, nil},
	{"sub four args", "SUB a b c d\r\n", ErrBadArgs, nil},
	{"sub one arg", "SUB foo\r\n", ErrBadArgs, nil},
	{"unsub no sid", "UNSUB \r\n", ErrBadArgs, nil},
	{"unsub bad max", "UNSUB 1 x\r\n", ErrBadArgs, nil},
	{"unsub negative max", "UNSUB 1 -2\r\n", ErrBadArgs, nil},
	{"unsub 13 digit max", "UNSUB 1 1234567890123\r\n", ErrBadArgs, nil},
	{"unsub three args", "UNSUB 1 2 3\r\n", ErrBadArgs, nil},
}

func checkErr(t *testing.T, how string, got []rec, err error, fx errFixture) {
	t.Helper()
	if !errors.Is(err, fx.want) {
		t.Fatalf("%s: got error %v, want %v", how, err, fx.want)
	}
	var we *WireError
	isWire := errors.As(err, &we)
	if fx.want == ErrBadArgs {
		if isWire {
			t.Fatalf("%s: %v is a WireError; bad arguments must close without -ERR", how, err)
		}
	} else if !isWire || we != fx.want {
		t.Fatalf("%s: errors.As gave %v (%v), want %v", how, we, isWire, fx.want)
	}
	if !equalOps(got, fx.ops) {
		t.Fatalf("%s: ops before the error\n got %v\nwant %v", how, got, fx.ops)
	}
}

func TestParseErrors(t *testing.T) {
	for _, fx := range errFixtures {
		t.Run(fx.name, func(t *testing.T) {
			got, err := feedAll(DefaultLimits, fx.in)
			checkErr(t, "whole", got, err, fx)
			for k := 0; k <= len(fx.in); k++ {
				got, err := feedAll(DefaultLimits, fx.in, k)
				checkErr(t, fmt.Sprintf("split at %d", k), got, err, fx)
			}
			got, err = feedBytewise(DefaultLimits, fx.in)
			checkErr(t, "bytewise", got, err, fx)
		})
	}
}

func TestWireErrorTexts(t *testing.T) {
	for err, text := range map[*WireError]string{
		ErrUnknownOp:      "Unknown Protocol Operation",
		ErrMaxControlLine: "maximum control line exceeded",
		ErrMaxPayload:     "Maximum Payload Violation",
	} {
		if err.Text != text || err.Error() != text {
			t.Errorf("got %q/%q, want %q", err.Text, err.Error(), text)
		}
	}
	var we *WireError
	if errors.As(ErrBadArgs, &we) {
		t.Error("ErrBadArgs must not be a WireError")
	}
}

// TestMaxPayloadBeforePayload: the violation is reported from the control
// line alone, before any payload byte arrives.
func TestMaxPayloadBeforePayload(t *testing.T) {
	p := New(&recorder{}, Limits{MaxControlLine: 4096, MaxPayload: 10})
	if err := p.Parse([]byte("PUB foo 10\r\n0123456789\r\nHPUB foo 5 10\r\nNATS/01234\r\n")); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	for _, in := range []string{"PUB foo 11\r\n", "PUB foo r 11\r\n", "HPUB foo 5 11\r\n", "HPUB foo 11 11\r\n"} {
		p := New(&recorder{}, Limits{MaxControlLine: 4096, MaxPayload: 10})
		if err := p.Parse([]byte(in)); !errors.Is(err, ErrMaxPayload) {
			t.Errorf("%q: got %v, want ErrMaxPayload", in, err)
		}
	}
}

// TestMaxControlLineExact mirrors the reference server: arguments of exactly
// MaxControlLine bytes pass, one more fails, also with other limits.
func TestMaxControlLineExact(t *testing.T) {
	for _, mcl := range []int{4096, 10, 1} {
		lim := Limits{MaxControlLine: mcl, MaxPayload: 1 << 20}
		for _, extra := range []int{0, 1} {
			subj := strings.Repeat("a", max(mcl-2+extra, 1))
			in := "SUB " + subj + " 1\r\n"
			if mcl == 1 {
				in = "UNSUB " + strings.Repeat("1", 1+extra) + "\r\n"
			}
			for _, cuts := range [][]int{nil, {len(in) - 1}, {len(in) - 2}, {3}} {
				_, err := feedAll(lim, in, cuts...)
				if extra == 0 && err != nil {
					t.Errorf("mcl %d, %q cut %v: %v", mcl, in, cuts, err)
				}
				if extra == 1 && !errors.Is(err, ErrMaxControlLine) {
					t.Errorf("mcl %d, %q cut %v: got %v, want ErrMaxControlLine", mcl, in, cuts, err)
				}
			}
		}
	}
}

// TestLongLineNoNewlineBounded: a client that streams an endless control
// line is cut off once the arguments exceed the limit, however the bytes are
// split, and the parser never holds much more than the limit.
func TestLongLineNoNewlineBounded(t *testing.T) {
	for _, prefix := range []string{"SUB ", "PUB ", "CONNECT ", "PING ", "SUB" + strings.Repeat(" ", 10000)} {
		for _, chunk := range []int{1, 7, 512, 4096, 65536} {
			p := New(&recorder{}, DefaultLimits)
			stream := prefix + strings.Repeat("a", 1<<20)
			var err error
			fed := 0
			for fed < len(stream) && err == nil {
				n := min(chunk, len(stream)-fed)
				err = p.Parse([]byte(stream[fed : fed+n]))
				fed += n
				if len(p.line) > DefaultLimits.MaxControlLine+16 {
					t.Fatalf("%.10q chunk %d: buffered %d bytes", prefix, chunk, len(p.line))
				}
			}
			if !errors.Is(err, ErrMaxControlLine) {
				t.Fatalf("%.10q chunk %d: got %v", prefix, chunk, err)
			}
			if args := fed - len(prefix); args > DefaultLimits.MaxControlLine+2+chunk {
				t.Errorf("%.10q chunk %d: detected only after %d argument bytes", prefix, chunk, args)
			}
		}
	}
}

// TestSplitPayloadAcrossManyReads delivers a large payload a few bytes at a
// time and checks the scratch buffer is released when it is big.
func TestSplitPayloadAcrossManyReads(t *testing.T) {
	data := strings.Repeat("0123456789abcdef", (keepSplitBuffer+100)/16)
	in := fmt.Sprintf("PUB big r %d\r\n%s\r\nPING\r\n", len(data), data)
	var cuts []int
	for c := 5; c < len(in); c += 4093 {
		cuts = append(cuts, c)
	}
	f := newFeeder(len(in), DefaultLimits)
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if err := f.feed(in[prev:c]); err != nil {
			t.Fatal(err)
		}
		prev = c
	}
	checkOps(t, "big", f.rec.ops, nil, []rec{pub("big", "r", data), ping})
	if f.p.msg != nil {
		t.Errorf("split buffer of %d bytes kept", cap(f.p.msg))
	}
}

// TestHandlerErrorStops: an error from the handler stops parsing and is
// returned unchanged.
func TestHandlerErrorStops(t *testing.T) {
	boom := errors.New("boom")
	h := &failing{err: boom}
	p := New(h, DefaultLimits)
	err := p.Parse([]byte("PING\r\nSUB foo 1\r\nPING\r\n"))
	if err != boom || h.calls != 2 {
		t.Fatalf("got %v after %d calls", err, h.calls)
	}
}

type failing struct {
	recorderless
	err   error
	calls int
}

func (f *failing) ProcessPing() error { f.calls++; return nil }
func (f *failing) ProcessSub(_, _, _ []byte) error {
	f.calls++
	return f.err
}

func TestSetLimits(t *testing.T) {
	p := New(&recorder{}, DefaultLimits)
	if p.Limits() != DefaultLimits {
		t.Fatalf("got %+v", p.Limits())
	}
	l := Limits{MaxControlLine: 8, MaxPayload: 4}
	p.SetLimits(l)
	if p.Limits() != l {
		t.Fatalf("got %+v", p.Limits())
	}
	if err := p.Parse([]byte("PUB foo 4\r\nabcd\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse([]byte("PUB foo 5\r\n")); !errors.Is(err, ErrMaxPayload) {
		t.Fatalf("got %v", err)
	}
}
