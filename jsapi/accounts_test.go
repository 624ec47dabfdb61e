package jsapi_test

import (
	"errors"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Each account has its own JetStream: streams of one are invisible to the
// other, and the same names can exist in both.
func TestJetStreamPerAccount(t *testing.T) {
	s := testutil.StartJS(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}, {Name: "B"}}
		o.Auth.Users = []config.User{
			{Username: "a", Password: "p", Account: "A"},
			{Username: "b", Password: "p", Account: "B"},
		}
	})
	jsFor := func(user string) jetstream.JetStream {
		nc := testutil.Connect(t, s, nats.UserInfo(user, "p"))
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	ja, jb := jsFor("a"), jsFor("b")
	testutil.CreateStream(t, ja, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	if _, err := jb.Stream(testutil.Ctx(t), "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("B sees A's stream: %v", err)
	}
	testutil.CreateStream(t, jb, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	ja.Publish(testutil.Ctx(t), "orders.1", []byte("for A"))
	sa, _ := ja.Stream(testutil.Ctx(t), "ORDERS")
	sb, _ := jb.Stream(testutil.Ctx(t), "ORDERS")
	ia, _ := sa.Info(testutil.Ctx(t))
	ib, _ := sb.Info(testutil.Ctx(t))
	if ia.State.Msgs != 1 || ib.State.Msgs != 0 {
		t.Fatalf("A has %d, B has %d", ia.State.Msgs, ib.State.Msgs)
	}
}

// An account a reload adds gets its own JetStream at once.
func TestReloadAddedAccountHasJetStream(t *testing.T) {
	s := testutil.StartJS(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}}
		o.Auth.Users = []config.User{{Username: "a", Password: "p", Account: "A"}}
	})
	next := *s.Options()
	next.Accounts = []config.AccountOptions{{Name: "A"}, {Name: "B"}}
	next.Auth.Users = append(next.Auth.Users[:1:1], config.User{Username: "b", Password: "p", Account: "B"})
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(testutil.Connect(t, s, nats.UserInfo("b", "p")))
	if err != nil {
		t.Fatal(err)
	}
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "NEW", Subjects: []string{"new.>"}})
	if _, err := js.Publish(testutil.Ctx(t), "new.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := len(s.JetStream()); n != 3 { // $G, A, B
		t.Fatalf("%d JetStream accounts", n)
	}
}
