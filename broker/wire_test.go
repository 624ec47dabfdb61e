package broker_test

import (
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// Wire tests: exact bytes over raw TCP, as a telnet user or a client
// library sees them; the expected answers are the reference server's.

func TestTelnetSessionVerbose(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {}\r\n")
	rc.Expect("+OK\r\n")
	rc.Send("sub foo 1\r\n")
	rc.Expect("+OK\r\n")
	rc.Send("Sub\tfoo.*   q1  2\r\n")
	rc.Expect("+OK\r\n")
	rc.Send("pub foo 5\r\nhello\r\n")
	rc.Expect("+OK\r\nMSG foo 1 5\r\nhello\r\n")
	rc.Send("PUB foo.bar reply.x 3\r\nabc\r\n")
	rc.Expect("+OK\r\nMSG foo.bar 2 reply.x 3\r\nabc\r\n")
	rc.Send("unsub 1\r\n")
	rc.Expect("+OK\r\n")
	rc.Send("PING\r\n")
	rc.Expect("PONG\r\n")
}

func TestTelnetSessionQuiet(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
	rc.Send("SUB foo  1\r\nSUB bar.> 2\r\n")
	rc.Send("PUB foo 5\r\nhello\r\nPUB bar.baz.qux 0\r\n\r\n")
	rc.Expect("MSG foo 1 5\r\nhello\r\nMSG bar.baz.qux 2 0\r\n\r\n")
	rc.Send("UNSUB 1 \r\nPUB foo 1\r\nx\r\n")
	rc.RoundTrip() // nothing before PONG: sid 1 is gone
}

func TestOpsBeforeConnectUseDefaults(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	// No CONNECT: verbose is on by default, as for a telnet user.
	rc.Send("SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
	rc.Expect("+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n")
}

func TestLoneNewlineAndEmptyLines(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\n\r\n\nSUB foo 1\nPUB foo 2\nhi\r\n")
	rc.Expect("MSG foo 1 2\r\nhi\r\n")
}

func TestControlLineLimit(t *testing.T) {
	s := testutil.StartServer(t)
	ok := testutil.DialRaw(t, s)
	ok.Send("CONNECT {\"verbose\":false}\r\nSUB " + strings.Repeat("a", 4094) + " 1\r\n")
	ok.RoundTrip()

	bad := testutil.DialRaw(t, s)
	bad.Send("CONNECT {\"verbose\":false}\r\nSUB " + strings.Repeat("a", 4095) + " 1\r\n")
	bad.Expect("-ERR 'maximum control line exceeded'\r\n")
	bad.ExpectClosed()
}

func TestControlLineLimitWithoutNewline(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	// Never a line end: the server must give up rather than buffer forever.
	rc.Send("PUB " + strings.Repeat("x", 10000))
	rc.Expect("-ERR 'maximum control line exceeded'\r\n")
	rc.ExpectClosed()
}

func TestProtocolErrors(t *testing.T) {
	cases := []struct {
		name  string
		send  string
		reply string // exact -ERR line, or "" for a silent close
		close bool
	}{
		{"max payload", "PUB foo 1048577\r\n", "-ERR 'Maximum Payload Violation'\r\n", true},
		{"max payload hpub", "CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 12 1048577\r\n", "-ERR 'Maximum Payload Violation'\r\n", true},
		{"unknown op", "FOO bar\r\n", "-ERR 'Unknown Protocol Operation'\r\n", true},
		{"op without args", "PUB\r\n", "-ERR 'Unknown Protocol Operation'\r\n", true},
		{"payload without crlf", "PUB foo 3\r\nabcd\r\n", "-ERR 'Unknown Protocol Operation'\r\n", true},
		// Plain nc ends lines with LF: fine after a command line, not after
		// a payload, refused once the next line comes (as nats-server
		// v2.15.2 does; the README says nc -C).
		{"payload ended by a bare LF", "PUB foo 5\nhello\nPING\n", "-ERR 'Unknown Protocol Operation'\r\n", true},
		{"bad size", "PUB foo x\r\n", "", true},
		{"negative size", "PUB foo -1\r\n", "", true},
		{"too many args", "SUB a b c d\r\n", "", true},
		{"unsub without sid", "UNSUB \r\n", "", true},
		{"hpub header larger than total", "CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 10 5\r\n", "", true},
		{"hpub without headers", "CONNECT {\"verbose\":false}\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", "", true},
		{"bad connect json", "CONNECT {nope\r\n", "", true},
		{"protocol 2", "CONNECT {\"protocol\":2}\r\n", "-ERR 'invalid client protocol'\r\n", true},
		{"no responders without headers", "CONNECT {\"no_responders\":true}\r\n", "-ERR 'no responders requires headers support'\r\n", true},
		{"client -ERR", "-ERR 'oops'\r\n", "", true},
		{"invalid subject", "SUB foo..bar 1\r\n", "-ERR 'Invalid Subject'\r\n", false},
		{"wildcard not last", "SUB foo.>.bar 1\r\n", "-ERR 'Invalid Subject'\r\n", false},
		{"empty token", "SUB .foo 1\r\n", "-ERR 'Invalid Subject'\r\n", false},
	}
	s := testutil.StartServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := testutil.DialRaw(t, s)
			if !strings.HasPrefix(tc.send, "CONNECT") {
				rc.Send("CONNECT {\"verbose\":false}\r\n")
			}
			rc.Send(tc.send)
			if tc.reply != "" {
				rc.Expect(tc.reply)
			}
			if tc.close {
				rc.ExpectClosed()
			} else {
				rc.RoundTrip()
			}
		})
	}
}

