package server_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
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

// watched is a nats.go connection whose asynchronous errors, disconnects
// and close the test can wait for.
type watched struct {
	*nats.Conn
	errs         testutil.AsyncErrors
	closed       chan struct{}
	mu           sync.Mutex
	disconnected int
}

func connectWatched(t *testing.T, s *server.Server, opts ...nats.Option) *watched {
	t.Helper()
	w := &watched{closed: make(chan struct{})}
	opts = append(opts, w.errs.Handler(),
		nats.DisconnectErrHandler(func(*nats.Conn, error) {
			w.mu.Lock()
			w.disconnected++
			w.mu.Unlock()
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(w.closed) }))
	w.Conn = testutil.Connect(t, s, opts...)
	return w
}

// expectRevoked waits for the server to close the connection with
// 'Authorization Violation'.
func (w *watched) expectRevoked(t *testing.T) {
	t.Helper()
	if e := w.errs.Next(t); !strings.Contains(strings.ToLower(e), "authorization violation") {
		t.Fatalf("async error %q, want an authorization violation", e)
	}
	select {
	case <-w.closed:
	case <-time.After(testutil.MsgWait):
		t.Fatal("connection not closed")
	}
}

// expectUntouched checks the connection is still the one it was: no
// disconnect, no reconnect, and a round trip works.
func (w *watched) expectUntouched(t *testing.T) {
	t.Helper()
	if err := w.FlushTimeout(testutil.MsgWait); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.disconnected != 0 || w.Reconnects != 0 || !w.IsConnected() {
		t.Fatalf("connection disturbed: %d disconnects, %d reconnects", w.disconnected, w.Reconnects)
	}
}

// expectError waits for an asynchronous error containing want.
func (w *watched) expectError(t *testing.T, want string) {
	t.Helper()
	if e := w.errs.Next(t); !strings.Contains(e, want) {
		t.Fatalf("async error %q, want one containing %q", e, want)
	}
}

// reloadAuth reloads s with its options as changed by mutate.
func reloadAuth(t *testing.T, s *server.Server, mutate func(*config.Options)) {
	t.Helper()
	next := *s.Options()
	next.Auth.Users = append([]config.User(nil), next.Auth.Users...)
	mutate(&next)
	if err := s.Reload(next); err != nil {
		t.Fatalf("reload: %v", err)
	}
}

// serverSubs counts the subscriptions the server holds for a connection.
func serverSubs(t *testing.T, s *server.Server, nc *nats.Conn) int {
	t.Helper()
	cid, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	conns := s.Broker().OpenConns(cid, "", broker.SubsNone)
	if len(conns) != 1 {
		t.Fatalf("no client %d", cid)
	}
	return int(conns[0].NumSubs)
}

func usersServer(t *testing.T, users ...config.User) *server.Server {
	t.Helper()
	return testutil.StartServer(t, func(o *config.Options) { o.Auth.Users = users })
}

func TestReloadRemovedUserIsClosedOthersUntouched(t *testing.T) {
	s := usersServer(t, config.User{Username: "alice", Password: "a"}, config.User{Username: "bob", Password: "b"})
	alice := connectWatched(t, s, nats.UserInfo("alice", "a"))
	bob := connectWatched(t, s, nats.UserInfo("bob", "b"))
	sub, _ := alice.SubscribeSync("still.here")
	alice.Flush()

	reloadAuth(t, s, func(o *config.Options) { o.Auth.Users = o.Auth.Users[:1] })

	bob.expectRevoked(t)
	alice.expectUntouched(t)
	alice.Publish("still.here", []byte("yes"))
	if m := testutil.NextMsg(t, sub); string(m.Data) != "yes" {
		t.Fatalf("got %q", m.Data)
	}
	if err := testutil.ConnectErr(t, s, nats.UserInfo("bob", "b")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("bob reconnecting: %v", err)
	}
	testutil.WaitFor(t, "bob's connection to go", func() bool { return s.NumClients() == 1 })
}

