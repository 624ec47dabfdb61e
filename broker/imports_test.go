package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// importsConf exports from A and imports into B, as the reference server's
// configuration format writes it.
const importsConf = `
accounts {
  A {
    users: [ { user: a, password: a } ]
    exports: [
      { stream: "events.>" }
      { stream: "private.>", accounts: [C] }
      { service: "svc.*" }
      { service: "feed.>", response_type: stream, response_threshold: "2s" }
      { service: "nobody.home" }
    ]
  }
  B {
    users: [ { user: b, password: b } ]
    imports: [
      { stream: { account: A, subject: "events.>" }, prefix: "from_a" }
      { stream: { account: A, subject: "events.*.x" }, to: "ax.*" }
      { service: { account: A, subject: "svc.*" }, to: "a.svc.*" }
      { service: { account: A, subject: "feed.>" } }
      { service: { account: A, subject: "nobody.home" } }
    ]
  }
  C { users: [ { user: c, password: c } ] }
}
`

func startWithConf(t *testing.T, text string) *server.Server {
	t.Helper()
	opts, err := config.ParseConfig(text)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.StartServer(t, func(o *config.Options) {
		o.Auth, o.Accounts = opts.Auth, opts.Accounts
	})
}

func TestStreamImportWithPrefixAndRemap(t *testing.T) {
	s := startWithConf(t, importsConf)
	a := testutil.Connect(t, s, nats.UserInfo("a", "a"))
	b := testutil.Connect(t, s, nats.UserInfo("b", "b"))
	c := testutil.Connect(t, s, nats.UserInfo("c", "c"))
	prefixed, _ := b.SubscribeSync("from_a.>")
	remapped, _ := b.SubscribeSync("ax.*")
	plain, _ := b.SubscribeSync("events.>") // B's own subject space
	other, _ := c.SubscribeSync(">")
	testutil.Flush(t, b)
	testutil.Flush(t, c)

	m := nats.NewMsg("events.one.x")
	m.Header.Set("K", "v")
	m.Data = []byte("hello")
	a.PublishMsg(m)
	a.Publish("events.two", []byte("second"))
	testutil.Flush(t, a)

	got := testutil.NextMsg(t, prefixed)
	if got.Subject != "from_a.events.one.x" || string(got.Data) != "hello" || got.Header.Get("K") != "v" {
		t.Fatalf("prefixed import got %s %q %v", got.Subject, got.Data, got.Header)
	}
	if got := testutil.NextMsg(t, prefixed); got.Subject != "from_a.events.two" {
		t.Fatalf("prefixed import got %s", got.Subject)
	}
	if got := testutil.NextMsg(t, remapped); got.Subject != "ax.one" || string(got.Data) != "hello" {
		t.Fatalf("remapped import got %s %q", got.Subject, got.Data)
	}
	// Nothing arrives under the exporter's own subjects, or in C.
	b.Publish("fence", nil)
	c.Publish("fence", nil)
	testutil.Flush(t, b)
	if m, err := plain.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("importer got the export under its original subject %s", m.Subject)
	}
	if m, err := other.NextMsg(100 * time.Millisecond); err == nil && m.Subject != "fence" {
		t.Fatalf("an account without imports got %s", m.Subject)
	}
	// Messages of B never flow back into A.
	back, _ := a.SubscribeSync(">")
	testutil.Flush(t, a)
	b.Publish("from_a.events.z", nil)
	b.Publish("events.z", nil)
	testutil.Flush(t, b)
	if m, err := back.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("the exporter got the importer's %s", m.Subject)
	}
}

func TestServiceImportRemapsRequestsAndRoutesReplies(t *testing.T) {
	s := startWithConf(t, importsConf)
	a := testutil.Connect(t, s, nats.UserInfo("a", "a"))
	b := testutil.Connect(t, s, nats.UserInfo("b", "b"))
	sub, _ := a.Subscribe("svc.*", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("Served-By", "A")
		r.Data = []byte(m.Subject + ":" + string(m.Data) + ":" + m.Header.Get("Trace"))
		m.RespondMsg(r)
	})
	defer sub.Unsubscribe()
	testutil.Flush(t, a)

	req := nats.NewMsg("a.svc.echo")
	req.Header.Set("Trace", "t1")
	req.Data = []byte("ping")
	resp, err := b.RequestMsg(req, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Data) != "svc.echo:ping:t1" || resp.Header.Get("Served-By") != "A" {
		t.Fatalf("response %q %v", resp.Data, resp.Header)
	}
	// The unmapped subject is B's own, where nobody answers.
	if _, err := b.Request("svc.echo", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request on the unmapped subject: %v", err)
	}
	// Many requests at once, each answered once to the right requester.
	for i := 0; i < 200; i++ {
		r, err := b.Request("a.svc.n", []byte{byte(i)}, 2*time.Second)
		if err != nil || r.Data[len("svc.n:")] != byte(i) {
			t.Fatalf("request %d: %q %v", i, r.Data, err)
		}
	}
}