func TestLiteralTokensWithWildcardCharacters(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\nSUB foo* 5\r\nSUB a>b 6\r\n")
	rc.Send("PUB foo* 1\r\nx\r\nPUB a>b 1\r\ny\r\n")
	rc.Expect("MSG foo* 5 1\r\nx\r\nMSG a>b 6 1\r\ny\r\n")
}

func TestPedanticInvalidPublishSubject(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":true,\"pedantic\":true}\r\n")
	rc.Expect("+OK\r\n")
	rc.Send("SUB foo.* 1\r\n")
	rc.Expect("+OK\r\n")
	// The reference server warns but still acknowledges and delivers; the
	// wildcard in a published subject matches literally.
	rc.Send("PUB foo.* 1\r\nx\r\n")
	rc.Expect("-ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG foo.* 1 1\r\nx\r\n")

	quiet := testutil.DialRaw(t, s)
	quiet.Send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB foo..bar 1\r\nx\r\n")
	quiet.RoundTrip() // no -ERR without pedantic
}

func TestHeadersRelayedVerbatim(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n")
	rc.Send("HPUB foo r.1 28 30\r\nNATS/1.0\r\nK1: v1\r\nk1: v2\r\n\r\nhi\r\n")
	rc.Expect("HMSG foo 1 r.1 28 30\r\nNATS/1.0\r\nK1: v1\r\nk1: v2\r\n\r\nhi\r\n")
	rc.Send("HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n")
	rc.Expect("HMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\n")
}

