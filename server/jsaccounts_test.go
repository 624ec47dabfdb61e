package server

import (
	"errors"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Each account has its own JetStream: streams of one are invisible to the
// other, and the same names can exist in both.
func TestJetStreamPerAccount(t *testing.T) {
	s := startJS(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}, {Name: "B"}}
		o.Auth.Users = []config.User{
			{Username: "a", Password: "p", Account: "A"},
			{Username: "b", Password: "p", Account: "B"},
		}
	})
	jsFor := func(user string) jetstream.JetStream {
		nc := connect(t, s, nats.UserInfo(user, "p"))
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	ja, jb := jsFor("a"), jsFor("b")
	createStream(t, ja, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	if _, err := jb.Stream(ctx(t), "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("B sees A's stream: %v", err)
	}
	createStream(t, jb, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	ja.Publish(ctx(t), "orders.1", []byte("for A"))
	sa, _ := ja.Stream(ctx(t), "ORDERS")
	sb, _ := jb.Stream(ctx(t), "ORDERS")
	ia, _ := sa.Info(ctx(t))
	ib, _ := sb.Info(ctx(t))
	if ia.State.Msgs != 1 || ib.State.Msgs != 0 {
		t.Fatalf("A has %d, B has %d", ia.State.Msgs, ib.State.Msgs)
	}
}

// An account a reload adds gets its own JetStream at once.
func TestReloadAddedAccountHasJetStream(t *testing.T) {
	s := startJS(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}}
		o.Auth.Users = []config.User{{Username: "a", Password: "p", Account: "A"}}
	})
	next := *s.opts()
	next.Accounts = []config.AccountOptions{{Name: "A"}, {Name: "B"}}
	next.Auth.Users = append(next.Auth.Users[:1:1], config.User{Username: "b", Password: "p", Account: "B"})
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(connect(t, s, nats.UserInfo("b", "p")))
	if err != nil {
		t.Fatal(err)
	}
	createStream(t, js, jetstream.StreamConfig{Name: "NEW", Subjects: []string{"new.>"}})
	if _, err := js.Publish(ctx(t), "new.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := len(s.js.list()); n != 3 { // $G, A, B
		t.Fatalf("%d JetStream accounts", n)
	}
}