func TestReloadChangedPasswordClosesClient(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("old"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "alice", Password: string(hash)}, {Username: "bob", Password: string(hash)}}
	})
	alice := connectWatched(t, s, nats.UserInfo("alice", "old"))
	bob := connectWatched(t, s, nats.UserInfo("bob", "old"))

	reloadAuth(t, s, func(o *config.Options) { o.Auth.Users[1].Password = "new" })
	bob.expectRevoked(t)
	alice.expectUntouched(t) // same bcrypt hash: still proven
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.UserInfo("bob", "new")))

	// A token server whose token changes.
	ts := testutil.StartServer(t, func(o *config.Options) { o.Auth.Token = "t1" })
	tc := connectWatched(t, ts, nats.Token("t1"))
	reloadAuth(t, ts, func(o *config.Options) { o.Auth.Token = "t1" }) // unchanged: nothing to do
	tc.expectUntouched(t)
	reloadAuth(t, ts, func(o *config.Options) { o.Auth.Token = "t2" })
	tc.expectRevoked(t)
}

func TestReloadTightenedPermissions(t *testing.T) {
	s := usersServer(t, config.User{Username: "alice", Password: "a"}, config.User{Username: "free", Password: "f"})
	alice := connectWatched(t, s, nats.UserInfo("alice", "a"))
	free := testutil.Connect(t, s, nats.UserInfo("free", "f"))
	okSub, _ := alice.SubscribeSync("ok.x")
	secretSub, _ := alice.SubscribeSync("secret.x")
	feed, _ := alice.SubscribeSync("feed.>")
	watch, _ := free.SubscribeSync("secret.y")
	free.Flush()
	alice.Publish("secret.y", []byte("before")) // cached as allowed
	if m := testutil.NextMsg(t, watch); string(m.Data) != "before" {
		t.Fatalf("got %q", m.Data)
	}

	reloadAuth(t, s, func(o *config.Options) {
		o.Auth.Users[0].Permissions = &config.Permissions{
			Publish:   &config.SubjectPermission{Allow: []string{"ok.>"}},
			Subscribe: &config.SubjectPermission{Allow: []string{"ok.>", "feed.>"}, Deny: []string{"feed.secret"}},
		}
	})
	alice.expectError(t, `Permissions Violation for Subscription to "secret.x" (sid "2")`)
	if n := serverSubs(t, s, alice.Conn); n != 2 {
		t.Fatalf("%d subscriptions left, want ok.x and feed.>", n)
	}
	// The publish decided before is decided again under the new set.
	alice.Publish("secret.y", []byte("after"))
	alice.expectError(t, `Permissions Violation for Publish to "secret.y"`)
	if _, err := alice.SubscribeSync("secret.z"); err != nil {
		t.Fatal(err)
	}
	alice.expectError(t, `Permissions Violation for Subscription to "secret.z"`)

	// The removed subscription and the newly denied part of feed.> get
	// nothing; what stays allowed flows.
	for _, subj := range []string{"secret.x", "feed.secret", "feed.news", "ok.x"} {
		free.Publish(subj, []byte(subj))
	}
	free.Flush()
	if m := testutil.NextMsg(t, feed); m.Subject != "feed.news" {
		t.Fatalf("feed.> got %q", m.Subject)
	}
	testutil.NextMsg(t, okSub)
	testutil.ExpectNoMsg(t, alice.Conn, secretSub)
	testutil.ExpectNoMsg(t, alice.Conn, feed)
	testutil.ExpectNoMsg(t, free, watch)
	alice.expectUntouched(t)
	v := s.Stats().Violations
	if v.PublishDenied != 1 || v.SubscribeDenied != 1 || v.AuthFailures != 0 {
		t.Fatalf("violations %+v", v)
	}
}

