package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestConfigAllKeys(t *testing.T) {
	opts, err := ParseConfig(`
# a nats-server configuration
listen: 127.0.0.1:4333
server_name: "alpha"
debug: true
trace: false
logfile: "/tmp/m.log"
pid_file: "/tmp/m.pid"
max_connections: 100
max_subscriptions: 10
max_payload: 512KB
max_pending: 32MB
max_control_line: 2048
ping_interval: "30s"
ping_max: 3
write_deadline: 5
SECRET: pw
authorization {
  users: [
    {user: a, password: $SECRET, permissions: {
      publish: {allow: ["foo.>"], deny: "foo.x"}
      subscribe: ["bar", "baz q"]
      allow_responses: {max: 3, expires: "1m"}
    }}
    {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}
  ]
  default_permissions: { sub: { deny: "$SYS.>" } }
  timeout: 1.5
}
no_auth_user: a
accounts {
  A { users: [ {user: x, pass: y} ] }
}
tls { cert_file: "c.pem", key_file: "k.pem", ca_file: "ca.pem", verify: true, timeout: "3s" }
`)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %+v", what, opts)
		}
	}
	check("listen", opts.Host == "127.0.0.1" && opts.Port == 4333)
	check("name and logging", opts.ServerName == "alpha" && opts.Debug && !opts.Trace &&
		opts.LogFile == "/tmp/m.log" && opts.PidFile == "/tmp/m.pid")
	check("limits", opts.MaxConnections == 100 && opts.MaxSubscriptions == 10 && opts.MaxPayload == 512<<10 &&
		opts.MaxPending == 32<<20 && opts.MaxControlLine == 2048 && opts.MaxPingsOut == 3)
	check("durations", opts.PingInterval == 30*time.Second && opts.WriteDeadline == 5*time.Second &&
		opts.Auth.Timeout == 1500*time.Millisecond && opts.TLS.Timeout == 3*time.Second)
	check("tls", opts.TLS.CertFile == "c.pem" && opts.TLS.KeyFile == "k.pem" && opts.TLS.CAFile == "ca.pem" && opts.TLS.Verify)
	check("users", len(opts.Auth.Users) == 2 && len(opts.Auth.Nkeys) == 1 && opts.Auth.NoAuthUser == "a")
	a := opts.Auth.Users[0]
	check("user a", a.Username == "a" && a.Password == "pw" && a.Account == "")
	p := a.Permissions
	check("permissions", p != nil && p.Publish.Allow[0] == "foo.>" && p.Publish.Deny[0] == "foo.x" &&
		len(p.Subscribe.Allow) == 2 && p.Response.MaxMsgs == 3 && p.Response.Expires == time.Minute)
	check("default permissions", opts.Auth.DefaultPermissions.Subscribe.Deny[0] == "$SYS.>")
	check("account user", opts.Auth.Users[1].Username == "x" && opts.Auth.Users[1].Account == "A" &&
		len(opts.Accounts) == 1 && opts.Accounts[0].Name == "A")
}

