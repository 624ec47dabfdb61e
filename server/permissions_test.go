package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
)

func mustCompile(t testing.TB, p *config.Permissions) *permSet {
	t.Helper()
	ps, err := compilePermissions(p)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestPublishPermissionDecisions(t *testing.T) {
	ps := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{
		Allow: []string{"orders.>", "metrics.*"}, Deny: []string{"orders.secret", "orders.admin.>"}}})
	for subject, want := range map[string]bool{
		"orders.new": true, "orders.a.b": true, "metrics.cpu": true,
		"orders.secret": false, "orders.admin.x": false, "metrics.cpu.1": false, "other": false, "orders": false,
	} {
		if got := ps.pubAllowed(subject); got != want {
			t.Errorf("publish %q: %v, want %v", subject, got, want)
		}
	}
	denyOnly := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{Deny: []string{"$SYS.>"}}})
	if !denyOnly.pubAllowed("anything") || denyOnly.pubAllowed("$SYS.x") {
		t.Error("deny-only list: wrong decision")
	}
	none := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{}}})
	if none.pubAllowed("x") {
		t.Error("an empty allow list must allow nothing")
	}
	respOnly := mustCompile(t, &config.Permissions{Response: &config.ResponsePermission{}})
	if respOnly.pubAllowed("x") || respOnly.resp.MaxMsgs != 1 || respOnly.resp.Expires != config.DefaultResponseExpires {
		t.Errorf("allow_responses alone: %+v", respOnly.resp)
	}
}

func TestSubscribePermissionDecisions(t *testing.T) {
	ps := mustCompile(t, &config.Permissions{Subscribe: &config.SubjectPermission{
		Allow: []string{"foo.*", "bar.>", "jobs workers", "jobs.*", "jobs.* v1.*"},
		Deny:  []string{"bar.secret.>", "bar.x", "jobs.a bad"},
	}})
	for _, tc := range []struct {
		subject, queue string
		want           bool
	}{
		{"foo.a", "", true}, {"foo.*", "", true},
		{"foo.>", "", false},                       // wider than the allow: refused (nats-server allows)
		{"bar.a.b", "", true}, {"bar.>", "", true}, // overlaps denies: allowed, filtered on delivery
		{"bar.secret.x", "", false}, {"bar.secret.*", "", false}, {"bar.x", "", false},
		{"jobs", "", false}, {"jobs", "workers", true}, {"jobs", "other", false}, // queue-only entry
		{"jobs.a", "", true}, {"jobs.a", "v1.blue", true}, {"jobs.a", "v2", false},
		{"jobs.a", "bad", false}, {"jobs.b", "bad", false}, // "jobs.* v1.*" limits queues on jobs.*
		{"other", "", false},
	} {
		if got := ps.subAllowed(tc.subject, tc.queue); got != tc.want {
			t.Errorf("SUB %q %q: %v, want %v", tc.subject, tc.queue, got, tc.want)
		}
	}
	if f := ps.denyFilter("bar.>", ""); len(f) != 2 {
		t.Errorf("deny filter of bar.>: %v", f)
	}
	if f := ps.denyFilter("bar.a", ""); f != nil {
		t.Errorf("literal subscription needs no filter: %v", f)
	}
	if !deliveryDenied([]byte("bar.secret.k"), ps.denyFilter("bar.>", "")) ||
		deliveryDenied([]byte("bar.ok"), ps.denyFilter("bar.>", "")) {
		t.Error("delivery filter decisions wrong")
	}
}

func TestPermissionEntriesValidated(t *testing.T) {
	for _, p := range []*config.Permissions{
		{Publish: &config.SubjectPermission{Allow: []string{"a b"}}}, // no queues on publish
		{Publish: &config.SubjectPermission{Deny: []string{"a.>.b"}}},
		{Subscribe: &config.SubjectPermission{Allow: []string{"a b c"}}},
		{Subscribe: &config.SubjectPermission{Deny: []string{""}}},
	} {
		if _, err := compilePermissions(p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// permServer runs a server with one restricted user and one unrestricted.
func permServer(t *testing.T, p *config.Permissions) *Server {
	t.Helper()
	return startServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "limited", Password: "p", Permissions: p}, {Username: "free", Password: "p"}}
	})
}