func TestReloadLoosenedPermissions(t *testing.T) {
	s := usersServer(t, config.User{Username: "alice", Password: "a", Permissions: &config.Permissions{
		Publish:   &config.SubjectPermission{Allow: []string{"ok.>"}},
		Subscribe: &config.SubjectPermission{Allow: []string{"ok.>"}},
	}}, config.User{Username: "free", Password: "f"})
	alice := connectWatched(t, s, nats.UserInfo("alice", "a"))
	free := testutil.Connect(t, s, nats.UserInfo("free", "f"))
	watch, _ := free.SubscribeSync("more.x")
	free.Flush()
	alice.Publish("more.x", nil)
	alice.expectError(t, `Permissions Violation for Publish to "more.x"`) // cached as denied

	reloadAuth(t, s, func(o *config.Options) { o.Auth.Users[0].Permissions = nil })
	alice.Publish("more.x", []byte("now"))
	if m := testutil.NextMsg(t, watch); string(m.Data) != "now" {
		t.Fatalf("got %q", m.Data)
	}
	sub, err := alice.SubscribeSync("more.>")
	if err != nil {
		t.Fatal(err)
	}
	alice.Flush()
	free.Publish("more.y", []byte("in"))
	if m := testutil.NextMsg(t, sub); string(m.Data) != "in" {
		t.Fatalf("got %q", m.Data)
	}
	alice.expectUntouched(t)
}

// A responder given allow_responses by a reload may answer the requests it
// is delivered from then on; publishers read the new set as they deliver.
func TestReloadGrantsAllowResponses(t *testing.T) {
	s := usersServer(t, config.User{Username: "svc", Password: "s", Permissions: &config.Permissions{
		Publish:   &config.SubjectPermission{Allow: []string{}},
		Subscribe: &config.SubjectPermission{Allow: []string{"svc"}},
	}}, config.User{Username: "free", Password: "f"})
	svc := connectWatched(t, s, nats.UserInfo("svc", "s"))
	requests := make(chan *nats.Msg, 2)
	svc.ChanSubscribe("svc", requests)
	svc.Flush()
	caller := testutil.Connect(t, s, nats.UserInfo("free", "f"))
	request := func() (*nats.Msg, error) {
		done := make(chan struct{})
		var reply *nats.Msg
		var err error
		go func() {
			defer close(done)
			reply, err = caller.Request("svc", []byte("q"), 500*time.Millisecond)
		}()
		req := <-requests
		req.Respond([]byte("answer"))
		<-done
		return reply, err
	}
	if _, err := request(); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("reply without allow_responses: %v", err)
	}
	svc.expectError(t, "Permissions Violation for Publish")

	reloadAuth(t, s, func(o *config.Options) {
		p := *o.Auth.Users[0].Permissions // the configuration in force shares it
		p.Response = &config.ResponsePermission{}
		o.Auth.Users[0].Permissions = &p
	})
	if reply, err := request(); err != nil || string(reply.Data) != "answer" {
		t.Fatalf("reply with allow_responses: %v %v", reply, err)
	}
	svc.expectUntouched(t)
}

func TestReloadUserMovedToAnotherAccountIsClosed(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}}
		o.Auth.Users = []config.User{{Username: "alice", Password: "a"}, {Username: "bob", Password: "b", Account: "A"}}
	})
	alice := connectWatched(t, s, nats.UserInfo("alice", "a"))
	bob := connectWatched(t, s, nats.UserInfo("bob", "b"))
	reloadAuth(t, s, func(o *config.Options) { o.Auth.Users[0].Account = "A" })
	alice.expectRevoked(t)
	bob.expectUntouched(t)
	// Reconnecting, alice shares account A with bob.
	again := testutil.Connect(t, s, nats.UserInfo("alice", "a"))
	sub, _ := again.SubscribeSync("in.a")
	again.Flush()
	bob.Publish("in.a", []byte("same account"))
	testutil.NextMsg(t, sub)
}

