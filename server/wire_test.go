package server

import (
	"strings"
	"testing"
)

// Wire tests: exact bytes over raw TCP, as a telnet user or a client
// library sees them (PROTOCOL.md §10 lists the reference server's answers).

func TestTelnetSessionVerbose(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {}\r\n")
	rc.expect("+OK\r\n")
	rc.send("sub foo 1\r\n")
	rc.expect("+OK\r\n")
	rc.send("Sub\tfoo.*   q1  2\r\n")
	rc.expect("+OK\r\n")
	rc.send("pub foo 5\r\nhello\r\n")
	rc.expect("+OK\r\nMSG foo 1 5\r\nhello\r\n")
	rc.send("PUB foo.bar reply.x 3\r\nabc\r\n")
	rc.expect("+OK\r\nMSG foo.bar 2 reply.x 3\r\nabc\r\n")
	rc.send("unsub 1\r\n")
	rc.expect("+OK\r\n")
	rc.send("PING\r\n")
	rc.expect("PONG\r\n")
}

func TestTelnetSessionQuiet(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
	rc.send("SUB foo  1\r\nSUB bar.> 2\r\n")
	rc.send("PUB foo 5\r\nhello\r\nPUB bar.baz.qux 0\r\n\r\n")
	rc.expect("MSG foo 1 5\r\nhello\r\nMSG bar.baz.qux 2 0\r\n\r\n")
	rc.send("UNSUB 1 \r\nPUB foo 1\r\nx\r\n")
	rc.roundTrip() // nothing before PONG: sid 1 is gone
}

func TestOpsBeforeConnectUseDefaults(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	// No CONNECT: verbose is on by default, as for a telnet user.
	rc.send("SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
	rc.expect("+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n")
}

func TestLoneNewlineAndEmptyLines(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false}\n\r\n\nSUB foo 1\nPUB foo 2\nhi\r\n")
	rc.expect("MSG foo 1 2\r\nhi\r\n")
}

func TestControlLineLimit(t *testing.T) {
	s := startServer(t)
	ok := dialRaw(t, s)
	ok.send("CONNECT {\"verbose\":false}\r\nSUB " + strings.Repeat("a", 4094) + " 1\r\n")
	ok.roundTrip()

	bad := dialRaw(t, s)
	bad.send("CONNECT {\"verbose\":false}\r\nSUB " + strings.Repeat("a", 4095) + " 1\r\n")
	bad.expect("-ERR 'maximum control line exceeded'\r\n")
	bad.expectClosed()
}

func TestControlLineLimitWithoutNewline(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	// Never a line end: the server must give up rather than buffer forever.
	rc.send("PUB " + strings.Repeat("x", 10000))
	rc.expect("-ERR 'maximum control line exceeded'\r\n")
	rc.expectClosed()
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
	s := startServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, s)
			if !strings.HasPrefix(tc.send, "CONNECT") {
				rc.send("CONNECT {\"verbose\":false}\r\n")
			}
			rc.send(tc.send)
			if tc.reply != "" {
				rc.expect(tc.reply)
			}
			if tc.close {
				rc.expectClosed()
			} else {
				rc.roundTrip()
			}
		})
	}
}

func TestLiteralTokensWithWildcardCharacters(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\nSUB foo* 5\r\nSUB a>b 6\r\n")
	rc.send("PUB foo* 1\r\nx\r\nPUB a>b 1\r\ny\r\n")
	rc.expect("MSG foo* 5 1\r\nx\r\nMSG a>b 6 1\r\ny\r\n")
}

func TestPedanticInvalidPublishSubject(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":true,\"pedantic\":true}\r\n")
	rc.expect("+OK\r\n")
	rc.send("SUB foo.* 1\r\n")
	rc.expect("+OK\r\n")
	// The reference server warns but still acknowledges and delivers; the
	// wildcard in a published subject matches literally.
	rc.send("PUB foo.* 1\r\nx\r\n")
	rc.expect("-ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG foo.* 1 1\r\nx\r\n")

	quiet := dialRaw(t, s)
	quiet.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB foo..bar 1\r\nx\r\n")
	quiet.roundTrip() // no -ERR without pedantic
}