// asyncErrors collects a connection's asynchronous errors.
type asyncErrors struct {
	mu   sync.Mutex
	errs []string
	got  chan struct{}
}

func (a *asyncErrors) handler() nats.Option {
	a.got = make(chan struct{}, 16)
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		a.mu.Lock()
		a.errs = append(a.errs, err.Error())
		a.mu.Unlock()
		a.got <- struct{}{}
	})
}

func (a *asyncErrors) next(t *testing.T) string {
	t.Helper()
	select {
	case <-a.got:
	case <-time.After(msgWait):
		t.Fatal("no async error")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.errs[0]
	a.errs = a.errs[1:]
	return e
}

func TestPermissionViolationsKeepConnection(t *testing.T) {
	s := permServer(t, &config.Permissions{
		Publish:   &config.SubjectPermission{Allow: []string{"ok.>"}},
		Subscribe: &config.SubjectPermission{Allow: []string{"ok.>"}},
	})
	var errs asyncErrors
	nc := connect(t, s, nats.UserInfo("limited", "p"), errs.handler())
	free := connect(t, s, nats.UserInfo("free", "p"))
	watch, _ := free.SubscribeSync(">")
	free.Flush()

	nc.Publish("secret", []byte("x"))
	if e := errs.next(t); !strings.Contains(strings.ToLower(e), `permissions violation for publish to "secret"`) {
		t.Fatalf("async error %q", e)
	}
	if _, err := nc.SubscribeSync("secret"); err != nil {
		t.Fatal(err)
	}
	if e := errs.next(t); !strings.Contains(strings.ToLower(e), `permissions violation for subscription to "secret"`) {
		t.Fatalf("async error %q", e)
	}
	// Still connected, and allowed traffic flows.
	sub, _ := nc.SubscribeSync("ok.a")
	nc.Publish("ok.a", []byte("fine"))
	if m := nextMsg(t, sub); string(m.Data) != "fine" {
		t.Fatalf("got %q", m.Data)
	}
	if m := nextMsg(t, watch); m.Subject != "ok.a" {
		t.Fatalf("watcher got %q: the denied publish was delivered", m.Subject)
	}
	v := s.Stats().Violations
	if v.PublishDenied != 1 || v.SubscribeDenied != 1 {
		t.Fatalf("violations %+v", v)
	}
}

func TestPermissionViolationWireTexts(t *testing.T) {
	s := permServer(t, &config.Permissions{
		Publish:   &config.SubjectPermission{Allow: []string{"ok"}},
		Subscribe: &config.SubjectPermission{Allow: []string{"ok"}},
	})
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"user\":\"limited\",\"pass\":\"p\",\"verbose\":true}\r\n")
	rc.expect("+OK\r\n")
	// A refused operation gets the -ERR and no +OK, as from nats-server.
	rc.send("PUB no 1\r\nx\r\nSUB no 1\r\nSUB no q 2\r\nSUB ok 3\r\n")
	rc.expect("-ERR 'Permissions Violation for Publish to \"no\"'\r\n" +
		"-ERR 'Permissions Violation for Subscription to \"no\"'\r\n" +
		"-ERR 'Permissions Violation for Subscription to \"no\" using queue \"q\"'\r\n+OK\r\n")
	rc.roundTrip()
}

