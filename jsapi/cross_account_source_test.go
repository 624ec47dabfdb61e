package jsapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// crossAccountConf lets account B source A's streams the way the
// reference server's configurations do it: A exports its consumer API,
// flow control and a delivery subject; B imports the API under JS.A.API.
const crossAccountConf = `
accounts {
  A {
    users: [ { user: a, password: a } ]
    jetstream: enabled
    exports: [
      { service: "$JS.API.CONSUMER.CREATE.>" }
      { service: "$JS.API.CONSUMER.INFO.>" }
      { service: "$JS.API.CONSUMER.DELETE.>" }
      { service: "$JS.FC.>" }
      { stream: "deliver.b.>" }
    ]
  }
  B {
    users: [ { user: b, password: b } ]
    jetstream: enabled
    imports: [
      { service: { account: A, subject: "$JS.API.CONSUMER.CREATE.>" }, to: "JS.A.API.CONSUMER.CREATE.>" }
      { service: { account: A, subject: "$JS.API.CONSUMER.INFO.>" }, to: "JS.A.API.CONSUMER.INFO.>" }
      { service: { account: A, subject: "$JS.API.CONSUMER.DELETE.>" }, to: "JS.A.API.CONSUMER.DELETE.>" }
      { service: { account: A, subject: "$JS.FC.>" } }
      { stream: { account: A, subject: "deliver.b.>" } }
    ]
  }
  C {
    users: [ { user: c, password: c } ]
    jetstream: enabled
  }
}
`

// A stream in account B sources a stream of account A through the imports
// of A's JetStream API: what A stores arrives in B once, in order, with
// the Nats-Stream-Source header, also what A stores while midge is down.
// Without the import (account C) the source reports an error and copies
// nothing.
func TestSourceFromAnotherAccountThroughImports(t *testing.T) {
	file, err := config.ParseConfig(crossAccountConf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opts := func(o *config.Options) {
		o.Auth, o.Accounts = file.Auth, file.Accounts
		o.JetStream, o.StoreDir = true, dir
	}
	s := testutil.StartServer(t, opts)
	ncA := testutil.Connect(t, s, nats.UserInfo("a", "a"))
	ncB := testutil.Connect(t, s, nats.UserInfo("b", "b"))
	ncC := testutil.Connect(t, s, nats.UserInfo("c", "c"))
	jsA, _ := jetstream.New(ncA)
	jsB, _ := jetstream.New(ncB)
	jsC, _ := jetstream.New(ncC)
	c := testutil.Ctx(t)
	testutil.CreateStream(t, jsA, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	for i := 1; i <= 3; i++ {
		if _, err := jsA.Publish(c, "orders.x", []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	external := &jetstream.ExternalStream{APIPrefix: "JS.A.API", DeliverPrefix: "deliver.b"}
	agg := testutil.CreateStream(t, jsB, jetstream.StreamConfig{Name: "AGG",
		Sources: []*jetstream.StreamSource{{Name: "ORDERS", External: external}}})
	waitMsgs(t, agg, 3)

	// Account C has no import: its source names the problem and copies
	// nothing, while B's own stream of that name is untouched.
	lone := testutil.CreateStream(t, jsC, jetstream.StreamConfig{Name: "LONE",
		Sources: []*jetstream.StreamSource{{Name: "ORDERS", External: external}}})
	testutil.WaitFor(t, "the unimported source to report an error", func() bool {
		info, err := lone.Info(c)
		return err == nil && len(info.Sources) == 1 && info.Sources[0].Error != nil &&
			strings.Contains(info.Sources[0].Error.Description, "service import")
	})
	if info, _ := lone.Info(c); info.State.Msgs != 0 {
		t.Fatalf("a source without imports copied %d messages", info.State.Msgs)
	}

	s.Shutdown()
	s = testutil.StartServer(t, opts)
	ncA = testutil.Connect(t, s, nats.UserInfo("a", "a"))
	ncB = testutil.Connect(t, s, nats.UserInfo("b", "b"))
	jsA, _ = jetstream.New(ncA)
	jsB, _ = jetstream.New(ncB)
	c = testutil.Ctx(t)
	for i := 4; i <= 5; i++ {
		if _, err := jsA.Publish(c, "orders.y", []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	agg, err = jsB.Stream(c, "AGG")
	if err != nil {
		t.Fatal(err)
	}
	waitMsgs(t, agg, 5)
	for seq := uint64(1); seq <= 5; seq++ {
		m, err := agg.GetMsg(c, seq)
		if err != nil {
			t.Fatal(err)
		}
		src := strings.Fields(m.Header.Get("Nats-Stream-Source"))
		if string(m.Data) != fmt.Sprint("m", seq) || len(src) < 2 || !strings.HasPrefix(src[0], "ORDERS:") || src[1] != fmt.Sprint(seq) {
			t.Fatalf("seq %d: %q from %v", seq, m.Data, src)
		}
	}
	time.Sleep(100 * time.Millisecond) // nothing more may arrive
	if info, _ := agg.Info(c); info.State.Msgs != 5 {
		t.Fatalf("AGG holds %d messages, want 5 (a duplicate after the restart?)", info.State.Msgs)
	}
}

func waitMsgs(t *testing.T, st jetstream.Stream, n uint64) {
	t.Helper()
	testutil.WaitFor(t, fmt.Sprintf("stream to hold %d messages", n), func() bool {
		info, err := st.Info(testutil.Ctx(t))
		return err == nil && info.State.Msgs >= n
	})
}
