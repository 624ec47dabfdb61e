package parser

import (
	"testing"
)

func TestAppendEncoders(t *testing.T) {
	b := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"msg", AppendMsg(nil, b("foo"), b("1"), nil, 5), "MSG foo 1 5\r\n"},
		{"msg reply", AppendMsg(nil, b("foo.bar"), b("22"), b("_INBOX.x.1"), 3), "MSG foo.bar 22 _INBOX.x.1 3\r\n"},
		{"msg empty reply", AppendMsg(nil, b("foo"), b("1"), []byte{}, 0), "MSG foo 1 0\r\n"},
		{"msg appends", AppendMsg([]byte("+OK\r\n"), b("a"), b("9"), nil, 1048576), "+OK\r\nMSG a 9 1048576\r\n"},
		{"hmsg", AppendHMsg(nil, b("foo"), b("1"), nil, 12, 14), "HMSG foo 1 12 14\r\n"},
		{"hmsg reply", AppendHMsg(nil, b("foo"), b("1"), b("r.1"), 28, 30), "HMSG foo 1 r.1 28 30\r\n"},
		{"hmsg no responders", AppendHMsg(nil, b("_INBOX.j1dq.H1qnGK7a"), b("1"), nil, 43, 43),
			"HMSG _INBOX.j1dq.H1qnGK7a 1 43 43\r\n"},
		{"msg sized", AppendMsgSized(nil, b("foo.bar"), b("22"), b("_INBOX.x.1"), b("3")), "MSG foo.bar 22 _INBOX.x.1 3\r\n"},
		{"msg sized appends", AppendMsgSized([]byte("+OK\r\n"), b("a"), b("9"), nil, b("1048576")), "+OK\r\nMSG a 9 1048576\r\n"},
		{"hmsg sized", AppendHMsgSized(nil, b("foo"), b("1"), b("r.1"), b("28 30")), "HMSG foo 1 r.1 28 30\r\n"},
		{"info", AppendInfo(nil, b(`{"server_id":"x","max_payload":1048576}`)),
			"INFO {\"server_id\":\"x\",\"max_payload\":1048576} \r\n"},
		{"err", AppendErr(nil, "Unknown Protocol Operation"), "-ERR 'Unknown Protocol Operation'\r\n"},
		{"err perms", AppendErr([]byte("PONG\r\n"), `Permissions Violation for Publish to "nope"`),
			"PONG\r\n-ERR 'Permissions Violation for Publish to \"nope\"'\r\n"},
		{"err from WireError", AppendErr(nil, ErrMaxControlLine.Text), "-ERR 'maximum control line exceeded'\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	for name, line := range map[string][]byte{"PING\r\n": PingLine, "PONG\r\n": PongLine, "+OK\r\n": OKLine, "\r\n": CRLF} {
		if string(line) != name {
			t.Errorf("got %q, want %q", line, name)
		}
	}
}

func TestAppendNoAllocs(t *testing.T) {
	dst := make([]byte, 0, 256)
	subj, sid, reply, js := []byte("foo.bar"), []byte("12"), []byte("_INBOX.x"), []byte(`{"a":1}`)
	n := testing.AllocsPerRun(100, func() {
		d := AppendMsg(dst[:0], subj, sid, reply, 128)
		d = AppendHMsg(d, subj, sid, nil, 12, 140)
		d = AppendInfo(d, js)
		_ = AppendErr(d, "Stale Connection")
	})
	if n != 0 {
		t.Errorf("%v allocs", n)
	}
}