func TestReloadAccounts(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}}
		o.Auth.Users = []config.User{{Username: "a", Password: "a", Account: "A"}}
	})
	a := connectWatched(t, s, nats.UserInfo("a", "a"))
	reloadAuth(t, s, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}, {Name: "B"}}
		o.Auth.Users = append(o.Auth.Users, config.User{Username: "b", Password: "b", Account: "B"})
	})
	if _, ok := s.LookupAccount("B"); !ok {
		t.Fatal("account B not added")
	}
	b := testutil.Connect(t, s, nats.UserInfo("b", "b"))
	bSub, _ := b.SubscribeSync("x")
	b.Flush()
	a.Publish("x", []byte("from A"))
	testutil.ExpectNoMsg(t, b, bSub)
	a.expectUntouched(t)

	// Removing an account is refused; the configuration in force stays.
	next := *s.Options()
	next.Accounts = []config.AccountOptions{{Name: "B"}}
	next.Auth.Users = next.Auth.Users[1:]
	if err := s.Reload(next); err == nil || !strings.Contains(err.Error(), `cannot remove accounts "A"`) {
		t.Fatalf("removing account A: %v", err)
	}
	// So is a user of an unknown account.
	next = *s.Options()
	next.Auth.Users = []config.User{{Username: "c", Password: "c", Account: "C"}}
	if err := s.Reload(next); err == nil || !strings.Contains(err.Error(), `unknown account "C"`) {
		t.Fatalf("unknown account: %v", err)
	}
	a.expectUntouched(t)
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.UserInfo("a", "a")))
}

// Turning auth on closes the clients that presented nothing; turning it
// off keeps everyone and lifts their permissions.
func TestReloadTurnsAuthOnAndOff(t *testing.T) {
	s := testutil.StartServer(t)
	anon := connectWatched(t, s)
	withCreds := connectWatched(t, s, nats.UserInfo("alice", "a"))
	reloadAuth(t, s, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "alice", Password: "a", Permissions: &config.Permissions{
			Publish: &config.SubjectPermission{Deny: []string{"no"}}}}}
	})
	anon.expectRevoked(t)
	withCreds.expectUntouched(t)
	withCreds.Publish("no", nil)
	withCreds.expectError(t, `Permissions Violation for Publish to "no"`)

	reloadAuth(t, s, func(o *config.Options) { o.Auth = config.AuthOptions{} })
	sub, _ := withCreds.SubscribeSync("no")
	withCreds.Publish("no", []byte("allowed"))
	testutil.NextMsg(t, sub)
	withCreds.expectUntouched(t)
	testutil.PubSubWorks(t, testutil.Connect(t, s))
}

func TestReloadNkeyUsers(t *testing.T) {
	kept, _ := nkeys.CreateUser()
	keptPub, _ := kept.PublicKey()
	dropped, _ := nkeys.CreateUser()
	droppedPub, _ := dropped.PublicKey()
	s := testutil.StartServer(t, func(o *config.Options) { o.Auth.Nkeys = []config.NkeyUser{{Nkey: keptPub}, {Nkey: droppedPub}} })
	k := connectWatched(t, s, nats.Nkey(keptPub, kept.Sign))
	d := connectWatched(t, s, nats.Nkey(droppedPub, dropped.Sign))
	// The kept key's signature of its connection's nonce is checked again.
	reloadAuth(t, s, func(o *config.Options) {
		o.Auth.Nkeys = []config.NkeyUser{{Nkey: keptPub, Permissions: &config.Permissions{
			Publish: &config.SubjectPermission{Deny: []string{"no"}}}}}
	})
	d.expectRevoked(t)
	k.expectUntouched(t)
	k.Publish("no", nil)
	k.expectError(t, `Permissions Violation for Publish to "no"`)
}

