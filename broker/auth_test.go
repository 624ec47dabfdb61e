package broker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

func TestTokenAuth(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.Auth.Token = "s3cr3t" })
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.Token("s3cr3t")))
	for _, opt := range []nats.Option{nats.Token("wrong"), nats.Token(""), nats.UserInfo("s3cr3t", "")} {
		if err := testutil.ConnectErr(t, s, opt); !errors.Is(err, nats.ErrAuthorization) {
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
	s := testutil.StartServer(t, func(o *config.Options) { o.Auth.Username, o.Auth.Password = "alice", string(hash) })
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.UserInfo("alice", "pw")))
	for _, opt := range []nats.Option{nats.UserInfo("alice", "nope"), nats.UserInfo("bob", "pw"),
		nats.UserInfo("alice", string(hash))} {
		if err := testutil.ConnectErr(t, s, opt); !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("err = %v, want authorization violation", err)
		}
	}
}

func TestUsersListAndNoAuthUser(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "a", Password: "pa"}, {Username: "b", Password: "pb"}, {Username: "guest"}}
		o.Auth.NoAuthUser = "b"
	})
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.UserInfo("guest", ""))) // configured without a password
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.UserInfo("a", "pa")))
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.UserInfo("b", "pb")))
	testutil.PubSubWorks(t, testutil.Connect(t, s)) // no credentials: connects as b
	if err := testutil.ConnectErr(t, s, nats.UserInfo("a", "pb")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("err = %v", err)
	}
}

func TestNkeyAuth(t *testing.T) {
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	other, _ := nkeys.CreateUser()
	s := testutil.StartServer(t, func(o *config.Options) { o.Auth.Nkeys = []config.NkeyUser{{Nkey: pub}} })

	info := testutil.RawInfo(t, s)
	if nonce, _ := info["nonce"].(string); len(nonce) != 15 || info["auth_required"] != true {
		t.Fatalf("INFO lacks a nonce or auth_required: %v", info)
	}
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.Nkey(pub, user.Sign)))
	// The right public key with someone else's signature.
	if err := testutil.ConnectErr(t, s, nats.Nkey(pub, other.Sign)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("forged signature: err = %v", err)
	}
	otherPub, _ := other.PublicKey()
	if err := testutil.ConnectErr(t, s, nats.Nkey(otherPub, other.Sign)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("unknown nkey: err = %v", err)
	}
}

func TestInfoAdvertisesAuthOnlyWhenConfigured(t *testing.T) {
	info := testutil.RawInfo(t, testutil.StartServer(t))
	if _, ok := info["auth_required"]; ok {
		t.Fatalf("auth_required without auth: %v", info)
	}
	info = testutil.RawInfo(t, testutil.StartServer(t, func(o *config.Options) { o.Auth.Token = "x" }))
	if info["auth_required"] != true {
		t.Fatalf("no auth_required: %v", info)
	}
	if _, ok := info["nonce"]; ok {
		t.Fatalf("nonce without nkey users: %v", info)
	}
}

func TestAuthWireErrors(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.Auth.Username, o.Auth.Password = "u", "p" })
	for _, first := range []string{"PING\r\n", "SUB foo 1\r\n", "PUB foo 1\r\nx\r\n", "UNSUB 1\r\n", "PONG\r\n",
		"INFO {}\r\n", "CONNECT {\"user\":\"u\",\"pass\":\"bad\"}\r\nPING\r\n", "CONNECT {}\r\n"} {
		rc := testutil.DialRaw(t, s)
		rc.Send(first)
		rc.Expect("-ERR 'Authorization Violation'\r\n")
		rc.ExpectClosed()
	}
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\n")
	rc.RoundTrip()
}

func TestAuthTimeout(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Auth.Token = "t"
		o.Auth.Timeout = 200 * time.Millisecond
	})
	good := testutil.DialRaw(t, s)
	good.Send("CONNECT {\"auth_token\":\"t\",\"verbose\":false}\r\n")
	good.RoundTrip()
	silent := testutil.DialRaw(t, s)
	silent.Expect("-ERR 'Authentication Timeout'\r\n")
	silent.ExpectClosed()
	good.RoundTrip() // authenticated in time: untouched by the timer
	if got := s.Stats().Violations.AuthTimeouts; got != 1 {
		t.Fatalf("auth timeouts = %d, want 1", got)
	}
}

// A second CONNECT may repeat the credentials but not switch users: the
// connection's subscriptions live in the first user's account.
func TestReconnectAsAnotherUserRefused(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "a", Password: "pa"}, {Username: "b", Password: "pb"}}
	})
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}\r\nCONNECT {\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}\r\n")
	rc.RoundTrip()
	rc.Send("CONNECT {\"user\":\"b\",\"pass\":\"pb\"}\r\n")
	rc.Expect("-ERR 'Authorization Violation'\r\n")
	rc.ExpectClosed()
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
		if _, err := server.New(config.Options{Auth: tc.auth, Accounts: tc.accs}, nil); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestAccountsIsolateUsers(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
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
		conns[u] = testutil.Connect(t, s, nats.UserInfo(u, "p"))
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
			got[testutil.NextMsg(t, subs[u]).Subject] = true
		}
		for _, subj := range subjects {
			if !got[subj] {
				t.Errorf("%s did not get %s (got %v)", u, subj, got)
			}
		}
		testutil.ExpectNoMsg(t, conns[u], subs[u]) // nothing from other accounts
	}
	accA, ok := s.LookupAccount("A")
	if !ok || accA.Name() != "A" || s.Accounts()[0].Name() != broker.GlobalAccountName {
		t.Fatalf("LookupAccount/Accounts: %v %v", accA, s.Accounts())
	}
	// An internal publisher into A reaches A's users only.
	accA.NewPublisher().Publish([]byte("internal"), nil, nil, nil)
	if m := testutil.NextMsg(t, subs["a"]); m.Subject != "internal" {
		t.Fatalf("a got %q", m.Subject)
	}
	testutil.ExpectNoMsg(t, conns["b"], subs["b"])
}