func TestHeadersStrippedForClientsWithoutHeaders(t *testing.T) {
	s := testutil.StartServer(t)
	old := testutil.DialRaw(t, s)
	old.Send("CONNECT {\"verbose\":false}\r\nSUB foo 7\r\n")
	old.RoundTrip()
	pub := testutil.DialRaw(t, s)
	pub.Send("CONNECT {\"verbose\":false,\"headers\":true}\r\n")
	pub.Send("HPUB foo reply 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
	pub.RoundTrip()
	old.Expect("MSG foo 7 reply 5\r\nhello\r\n")
}

// One read of publishes whose sizes change from message to message, with
// and without headers, to a subscriber with headers and one without: each
// control line carries its own message's sizes (a producer formats sizes
// once per message for all receivers, and must never reuse a stale one).
func TestControlLineSizesFollowEachMessage(t *testing.T) {
	s := testutil.StartServer(t)
	withHdr := testutil.DialRaw(t, s)
	withHdr.Send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n")
	withHdr.RoundTrip()
	noHdr := testutil.DialRaw(t, s)
	noHdr.Send("CONNECT {\"verbose\":false}\r\nSUB foo 2\r\n")
	noHdr.RoundTrip()
	pub := testutil.DialRaw(t, s)
	pub.Send("CONNECT {\"verbose\":false,\"headers\":true}\r\n" +
		"PUB foo 3\r\nabc\r\n" +
		"PUB foo 3\r\nxyz\r\n" +
		"PUB foo 12\r\n0123456789ab\r\n" +
		"HPUB foo 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nabc\r\n" +
		"HPUB foo 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nab\r\n" +
		"PUB foo 2\r\nab\r\n")
	pub.RoundTrip()
	withHdr.Expect("MSG foo 1 3\r\nabc\r\nMSG foo 1 3\r\nxyz\r\nMSG foo 1 12\r\n0123456789ab\r\n" +
		"HMSG foo 1 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nabc\r\nHMSG foo 1 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nab\r\n" +
		"MSG foo 1 2\r\nab\r\n")
	noHdr.Expect("MSG foo 2 3\r\nabc\r\nMSG foo 2 3\r\nxyz\r\nMSG foo 2 12\r\n0123456789ab\r\n" +
		"MSG foo 2 3\r\nabc\r\nMSG foo 2 2\r\nab\r\nMSG foo 2 2\r\nab\r\n")
}

func TestNoResponders(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.j1dq.* 1\r\n")
	rc.Send("PUB nobody.here _INBOX.j1dq.H1qnGK7a 1\r\nx\r\n")
	rc.Expect("HMSG _INBOX.j1dq.H1qnGK7a 1 43 43\r\nNATS/1.0 503\r\nNats-Subject: nobody.here\r\n\r\n\r\n")

	// Not asked for: nothing.
	plain := testutil.DialRaw(t, s)
	plain.Send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB _INBOX.a.* 1\r\nPUB nobody _INBOX.a.b 1\r\nx\r\n")
	plain.RoundTrip()

	// Echo off: the publisher's own subscription does not count as a
	// responder, so the request reached nobody.
	self := testutil.DialRaw(t, s)
	self.Send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true,\"echo\":false}\r\n")
	self.Send("SUB svc 1\r\nSUB _INBOX.z.* 2\r\nPUB svc _INBOX.z.q 1\r\nx\r\n")
	self.Expect("HMSG _INBOX.z.q 2 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n")
}

func TestAutoUnsubscribe(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\n")
	rc.Send("PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
	rc.Expect("MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n")
	rc.RoundTrip()
	testutil.WaitFor(t, "auto-unsubscribed sub removed", func() bool { return s.NumSubscriptions() == 0 })

	// A limit at or below what was already delivered removes at once.
	rc.Send("SUB bar 2\r\nPUB bar 1\r\nx\r\n")
	rc.Expect("MSG bar 2 1\r\nx\r\n")
	rc.Send("UNSUB 2 1\r\nPUB bar 1\r\ny\r\n")
	rc.RoundTrip()
}

func TestDuplicateSidFirstWins(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 1\r\n")
	rc.Send("PUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n")
	rc.Expect("MSG foo 1 1\r\ny\r\n")
	if n := s.NumSubscriptions(); n != 1 {
		t.Fatalf("subscriptions = %d, want 1", n)
	}
}

func TestUnsubUnknownSidIgnored(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {}\r\nUNSUB 99\r\n")
	rc.Expect("+OK\r\n+OK\r\n")
}

func TestSplitEverywhere(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	session := "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n" +
		"PUB foo r 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
	for i := 0; i < len(session); i++ { // one byte per write
		rc.Send(session[i : i+1])
	}
	rc.Expect("MSG foo 1 r 5\r\nhello\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
}

// A refused connection gets INFO first, as every client expects, then the
// error, then the close; nats.go's Connect fails with that error.
func TestMaxConnections(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxConnections = 1 })
	first := testutil.DialRaw(t, s)
	first.RoundTrip()
	conn := testutil.DialRaw(t, s) // reads and checks the INFO line
	if line := conn.ReadLine(); line != "-ERR 'maximum connections exceeded'\r\n" {
		t.Fatalf("got %q", line)
	}
	conn.ExpectClosed()
	if _, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0)); err == nil || !strings.Contains(err.Error(), "maximum connections exceeded") {
		t.Fatalf("nats.go connect at the limit: %v", err)
	}
	first.RoundTrip() // the existing client is unaffected
}