// A singleton service's reply is used once; a stream service's replies
// flow until the threshold.
func TestServiceImportResponseTypes(t *testing.T) {
	s := startWithConf(t, importsConf)
	a := testutil.Connect(t, s, nats.UserInfo("a", "a"))
	b := testutil.Connect(t, s, nats.UserInfo("b", "b"))
	a.Subscribe("svc.twice", func(m *nats.Msg) {
		m.Respond([]byte("1"))
		m.Respond([]byte("2"))
	})
	a.Subscribe("feed.>", func(m *nats.Msg) {
		for _, d := range []string{"1", "2", "3"} {
			m.Respond([]byte(d))
		}
	})
	testutil.Flush(t, a)

	for _, tc := range []struct {
		subject string
		want    []string
	}{{"a.svc.twice", []string{"1"}}, {"feed.x", []string{"1", "2", "3"}}} {
		inbox := b.NewRespInbox()
		sub, _ := b.SubscribeSync(inbox)
		b.PublishRequest(tc.subject, inbox, nil)
		var got []string
		for {
			m, err := sub.NextMsg(300 * time.Millisecond)
			if err != nil {
				break
			}
			got = append(got, string(m.Data))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Fatalf("%s: responses %v, want %v", tc.subject, got, tc.want)
		}
	}
}

// A request through an import that nobody in the exporter receives gets
// the 503 status, as without the import.
func TestServiceImportNoResponders(t *testing.T) {
	s := startWithConf(t, importsConf)
	b := testutil.Connect(t, s, nats.UserInfo("b", "b"))
	if _, err := b.Request("nobody.home", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("err = %v, want no responders", err)
	}
}

// Imports the exports do not allow, and loops, are configuration errors,
// like the reference server's; the server does not start.
func TestImportConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"not exported", `accounts { A { exports: [ { stream: "x.>" } ] }
			B { imports: [ { stream: { account: A, subject: "y" } } ] } }`, "stream import not authorized"},
		{"not for this account", `accounts { A { exports: [ { service: "s", accounts: [C] } ] }
			C {}
			B { imports: [ { service: { account: A, subject: "s" } } ] } }`, "service import not authorized"},
		{"wider than the export", `accounts { A { exports: [ { stream: "x.*" } ] }
			B { imports: [ { stream: { account: A, subject: "x.>" } } ] } }`, "stream import not authorized"},
		{"no such account", `accounts { B { imports: [ { stream: { account: Z, subject: "x" } } ] } }`, `no account "Z"`},
		{"loop", `accounts {
			A { exports: [ { stream: "x.>" } ], imports: [ { stream: { account: B, subject: "y.>" }, to: "x.>" } ] }
			B { exports: [ { stream: "y.>" } ], imports: [ { stream: { account: A, subject: "x.>" }, to: "y.>" } ] } }`, "loop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := config.ParseConfig(tc.conf)
			if err != nil {
				t.Fatal(err)
			}
			opts.Host, opts.Port = "127.0.0.1", 0
			s, err := server.New(opts, nil)
			if err == nil {
				err = s.Start()
				s.Shutdown()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	for _, bad := range []string{
		`accounts { A { exports: [ { stream: "x", service: "y" } ] } }`,
		`accounts { A { exports: [ { service: "y", response_type: bogus } ] } }`,
		`accounts { A { exports: [ { stream: "y", response_type: stream } ] } }`,
		`accounts { B { imports: [ { service: { account: A, subject: "s" }, prefix: "p" } ] } }`,
		`accounts { B { imports: [ { stream: { account: A } } ] } }`,
	} {
		if _, err := config.ParseConfig(bad); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
