package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// connectErr tries a nats.go connection that is expected to fail.
func connectErr(t *testing.T, s *Server, opts ...nats.Option) error {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), append([]nats.Option{nats.MaxReconnects(0)}, opts...)...)
	if err == nil {
		nc.Close()
		return nil
	}
	return err
}

// pubSubWorks proves a connection is usable by a round trip to itself.
func pubSubWorks(t *testing.T, nc *nats.Conn) {
	t.Helper()
	sub, err := nc.SubscribeSync("auth.check")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("auth.check", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	nextMsg(t, sub)
}

func TestTokenAuth(t *testing.T) {
	s := startServer(t, func(o *config.Options) { o.Auth.Token = "s3cr3t" })
	pubSubWorks(t, connect(t, s, nats.Token("s3cr3t")))
	for _, opt := range []nats.Option{nats.Token("wrong"), nats.Token(""), nats.UserInfo("s3cr3t", "")} {
		if err := connectErr(t, s, opt); !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("err = %v, want authorization violation", err)
		}
	}
	if got := s.Stats().Violations.AuthFailures; got != 3 {
		t.Fatalf("auth failures = %d, want 3", got)
	}
}

func TestUserPasswordAuthWithBcrypt(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(o *config.Options) { o.Auth.Username, o.Auth.Password = "alice", string(hash) })
	pubSubWorks(t, connect(t, s, nats.UserInfo("alice", "pw")))
	for _, opt := range []nats.Option{nats.UserInfo("alice", "nope"), nats.UserInfo("bob", "pw"),
		nats.UserInfo("alice", string(hash))} {
		if err := connectErr(t, s, opt); !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("err = %v, want authorization violation", err)
		}
	}
}

func TestUsersListAndNoAuthUser(t *testing.T) {
	s := startServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "a", Password: "pa"}, {Username: "b", Password: "pb"}, {Username: "guest"}}
		o.Auth.NoAuthUser = "b"
	})
	pubSubWorks(t, connect(t, s, nats.UserInfo("guest", ""))) // configured without a password
	pubSubWorks(t, connect(t, s, nats.UserInfo("a", "pa")))
	pubSubWorks(t, connect(t, s, nats.UserInfo("b", "pb")))
	pubSubWorks(t, connect(t, s)) // no credentials: connects as b
	if err := connectErr(t, s, nats.UserInfo("a", "pb")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("err = %v", err)
	}
}

func TestNkeyAuth(t *testing.T) {
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	other, _ := nkeys.CreateUser()
	s := startServer(t, func(o *config.Options) { o.Auth.Nkeys = []config.NkeyUser{{Nkey: pub}} })

	info := rawInfo(t, s)
	if nonce, _ := info["nonce"].(string); len(nonce) != 15 || info["auth_required"] != true {
		t.Fatalf("INFO lacks a nonce or auth_required: %v", info)
	}
	pubSubWorks(t, connect(t, s, nats.Nkey(pub, user.Sign)))
	// The right public key with someone else's signature.
	if err := connectErr(t, s, nats.Nkey(pub, other.Sign)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("forged signature: err = %v", err)
	}
	otherPub, _ := other.PublicKey()
	if err := connectErr(t, s, nats.Nkey(otherPub, other.Sign)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("unknown nkey: err = %v", err)
	}
}

// rawInfo reads and decodes the INFO a new raw connection gets.
func rawInfo(t *testing.T, s *Server) map[string]any {
	t.Helper()
	rc := rawDialNoInfo(t, s)
	line := rc.readLine()
	var info map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(line, "INFO "), " \r\n")), &info); err != nil {
		t.Fatalf("INFO %q: %v", line, err)
	}
	return info
}

func TestInfoAdvertisesAuthOnlyWhenConfigured(t *testing.T) {
	info := rawInfo(t, startServer(t))
	if _, ok := info["auth_required"]; ok {
		t.Fatalf("auth_required without auth: %v", info)
	}
	info = rawInfo(t, startServer(t, func(o *config.Options) { o.Auth.Token = "x" }))
	if info["auth_required"] != true {
		t.Fatalf("no auth_required: %v", info)
	}
	if _, ok := info["nonce"]; ok {
		t.Fatalf("nonce without nkey users: %v", info)
	}
}

func TestAuthWireErrors(t *testing.T) {
	s := startServer(t, func(o *config.Options) { o.Auth.Username, o.Auth.Password = "u", "p" })
	for _, first := range []string{"PING\r\n", "SUB foo 1\r\n", "PUB foo 1\r\nx\r\n", "UNSUB 1\r\n", "PONG\r\n",
		"INFO {}\r\n", "CONNECT {\"user\":\"u\",\"pass\":\"bad\"}\r\nPING\r\n", "CONNECT {}\r\n"} {
		rc := dialRaw(t, s)
		rc.send(first)
		rc.expect("-ERR 'Authorization Violation'\r\n")
		rc.expectClosed()
	}
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\n")
	rc.roundTrip()
}

