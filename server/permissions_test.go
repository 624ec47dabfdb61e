package server

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
)

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
