package config

import (
	"reflect"
	"testing"
	"time"
)

// Exports and imports are read as the reference server writes them,
// aliases included, beside an account's `jetstream` setting.
func TestConfigAccountExportsAndImports(t *testing.T) {
	o, err := ParseConfig(`
accounts {
  A {
    jetstream: enabled
    exports: [
      { stream: "events.>" }
      { stream: "audit.>", accounts: [B, C] }
      { service: "svc.*", response: Stream, threshold: "5s" }
      { service: "one" }
    ]
  }
  B {
    imports: [
      { stream: { account: A, subject: "events.>" }, prefix: "from_a" }
      { stream: { account: A, subject: "audit.*" }, to: "a_audit.*" }
      { service: { account: A, subject: "svc.*" }, to: "a.svc.*" }
    ]
  }
  C { jetstream: disabled }
}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []AccountOptions{
		{Name: "A", Exports: []ExportOptions{
			{Stream: "events.>"},
			{Stream: "audit.>", Accounts: []string{"B", "C"}},
			{Service: "svc.*", ResponseType: ResponseStream, ResponseThreshold: 5 * time.Second},
			{Service: "one"},
		}, JetStream: &AccountJetStream{Enabled: true}},
		{Name: "B", Imports: []ImportOptions{
			{Stream: &ImportSource{"A", "events.>"}, Prefix: "from_a"},
			{Stream: &ImportSource{"A", "audit.*"}, To: "a_audit.*"},
			{Service: &ImportSource{"A", "svc.*"}, To: "a.svc.*"},
		}, JetStream: &AccountJetStream{}},
		{Name: "C", JetStream: &AccountJetStream{}},
	}
	if !reflect.DeepEqual(o.Accounts, want) {
		t.Fatalf("accounts\n%+v\nwant\n%+v", o.Accounts, want)
	}
	if len(o.ConfigWarnings) != 0 {
		t.Fatalf("warnings %q", o.ConfigWarnings)
	}
}
