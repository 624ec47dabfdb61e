package broker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/fuzzguard"
	"github.com/midgemq/midge/sublist"
)

// Fuzz targets for the server's decoders of untrusted bytes: CONNECT JSON
// and the credentials in it, whole client sessions under permissions, and
// the configuration loader.

const fuzzNonce = "fuzz-nonce-0123"

// fuzzNkey is a fixed user key so the corpus can hold a validly signed
// CONNECT; its seed is generated, not a secret of anything.
var fuzzNkey = sync.OnceValue(func() nkeys.KeyPair {
	kp, err := nkeys.CreateUser()
	if err != nil {
		panic(err)
	}
	return kp
})

func fuzzAuthServer(tb testing.TB) *Broker {
	pub, _ := fuzzNkey().PublicKey()
	s, err := New(config.Options{
		Accounts: []config.AccountOptions{{Name: "A"}},
		Auth: config.AuthOptions{
			Users: []config.User{
				{Username: "alice", Password: "pw-alice"},
				{Username: "bob", Password: "pw-bob", Account: "A",
					Permissions: &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{"pub.>"}}}},
			},
			Nkeys: []config.NkeyUser{{Nkey: pub, Account: "A"}},
		},
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func signedConnect(tb testing.TB) []byte {
	kp := fuzzNkey()
	pub, _ := kp.PublicKey()
	sig, err := kp.Sign([]byte(fuzzNonce))
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"nkey": pub, "sig": base64.RawURLEncoding.EncodeToString(sig), "verbose": false})
	return b
}