func TestHeaderValue(t *testing.T) {
	const block = "NATS/1.0\r\nNats-Msg-Id: abc\r\nK1: v1\r\nk1: v2\r\nK1: again\r\n" +
		"Trim:  \t value  \r\nEmpty:\r\nSpaced: \r\nColon: a:b\r\nLF: only\n\r\n"
	tests := []struct {
		name, hdr, key string
		want           string
		found          bool
	}{
		{"simple", block, "Nats-Msg-Id", "abc", true},
		{"case sensitive upper", block, "K1", "v1", true},
		{"case sensitive lower", block, "k1", "v2", true},
		{"not canonicalised", block, "nats-msg-id", "", false},
		{"repeated gives first", block, "K1", "v1", true},
		{"leading space and tab trimmed, trailing kept", block, "Trim", "value  ", true},
		{"empty value", block, "Empty", "", true},
		{"only spaces", block, "Spaced", "", true},
		{"value with colon", block, "Colon", "a:b", true},
		{"lone LF line", block, "LF", "only", true},
		{"missing", block, "Nope", "", false},
		{"prefix of key", block, "Nats-Msg", "", false},
		{"key longer than line", block, "Nats-Msg-Id-X", "", false},
		{"empty key", block, "", "", false},
		{"status line is not a header", "NATS/1.0 503\r\n\r\n", "NATS/1.0 503", "", false},
		{"no newline at all", "K: v", "K", "", false},
		{"no status line", "K: v\r\nK: w\r\n\r\n", "K", "w", true},
		{"no blank line", "NATS/1.0\r\nK: v", "K", "v", true},
		{"no colon", "NATS/1.0\r\nK v\r\nK\r\n\r\n", "K", "", false},
		{"space before colon", "NATS/1.0\r\nK : v\r\n\r\n", "K", "", false},
		{"bare CR lines", "NATS/1.0\r\r\r\nK:\r\r\n", "K", "\r", true},
		{"empty block", "", "K", "", false},
		{"binary", "NATS/1.0\r\n\x00\xff: \x01\r\n\r\n", "\x00\xff", "\x01", true},
	}
	for _, tt := range tests {
		v := HeaderValue([]byte(tt.hdr), tt.key)
		if string(v) != tt.want || (v != nil) != tt.found {
			t.Errorf("%s: HeaderValue(%q) = %q (nil %v), want %q (found %v)", tt.name, tt.key, v, v == nil, tt.want, tt.found)
		}
		if has := HasHeader([]byte(tt.hdr), tt.key); has != tt.found {
			t.Errorf("%s: HasHeader(%q) = %v", tt.name, tt.key, has)
		}
	}
}

func TestHeaderStatus(t *testing.T) {
	tests := []struct {
		hdr  string
		code int
		desc string
	}{
		{"NATS/1.0 503\r\n\r\n", 503, ""},
		{"NATS/1.0 503\r\nNats-Subject: nobody.here\r\n\r\n", 503, ""},
		{"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n", 408, "Request Timeout"},
		{"NATS/1.0 100 Idle Heartbeat\r\n\r\n", 100, "Idle Heartbeat"},
		{"NATS/1.0 409 Consumer Deleted  \r\n\r\n", 409, "Consumer Deleted"},
		{"NATS/1.0\t404\tNo Messages\n\n", 404, "No Messages"},
		{"NATS/1.0 503", 503, ""},
		{"NATS/1.0\r\n\r\n", 0, ""},
		{"NATS/1.0\r\nStatus: 503\r\n\r\n", 0, ""},
		{"NATS/1.0", 0, ""},
		{"NATS/1.0 50\r\n\r\n", 0, ""},
		{"NATS/1.0 5034\r\n\r\n", 0, ""},
		{"NATS/1.0 abc\r\n\r\n", 0, ""},
		{"NATS/1.0 -12\r\n\r\n", 0, ""},
		{"NATS/2.0 503\r\n\r\n", 0, ""},
		{"nats/1.0 503\r\n\r\n", 0, ""},
		{"garbage", 0, ""},
		{"", 0, ""},
		{"\r\n\r\n", 0, ""},
	}
	for _, tt := range tests {
		code, desc := HeaderStatus([]byte(tt.hdr))
		if code != tt.code || string(desc) != tt.desc {
			t.Errorf("HeaderStatus(%q) = %d %q, want %d %q", tt.hdr, code, desc, tt.code, tt.desc)
		}
	}
}

func TestHeaderNoAllocs(t *testing.T) {
	hdr := []byte("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 2\r\n\r\n")
	n := testing.AllocsPerRun(100, func() {
		_ = HeaderValue(hdr, "Nats-Pending-Bytes")
		_ = HasHeader(hdr, "Missing")
		_, _ = HeaderStatus(hdr)
	})
	if n != 0 {
		t.Errorf("%v allocs", n)
	}
}
