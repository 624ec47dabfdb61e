package config_test

import (
	"testing"

	"github.com/midgemq/midge/config"
)

// Accounts in a configuration file have JetStream when they enable it,
// with nats-server's limit keys; the others (the global account too) do
// not, as with nats-server.
func TestAccountJetStreamFromFile(t *testing.T) {
	o, err := config.ParseConfig(`
jetstream: enabled
accounts {
  A { jetstream: enabled }
  B { users: [ {user: b, password: b} ] }
  C { jetstream { max_mem: 1M, max_file: 2000, max_streams: 2, max_consumers: 1, max_ack_pending: -1,
                  max_bytes_required: true, store_max_stream_bytes: 1K } }
  D { jetstream: disabled }
}
`)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"A": true, "B": false, "C": true, "D": false, "$G": false} {
		if _, on := o.JetStreamFor(name); on != want {
			t.Errorf("account %s: JetStream %v, want %v", name, on, want)
		}
	}
	c, _ := o.JetStreamFor("C")
	want := config.AccountJetStream{Enabled: true, MaxMemory: 1000000, // 1M is 10^6, as nats-server reads it
		MaxStore: 2000, MaxStreams: 2, MaxConsumers: 1,
		MaxBytesRequired: true, StoreMaxStreamBytes: 1000}
	if c != want {
		t.Fatalf("C's limits %+v, want %+v", c, want)
	}

	o, err = config.ParseConfig("jetstream: enabled\naccounts { A {}, B {} }\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, on := o.JetStreamFor("A"); on {
		t.Fatal("an account declared in a file without jetstream has it")
	}
	// Without a file's declarations (options built in code) every account
	// has JetStream.
	code := config.Options{JetStream: true, Accounts: []config.AccountOptions{{Name: "A"}}}
	if _, on := code.JetStreamFor("A"); !on {
		t.Fatal("account A without any JetStream setting lacks it")
	}
	if _, on := code.JetStreamFor("$G"); !on {
		t.Fatal("the global account lacks JetStream")
	}
}