func TestAuthTimeout(t *testing.T) {
	s := startServer(t, func(o *config.Options) {
		o.Auth.Token = "t"
		o.Auth.Timeout = 200 * time.Millisecond
	})
	good := dialRaw(t, s)
	good.send("CONNECT {\"auth_token\":\"t\",\"verbose\":false}\r\n")
	good.roundTrip()
	silent := dialRaw(t, s)
	silent.expect("-ERR 'Authentication Timeout'\r\n")
	silent.expectClosed()
	good.roundTrip() // authenticated in time: untouched by the timer
	if got := s.Stats().Violations.AuthTimeouts; got != 1 {
		t.Fatalf("auth timeouts = %d, want 1", got)
	}
}

// A second CONNECT may repeat the credentials but not switch users: the
// connection's subscriptions live in the first user's account.
func TestReconnectAsAnotherUserRefused(t *testing.T) {
	s := startServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "a", Password: "pa"}, {Username: "b", Password: "pb"}}
	})
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}\r\nCONNECT {\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}\r\n")
	rc.roundTrip()
	rc.send("CONNECT {\"user\":\"b\",\"pass\":\"pb\"}\r\n")
	rc.expect("-ERR 'Authorization Violation'\r\n")
	rc.expectClosed()
}

func TestAuthConfigurationErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		auth config.AuthOptions
		accs []config.AccountOptions
	}{
		{"token with users", config.AuthOptions{Token: "t", Users: []config.User{{Username: "a"}}}, nil},
		{"user with users", config.AuthOptions{Username: "u", Users: []config.User{{Username: "a"}}}, nil},
		{"password alone", config.AuthOptions{Password: "p"}, nil},
		{"duplicate user", config.AuthOptions{Users: []config.User{{Username: "a"}, {Username: "a"}}}, nil},
		{"bad nkey", config.AuthOptions{Nkeys: []config.NkeyUser{{Nkey: "UNOTAKEY"}}}, nil},
		{"unknown account", config.AuthOptions{Users: []config.User{{Username: "a", Account: "X"}}}, nil},
		{"unknown no_auth_user", config.AuthOptions{Users: []config.User{{Username: "a"}}, NoAuthUser: "b"}, nil},
		{"bad permission", config.AuthOptions{Users: []config.User{{Username: "a", Permissions: &config.Permissions{
			Publish: &config.SubjectPermission{Allow: []string{"a..b"}}}}}}, nil},
		{"duplicate account", config.AuthOptions{}, []config.AccountOptions{{Name: "A"}, {Name: "A"}}},
	} {
		if _, err := New(config.Options{Auth: tc.auth, Accounts: tc.accs}, nil); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestAccountsIsolateUsers(t *testing.T) {
	s := startServer(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}, {Name: "B"}}
		o.Auth.Users = []config.User{
			{Username: "a", Password: "p", Account: "A"},
			{Username: "a2", Password: "p", Account: "A"},
			{Username: "b", Password: "p", Account: "B"},
			{Username: "g", Password: "p"},
		}
	})
	conns := map[string]*nats.Conn{}
	subs := map[string]*nats.Subscription{}
	for _, u := range []string{"a", "a2", "b", "g"} {
		conns[u] = connect(t, s, nats.UserInfo(u, "p"))
		subs[u], _ = conns[u].SubscribeSync(">")
		conns[u].Flush()
	}
	for u, nc := range conns {
		if err := nc.Publish("from."+u, nil); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
	}
	want := map[string][]string{
		"a": {"from.a", "from.a2"}, "a2": {"from.a", "from.a2"}, "b": {"from.b"}, "g": {"from.g"},
	}
	for u, subjects := range want {
		got := map[string]bool{}
		for range subjects {
			got[nextMsg(t, subs[u]).Subject] = true
		}
		for _, subj := range subjects {
			if !got[subj] {
				t.Errorf("%s did not get %s (got %v)", u, subj, got)
			}
		}
		expectNoMsg(t, conns[u], subs[u]) // nothing from other accounts
	}
	accA, ok := s.LookupAccount("A")
	if !ok || accA.Name() != "A" || s.Accounts()[0].Name() != broker.GlobalAccountName {
		t.Fatalf("LookupAccount/Accounts: %v %v", accA, s.Accounts())
	}
	// An internal publisher into A reaches A's users only.
	accA.NewPublisher().Publish([]byte("internal"), nil, nil, nil)
	if m := nextMsg(t, subs["a"]); m.Subject != "internal" {
		t.Fatalf("a got %q", m.Subject)
	}
	expectNoMsg(t, conns["b"], subs["b"])
}