// A wildcard subscription that overlaps a denied subject is allowed, but
// the denied subject is never delivered to it.
func TestDenySubscribeFiltersWildcardDelivery(t *testing.T) {
	s := permServer(t, &config.Permissions{Subscribe: &config.SubjectPermission{Deny: []string{"feed.secret", "feed.q.* blocked"}}})
	nc := connect(t, s, nats.UserInfo("limited", "p"))
	all, _ := nc.SubscribeSync("feed.>")
	queued, _ := nc.QueueSubscribeSync("feed.q.*", "blocked")
	nc.Flush()
	pub := connect(t, s, nats.UserInfo("free", "p"))
	for _, subj := range []string{"feed.secret", "feed.q.x", "feed.ok"} {
		pub.Publish(subj, nil)
	}
	pub.Flush()
	got := []string{nextMsg(t, all).Subject, nextMsg(t, all).Subject}
	if got[0] != "feed.q.x" || got[1] != "feed.ok" {
		t.Fatalf("feed.> got %v", got)
	}
	expectNoMsg(t, nc, all)
	expectNoMsg(t, nc, queued)
}

func TestAllowResponses(t *testing.T) {
	s := permServer(t, &config.Permissions{
		Subscribe: &config.SubjectPermission{Allow: []string{"svc"}},
		Response:  &config.ResponsePermission{MaxMsgs: 1},
	})
	var errs asyncErrors
	svc := connect(t, s, nats.UserInfo("limited", "p"), errs.handler())
	requests := make(chan *nats.Msg, 1)
	svc.ChanSubscribe("svc", requests)
	svc.Flush()
	caller := connect(t, s, nats.UserInfo("free", "p"))

	done := make(chan *nats.Msg, 1)
	go func() {
		reply, err := caller.Request("svc", []byte("q"), msgWait)
		if err != nil {
			t.Error(err)
		}
		done <- reply
	}()
	req := <-requests
	if err := req.Respond([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if reply := <-done; reply == nil || string(reply.Data) != "answer" {
		t.Fatalf("reply %v", reply)
	}
	// One response per request: a second is refused, and so is any other
	// subject.
	req.Respond([]byte("again"))
	if e := errs.next(t); !strings.Contains(strings.ToLower(e), "permissions violation for publish") {
		t.Fatalf("async error %q", e)
	}
	svc.Publish("elsewhere", nil)
	if e := errs.next(t); !strings.Contains(e, `"elsewhere"`) {
		t.Fatalf("async error %q", e)
	}
}

func TestReplyGrantsBounded(t *testing.T) {
	rp := &config.ResponsePermission{MaxMsgs: 1, Expires: time.Hour}
	var r replyPerms
	for i := 0; i < replyGrantsMax+replyPruneEvery; i++ {
		r.grant(fmt.Sprintf("_INBOX.%d", i), rp)
	}
	if n := r.len(); n != replyGrantsMax {
		t.Fatalf("%d grants held, want the cap %d", n, replyGrantsMax)
	}
	if !r.use("_INBOX.1", rp) || r.use("_INBOX.1", rp) {
		t.Fatal("a grant must allow exactly one reply")
	}
	expiring := &config.ResponsePermission{MaxMsgs: -1, Expires: time.Minute}
	var e replyPerms
	e.grant("x", expiring)
	e.m["x"].granted = time.Now().Add(-2 * time.Minute) // as if granted long ago
	if e.use("x", expiring) {
		t.Fatal("expired grant used")
	}
}

func TestPublishPermissionCacheBounded(t *testing.T) {
	s, err := New(config.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(s, discardConn{}, 1)
	ps := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{"p.>"}}})
	for i := 0; i < 3*pubPermCacheSize; i++ {
		if !c.checkPublish(ps, []byte(fmt.Sprintf("p.%d", i))) || c.checkPublish(ps, []byte(fmt.Sprintf("q.%d", i))) {
			t.Fatal("wrong decision")
		}
		if n := len(c.sec.pubCache); n > pubPermCacheSize {
			t.Fatalf("publish permission cache holds %d entries", n)
		}
	}
	// Hits answer from the cache without allocating.
	subject := []byte("p.hot")
	c.checkPublish(ps, subject)
	if allocs := testing.AllocsPerRun(100, func() { c.checkPublish(ps, subject) }); allocs != 0 {
		t.Fatalf("cached check allocates %v times", allocs)
	}
}
