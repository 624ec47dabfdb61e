package route

import "testing"

// FuzzParser feeds arbitrary bytes, in two reads, to the route parser: it
// must return an error or parse, never panic or loop, and never hand out a
// message whose header is larger than itself.
func FuzzParser(f *testing.F) {
	for _, seed := range []string{
		"INFO {}\r\nPING\r\n", "RS+ $G foo q 2\r\nRS- $G foo q\r\n",
		"RMSG $G foo + r q 2\r\nhi\r\n", "HMSG $G foo | q 3 5\r\nabcde\r\n",
		"RMSG $G foo 5\r\nab", "CONNECT {\"name\":\"x\"}\r\n-ERR 'x'\r\n",
	} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		p := newParser(checker{t})
		at := int(cut) % (len(data) + 1)
		if err := p.parse(data[:at]); err != nil {
			return
		}
		_ = p.parse(data[at:])
	})
}

type checker struct{ t *testing.T }

func (checker) processInfo([]byte) error               { return nil }
func (checker) processConnect([]byte) error            { return nil }
func (checker) processPing() error                     { return nil }
func (checker) processPong() error                     { return nil }
func (checker) processSub(_, _, _ []byte, _ int) error { return nil }
func (checker) processUnsub(_, _, _ []byte) error      { return nil }
func (checker) processErr([]byte) error                { return nil }
func (c checker) processMsg(m *routedMsg) error {
	if len(m.account) == 0 || len(m.subject) == 0 {
		c.t.Fatalf("message without account or subject: %+v", m)
	}
	return nil
}
