package broker_test

import (
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// permServer runs a server with one restricted user and one unrestricted.
func permServer(t *testing.T, p *config.Permissions) *server.Server {
	t.Helper()
	return testutil.StartServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "limited", Password: "p", Permissions: p}, {Username: "free", Password: "p"}}
	})
}

func TestPermissionViolationsKeepConnection(t *testing.T) {
	s := permServer(t, &config.Permissions{
		Publish:   &config.SubjectPermission{Allow: []string{"ok.>"}},
		Subscribe: &config.SubjectPermission{Allow: []string{"ok.>"}},
	})
	var errs testutil.AsyncErrors
	nc := testutil.Connect(t, s, nats.UserInfo("limited", "p"), errs.Handler())
	free := testutil.Connect(t, s, nats.UserInfo("free", "p"))
	watch, _ := free.SubscribeSync(">")
	free.Flush()

	nc.Publish("secret", []byte("x"))
	if e := errs.Next(t); !strings.Contains(strings.ToLower(e), `permissions violation for publish to "secret"`) {
		t.Fatalf("async error %q", e)
	}
	if _, err := nc.SubscribeSync("secret"); err != nil {
		t.Fatal(err)
	}
	if e := errs.Next(t); !strings.Contains(strings.ToLower(e), `permissions violation for subscription to "secret"`) {
		t.Fatalf("async error %q", e)
	}
	// Still connected, and allowed traffic flows.
	sub, _ := nc.SubscribeSync("ok.a")
	nc.Publish("ok.a", []byte("fine"))
	if m := testutil.NextMsg(t, sub); string(m.Data) != "fine" {
		t.Fatalf("got %q", m.Data)
	}
	if m := testutil.NextMsg(t, watch); m.Subject != "ok.a" {
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
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"user\":\"limited\",\"pass\":\"p\",\"verbose\":true}\r\n")
	rc.Expect("+OK\r\n")
	// A refused operation gets the -ERR and no +OK, as from nats-server.
	rc.Send("PUB no 1\r\nx\r\nSUB no 1\r\nSUB no q 2\r\nSUB ok 3\r\n")
	rc.Expect("-ERR 'Permissions Violation for Publish to \"no\"'\r\n" +
		"-ERR 'Permissions Violation for Subscription to \"no\"'\r\n" +
		"-ERR 'Permissions Violation for Subscription to \"no\" using queue \"q\"'\r\n+OK\r\n")
	rc.RoundTrip()
}

// A wildcard subscription that overlaps a denied subject is allowed, but
// the denied subject is never delivered to it.
func TestDenySubscribeFiltersWildcardDelivery(t *testing.T) {
	s := permServer(t, &config.Permissions{Subscribe: &config.SubjectPermission{Deny: []string{"feed.secret", "feed.q.* blocked"}}})
	nc := testutil.Connect(t, s, nats.UserInfo("limited", "p"))
	all, _ := nc.SubscribeSync("feed.>")
	queued, _ := nc.QueueSubscribeSync("feed.q.*", "blocked")
	nc.Flush()
	pub := testutil.Connect(t, s, nats.UserInfo("free", "p"))
	for _, subj := range []string{"feed.secret", "feed.q.x", "feed.ok"} {
		pub.Publish(subj, nil)
	}
	pub.Flush()
	got := []string{testutil.NextMsg(t, all).Subject, testutil.NextMsg(t, all).Subject}
	if got[0] != "feed.q.x" || got[1] != "feed.ok" {
		t.Fatalf("feed.> got %v", got)
	}
	testutil.ExpectNoMsg(t, nc, all)
	testutil.ExpectNoMsg(t, nc, queued)
}

func TestAllowResponses(t *testing.T) {
	s := permServer(t, &config.Permissions{
		Subscribe: &config.SubjectPermission{Allow: []string{"svc"}},
		Response:  &config.ResponsePermission{MaxMsgs: 1},
	})
	var errs testutil.AsyncErrors
	svc := testutil.Connect(t, s, nats.UserInfo("limited", "p"), errs.Handler())
	requests := make(chan *nats.Msg, 1)
	svc.ChanSubscribe("svc", requests)
	svc.Flush()
	caller := testutil.Connect(t, s, nats.UserInfo("free", "p"))

	done := make(chan *nats.Msg, 1)
	go func() {
		reply, err := caller.Request("svc", []byte("q"), testutil.MsgWait)
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
	if e := errs.Next(t); !strings.Contains(strings.ToLower(e), "permissions violation for publish") {
		t.Fatalf("async error %q", e)
	}
	svc.Publish("elsewhere", nil)
	if e := errs.Next(t); !strings.Contains(e, `"elsewhere"`) {
		t.Fatalf("async error %q", e)
	}
}