func TestHeadersRelayedVerbatim(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n")
	rc.send("HPUB foo r.1 28 30\r\nNATS/1.0\r\nK1: v1\r\nk1: v2\r\n\r\nhi\r\n")
	rc.expect("HMSG foo 1 r.1 28 30\r\nNATS/1.0\r\nK1: v1\r\nk1: v2\r\n\r\nhi\r\n")
	rc.send("HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n")
	rc.expect("HMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\n")
}

func TestHeadersStrippedForClientsWithoutHeaders(t *testing.T) {
	s := startServer(t)
	old := dialRaw(t, s)
	old.send("CONNECT {\"verbose\":false}\r\nSUB foo 7\r\n")
	old.roundTrip()
	pub := dialRaw(t, s)
	pub.send("CONNECT {\"verbose\":false,\"headers\":true}\r\n")
	pub.send("HPUB foo reply 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
	pub.roundTrip()
	old.expect("MSG foo 7 reply 5\r\nhello\r\n")
}

func TestNoResponders(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.j1dq.* 1\r\n")
	rc.send("PUB nobody.here _INBOX.j1dq.H1qnGK7a 1\r\nx\r\n")
	rc.expect("HMSG _INBOX.j1dq.H1qnGK7a 1 43 43\r\nNATS/1.0 503\r\nNats-Subject: nobody.here\r\n\r\n\r\n")

	// Not asked for: nothing.
	plain := dialRaw(t, s)
	plain.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB _INBOX.a.* 1\r\nPUB nobody _INBOX.a.b 1\r\nx\r\n")
	plain.roundTrip()

	// Echo off: the publisher's own subscription does not count as a
	// responder, so the request reached nobody.
	self := dialRaw(t, s)
	self.send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true,\"echo\":false}\r\n")
	self.send("SUB svc 1\r\nSUB _INBOX.z.* 2\r\nPUB svc _INBOX.z.q 1\r\nx\r\n")
	self.expect("HMSG _INBOX.z.q 2 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n")
}

func TestAutoUnsubscribe(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\n")
	rc.send("PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
	rc.expect("MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n")
	rc.roundTrip()
	waitFor(t, "auto-unsubscribed sub removed", func() bool { return s.NumSubscriptions() == 0 })

	// A limit at or below what was already delivered removes at once.
	rc.send("SUB bar 2\r\nPUB bar 1\r\nx\r\n")
	rc.expect("MSG bar 2 1\r\nx\r\n")
	rc.send("UNSUB 2 1\r\nPUB bar 1\r\ny\r\n")
	rc.roundTrip()
}

func TestDuplicateSidFirstWins(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 1\r\n")
	rc.send("PUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n")
	rc.expect("MSG foo 1 1\r\ny\r\n")
	if n := s.NumSubscriptions(); n != 1 {
		t.Fatalf("subscriptions = %d, want 1", n)
	}
}

func TestUnsubUnknownSidIgnored(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	rc.send("CONNECT {}\r\nUNSUB 99\r\n")
	rc.expect("+OK\r\n+OK\r\n")
}

func TestSplitEverywhere(t *testing.T) {
	s := startServer(t)
	rc := dialRaw(t, s)
	session := "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n" +
		"PUB foo r 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
	for i := 0; i < len(session); i++ { // one byte per write
		rc.send(session[i : i+1])
	}
	rc.expect("MSG foo 1 r 5\r\nhello\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
}

func TestMaxConnections(t *testing.T) {
	s := startServer(t, func(o *Options) { o.MaxConnections = 1 })
	first := dialRaw(t, s)
	first.roundTrip()
	conn := rawDialNoInfo(t, s)
	if line := conn.readLine(); line != "-ERR 'maximum connections exceeded'\r\n" {
		t.Fatalf("got %q", line)
	}
	conn.expectClosed()
	first.roundTrip() // the existing client is unaffected
}