func FuzzConnect(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"verbose":false,"pedantic":false,"protocol":1,"headers":true,"no_responders":true}`,
		`{"user":"alice","pass":"pw-alice"}`, `{"user":"bob","pass":"pw-bob","echo":false}`,
		`{"auth_token":"t"}`, `{"nkey":"UABC","sig":"AAAA"}`, `{"protocol":2}`, `{"protocol":-1}`,
		`{"protocol":1e400}`, `{"verbose":"yes"}`, `[1,2]`, `null`, `{"user":null}`, `{"sig":"%%%"}`,
	} {
		f.Add([]byte(s))
	}
	f.Add(signedConnect(f))
	s := fuzzAuthServer(f)
	f.Fuzz(func(t *testing.T, arg []byte) {
		fields, opts, err := parseConnect(arg)
		if err != nil {
			return
		}
		if opts.protocol < 0 || opts.protocol > 1 || (opts.noResponders && !opts.headers) {
			t.Fatalf("accepted options %+v", opts)
		}
		u := s.authn().authenticate(&identity{user: fields.User, pass: fields.Pass, token: fields.AuthToken,
			nkey: fields.Nkey, sig: fields.Sig, nonce: fuzzNonce})
		switch {
		case u == nil:
		case u.name == "alice" && (fields.User != "alice" || fields.Pass != "pw-alice"):
			t.Fatalf("alice authenticated by %q", arg)
		case u.name == "bob" && (fields.User != "bob" || fields.Pass != "pw-bob"):
			t.Fatalf("bob authenticated by %q", arg)
		case strings.HasPrefix(u.name, "U") && fields.Nkey != u.name:
			t.Fatalf("nkey user %s authenticated by %q", u.name, arg)
		}
	})
}

// captureConn records what the server writes to one client.
type captureConn struct {
	discardConn
	buf bytes.Buffer
}

func (c *captureConn) Write(b []byte) (int, error) { return c.buf.Write(b) }

// FuzzClientSession feeds arbitrary bytes, after a valid CONNECT, to a
// client with publish and subscribe permissions, with a second client of
// the same account subscribed to everything. Nothing may panic, and the
// watcher must never receive a subject the publisher may not publish to.
func FuzzClientSession(f *testing.F) {
	for _, s := range []string{
		"PUB pub.a 2\r\nhi\r\nPUB priv 1\r\nx\r\nSUB pub.> 1\r\nSUB priv 2\r\nPING\r\n",
		"HPUB pub.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nSUB pub.* q 3\r\nUNSUB 3 1\r\n",
		"CONNECT {\"user\":\"alice\",\"pass\":\"pw-alice\"}\r\nPUB priv 0\r\n\r\n",
		"CONNECT {\"user\":\"bob\",\"pass\":\"pw-bob\",\"headers\":true}\r\nPUB pub.x r.1 1\r\nx\r\n",
		"SUB > 1\r\nSUB pub.secret 2\r\nPUB pub.secret 1\r\ns\r\n",
	} {
		f.Add([]byte(s))
	}
	s := fuzzAuthServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzguard.Run(t, data, func() error { return clientSession(s, data) })
	})
}

func clientSession(s *Broker, data []byte) error {
	watcherConn := &captureConn{}
	watcher := newClient(s, watcherConn, Transport{})
	pub := newClient(s, discardConn{}, Transport{})
	defer watcher.closeConnection(CloseClientClosed, false)
	defer pub.closeConnection(CloseClientClosed, false)
	for _, c := range []*client{watcher, pub} {
		if err := c.parser.Parse([]byte("CONNECT {\"user\":\"bob\",\"pass\":\"pw-bob\",\"verbose\":false,\"headers\":true}\r\n")); err != nil {
			return err
		}
	}
	if err := watcher.parser.Parse([]byte("SUB > 99\r\n")); err != nil {
		return err
	}
	_ = pub.parser.Parse(data)
	pub.prod.endRead()
	if _, err := watcher.w.flush(&watcher.out); err != nil {
		return err
	}
	for _, subject := range deliveredSubjects(watcherConn.buf.Bytes()) {
		if !sublist.MatchLiteral(subject, "pub.>") {
			return fmt.Errorf("watcher received %q, which the publisher may not publish", subject)
		}
	}
	return nil
}

// deliveredSubjects lists the subjects of the MSG and HMSG lines in out,
// skipping payloads by their declared size (a payload may look like a MSG
// line).
func deliveredSubjects(out []byte) []string {
	var subjects []string
	for len(out) > 0 {
		end := bytes.Index(out, []byte("\r\n"))
		if end < 0 {
			break
		}
		// Split as the protocol does, on spaces and tabs only: a subject
		// may hold other whitespace, such as a form feed.
		f := strings.FieldsFunc(string(out[:end]), func(r rune) bool { return r == ' ' || r == '\t' })
		out = out[end+2:]
		if len(f) < 3 || (f[0] != "MSG" && f[0] != "HMSG") {
			continue
		}
		subjects = append(subjects, f[1])
		size, err := strconv.Atoi(f[len(f)-1])
		if err != nil || size+2 > len(out) {
			break
		}
		out = out[size+2:]
	}
	return subjects
}

func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"port: 4222\nmax_payload: 1MB\n",
		"listen: 127.0.0.1:4222\nping_interval: \"30s\"\nwrite_deadline: 5\n",
		"authorization { token: s3cret, timeout: 1.5 }",
		"authorization { users: [ {user: a, password: b, permissions: {publish: {allow: [\"a.>\"], deny: \"a.b\"}, subscribe: \"x y\", allow_responses: {max: 2, expires: \"1m\"}}} ] }",
		"accounts { A { users: [ {user: a, pass: b} ] } }\nno_auth_user: a",
		"tls { cert_file: c, key_file: k, verify: true, timeout: 2 }",
		"V: 5\nmax_subs: $V\n", "a { b { c: [1, 2, {d: e}] } }", "x = 1; y: \"2\"", "port: -1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(strings.ToLower(text), "include") {
			return // would read arbitrary files
		}
		fuzzguard.Run(t, text, func() error { return loadConfigText(text) })
	})
}

func loadConfigText(text string) error {
	opts, err := config.ParseConfig(text)
	if err != nil {
		if _, ok := err.(*config.ConfigError); !ok {
			return fmt.Errorf("error of type %T: %v", err, err)
		}
		return nil
	}
	opts.TLS = config.TLSOptions{} // never read files named by the input
	if s, err := New(opts, nil); err == nil && s.authn() == nil {
		return errors.New("server without authenticator")
	}
	return nil
}

// Compile-time check that the test conns satisfy net.Conn.
var _ net.Conn = (*captureConn)(nil)

func TestDeliveredSubjects(t *testing.T) {
	out := "+OK\r\nMSG a.b 1 12\r\nMSG fake 1 1\r\nHMSG c\f 2 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n"
	got := strings.Join(deliveredSubjects([]byte(out)), ",")
	if got != "a.b,c\f" {
		t.Fatalf("got %q", got)
	}
}