func TestReloadRefusesBrokenAuthAndKeepsIt(t *testing.T) {
	s := usersServer(t, config.User{Username: "alice", Password: "a"})
	alice := connectWatched(t, s, nats.UserInfo("alice", "a"))
	for _, mutate := range []func(*config.Options){
		func(o *config.Options) { o.Auth.Token = "t" }, // token and users
		func(o *config.Options) { o.Auth.Users = append(o.Auth.Users, o.Auth.Users[0]) },
		func(o *config.Options) {
			o.Auth.Users[0].Permissions = &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{"bad..subject"}}}
		},
	} {
		next := *s.Options()
		next.Auth.Users = append([]config.User(nil), next.Auth.Users...)
		mutate(&next)
		if err := s.Reload(next); err == nil {
			t.Fatalf("reload of %+v accepted", next.Auth)
		}
	}
	alice.expectUntouched(t)
	testutil.PubSubWorks(t, alice.Conn)
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.UserInfo("alice", "a")))
}

// Reloads racing connections, CONNECTs, subscriptions and publishes: under
// -race, and with every client ending under the last configuration.
func TestReloadRacesClients(t *testing.T) {
	restricted := &config.Permissions{Subscribe: &config.SubjectPermission{Deny: []string{"race.denied"}}}
	s := usersServer(t, config.User{Username: "u", Password: "p"})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				select {
				case <-stop:
					return
				default:
				}
				nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("u", "p"), nats.MaxReconnects(0),
					nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
				if err != nil {
					continue
				}
				nc.SubscribeSync("race.denied")
				nc.Publish("race.denied", nil)
				nc.Flush()
				nc.Close()
			}
		}()
	}
	stayer := connectWatched(t, s, nats.UserInfo("u", "p"))
	for i := 0; i < 40; i++ {
		perms := restricted
		if i%2 == 1 {
			perms = nil
		}
		reloadAuth(t, s, func(o *config.Options) { o.Auth.Users[0].Permissions = perms })
		stayer.Publish("race.x", nil)
	}
	close(stop)
	wg.Wait()
	stayer.expectUntouched(t)
	// The last reload restricted nothing (i = 39): subscribing works.
	sub, _ := stayer.SubscribeSync("race.denied")
	stayer.Publish("race.denied", []byte("ok"))
	testutil.NextMsg(t, sub)
}

// The exact wire texts, as nats-server sends them on a reload, and the
// close reason monitoring records.
func TestReloadWireTexts(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "keep", Password: "k"}, {Username: "drop", Password: "d"}}
	})
	keep, drop := testutil.DialRaw(t, s), testutil.DialRaw(t, s)
	keep.Send("CONNECT {\"user\":\"keep\",\"pass\":\"k\",\"verbose\":false}\r\nSUB secret 1\r\nSUB ok q 2\r\n")
	keep.RoundTrip()
	drop.Send("CONNECT {\"user\":\"drop\",\"pass\":\"d\",\"verbose\":false}\r\n")
	drop.RoundTrip()

	reloadAuth(t, s, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "keep", Password: "k", Permissions: &config.Permissions{
			Subscribe: &config.SubjectPermission{Allow: []string{"ok"}, Deny: []string{"ok q"}}}}}
	})
	got := []string{keep.ReadLine(), keep.ReadLine()}
	slices.Sort(got) // map order
	want := []string{
		"-ERR 'Permissions Violation for Subscription to \"ok\" using queue \"q\" (sid \"2\")'\r\n",
		"-ERR 'Permissions Violation for Subscription to \"secret\" (sid \"1\")'\r\n",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	keep.RoundTrip()
	drop.Expect("-ERR 'Authorization Violation'\r\n")
	drop.ExpectClosed()
	testutil.WaitFor(t, "the closed connection's record", func() bool { return len(s.Broker().ClosedConns(broker.SubsNone)) == 1 })
	if r := s.Broker().ClosedConns(broker.SubsNone)[0].Reason; r != "Authentication Failure" {
		t.Fatalf("close reason %q", r)
	}
	if n := s.NumSubscriptions(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}