func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	_, err := ParseConfig(`port: 4222
max_payloda: 5
authorization {
  tokn: x
  users: [ {user: a, pasword: b} ]
}
https_port: 8222
ping_interval: "soon"
max_payload: "big"
tls { verify: yes, cert: c }
`)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`config:2: max_payloda: unknown configuration key (did you mean "max_payload"?)`,
		`config:4: authorization.tokn: unknown configuration key (did you mean "token"?)`,
		`config:5: authorization.users[0].pasword: unknown configuration key (did you mean "password"?)`,
		`config:7: https_port: a nats-server option midge does not support`,
		`config:8: ping_interval: invalid duration "soon"`,
		`config:9: max_payload: expected an integer, got a string "big"`,
		`config:10: tls.cert: unknown configuration key`,
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestConfigListenForms(t *testing.T) {
	for text, want := range map[string]string{
		"listen: 4333":                      ":4333",
		"listen: \"[::1]:4333\"":            "::1:4333",
		"host: 10.0.0.1\nlisten: 4333":      "10.0.0.1:4333",
		"listen: \"0.0.0.0:1\"\nport: 2":    "0.0.0.0:2",
		"net: 127.0.0.1\nlisten: \":4333\"": "127.0.0.1:4333",
	} {
		o, err := ParseConfig(text)
		if got := fmt.Sprintf("%s:%d", o.Host, o.Port); err != nil || got != want {
			t.Errorf("%q: %s, %v; want %s", text, got, err, want)
		}
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, text := range []string{
		"port: 70000", "port: -2", "max_connections: 0", "max_payload: -5", "ping_interval: -3",
		"listen: \"nohost\"", "server_name: \"a b\"", "authorization: 5", "authorization { users: {} }",
		"authorization { users: [ {password: x} ] }", "authorization { users: [ {nkey: UABC, user: a} ] }",
		"authorization { users: [ {user: a, permissions: {publish: \"a..b\"}} ] }",
		"authorization { users: [ {user: a, permissions: {subscribe: {allow: \"x\", maybe: \"y\"}}} ] }",
		"authorization { users: [ {user: a, permissions: {allow_responses: \"yes please\"}} ] }",
		"accounts { A: 5 }", "accounts { A { jetstream: enabled } }", "debug: 1", "port: 4222\nport {",
		"write_deadline: 1e30",
	} {
		if _, err := ParseConfig(text); err == nil {
			t.Errorf("accepted %q", text)
		}
	}
}

func TestConfigUnusedVariableIsReported(t *testing.T) {
	if _, err := ParseConfig("USED: 5\nUNUSED: 6\nmax_subs: $USED\n"); err == nil ||
		err.Error() != `config:2: UNUSED: unknown configuration key` {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigFileWithInclude(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users.conf"), "users: [ {user: inc, password: pw} ]\n")
	main := filepath.Join(dir, "midge.conf")
	writeFile(t, main, "port: 0\nhost: 127.0.0.1\nauthorization {\n  include ./users.conf\n}\n")
	opts, err := LoadConfigFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Auth.Users) != 1 || opts.Auth.Users[0].Username != "inc" {
		t.Fatalf("users %+v", opts.Auth.Users)
	}
	if _, err := LoadConfigFile(filepath.Join(dir, "missing.conf")); err == nil {
		t.Fatal("a missing file loaded")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A nats-server configuration with accounts and permissions runs as is.
func TestConfigEndToEnd(t *testing.T) {
	opts, err := ParseConfig(`
host: 127.0.0.1
port: 0
max_subscriptions: 5
accounts {
  ORDERS { users: [ {user: shop, password: s, permissions: {publish: "orders.>", subscribe: "orders.>"}} ] }
  BILLING { users: [ {user: bill, password: b} ] }
}
`)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(o *Options) { *o = opts })
	shop := connect(t, s, nats.UserInfo("shop", "s"))
	bill := connect(t, s, nats.UserInfo("bill", "b"))
	billSub, _ := bill.SubscribeSync(">")
	bill.Flush()
	sub, _ := shop.SubscribeSync("orders.new")
	shop.Publish("orders.new", []byte("o1"))
	if m := nextMsg(t, sub); string(m.Data) != "o1" {
		t.Fatalf("got %q", m.Data)
	}
	expectNoMsg(t, bill, billSub)
	if _, ok := s.LookupAccount("ORDERS"); !ok {
		t.Fatal("account ORDERS missing")
	}
}

func TestConfigJetStream(t *testing.T) {
	o, err := ParseConfig("jetstream {\n  store_dir: \"/tmp/x\"\n  sync_interval: \"2m\"\n}\n")
	if err != nil || !o.JetStream || o.StoreDir != "/tmp/x" || o.SyncInterval != 2*time.Minute {
		t.Fatalf("block: %+v %v", o, err)
	}
	o, err = ParseConfig("jetstream: enabled\n")
	if err != nil || !o.JetStream || o.SyncInterval != 0 {
		t.Fatalf("enabled: %+v %v", o, err)
	}
	o, err = ParseConfig("jetstream { sync_interval: always }\n")
	if err != nil || o.SyncInterval != 0 {
		t.Fatalf("always: %+v %v", o, err)
	}
	if _, err := ParseConfig("jetstream { max_file_stroe: 1 }\n"); err == nil || !strings.Contains(err.Error(), "max_file_stroe") {
		t.Fatalf("misspelt key: %v", err)
	}
}
