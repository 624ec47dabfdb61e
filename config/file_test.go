package config_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

func TestConfigAllKeys(t *testing.T) {
	opts, err := config.ParseConfig(`
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
	_, err := config.ParseConfig(`port: 4222
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
	var ce *config.ConfigError
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
		o, err := config.ParseConfig(text)
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
		"accounts { A: 5 }", "accounts { A { jetstream: maybe } }", "accounts { A { jetstream { max_streams: \"x\" } } }", "debug: 1", "port: 4222\nport {",
		"write_deadline: 1e30",
	} {
		if _, err := config.ParseConfig(text); err == nil {
			t.Errorf("accepted %q", text)
		}
	}
}

func TestConfigUnusedVariableIsReported(t *testing.T) {
	if _, err := config.ParseConfig("USED: 5\nUNUSED: 6\nmax_subs: $USED\n"); err == nil ||
		err.Error() != `config:2: UNUSED: unknown configuration key` {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigFileWithInclude(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users.conf"), "users: [ {user: inc, password: pw} ]\n")
	main := filepath.Join(dir, "midge.conf")
	writeFile(t, main, "port: 0\nhost: 127.0.0.1\nauthorization {\n  include ./users.conf\n}\n")
	opts, err := config.LoadConfigFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Auth.Users) != 1 || opts.Auth.Users[0].Username != "inc" {
		t.Fatalf("users %+v", opts.Auth.Users)
	}
	if _, err := config.LoadConfigFile(filepath.Join(dir, "missing.conf")); err == nil {
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
	opts, err := config.ParseConfig(`
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
	s := testutil.StartServer(t, func(o *config.Options) { *o = opts })
	shop := testutil.Connect(t, s, nats.UserInfo("shop", "s"))
	bill := testutil.Connect(t, s, nats.UserInfo("bill", "b"))
	billSub, _ := bill.SubscribeSync(">")
	bill.Flush()
	sub, _ := shop.SubscribeSync("orders.new")
	shop.Publish("orders.new", []byte("o1"))
	if m := testutil.NextMsg(t, sub); string(m.Data) != "o1" {
		t.Fatalf("got %q", m.Data)
	}
	testutil.ExpectNoMsg(t, bill, billSub)
	if _, ok := s.LookupAccount("ORDERS"); !ok {
		t.Fatal("account ORDERS missing")
	}
}

func TestConfigJetStream(t *testing.T) {
	o, err := config.ParseConfig("jetstream {\n  store_dir: \"/tmp/x\"\n  sync_interval: \"2m\"\n}\n")
	if err != nil || !o.JetStream || o.StoreDir != "/tmp/x" || o.SyncInterval != 2*time.Minute {
		t.Fatalf("block: %+v %v", o, err)
	}
	o, err = config.ParseConfig("jetstream: enabled\n")
	if err != nil || !o.JetStream || o.SyncInterval != 0 {
		t.Fatalf("enabled: %+v %v", o, err)
	}
	o, err = config.ParseConfig("jetstream { sync_interval: always }\n")
	if err != nil || o.SyncInterval != 0 {
		t.Fatalf("always: %+v %v", o, err)
	}
	if _, err := config.ParseConfig("jetstream { max_file_stroe: 1 }\n"); err == nil || !strings.Contains(err.Error(), "max_file_stroe") {
		t.Fatalf("misspelt key: %v", err)
	}
}

// Every configuration error names the file, the line and the key path;
// syntax errors point at the mistake (an unclosed brace at its opening).
func TestConfigErrorsNameFileLineAndKeyPath(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"stray top-level brace", "port: 4222\n}\n",
			`config:2:1: unexpected '}': there is no open '{' for it to close`},
		{"stray brace after a block", "authorization {\n  token: x\n}}\n",
			`config:3:2: unexpected '}': there is no open '{' for it to close`},
		{"missing brace points at the opening", "port: 4222\nauthorization {\n  token: x\n\nmax_payload: 5\n",
			`config:2:15: the { opened here for "authorization" is never closed: the file ends before its }`},
		{"type error names its key", "jetstream {\n  store_dir: /tmp/x\n  max_file: \"lots\"\n}\n",
			`config:3: jetstream.max_file: expected a size such as 10G, 512MB or 1073741824, got a string "lots"`},
		{"integer expected", "port: 4222\nmax_payload: big\n",
			`config:2: max_payload: expected an integer, got a string "big"`},
		{"unknown key in a block", "jetstream {\n  max_file_stroe: 1\n}\n",
			`config:2: jetstream.max_file_stroe: unknown configuration key (did you mean "max_file_store"?)`},
		{"unknown top-level key", "prot: 4222\n",
			`config:1: prot: unknown configuration key (did you mean "port"?)`},
		{"array element", "authorization { users: [\n  {user: a}\n  {user: b, password: 5}\n] }\n",
			`config:3: authorization.users[1].password: expected a string, got an integer 5`},
		{"subject in a list", "authorization { users: [ {user: a, permissions: {\n  publish: [\"ok\", \"a..b\"]\n}} ] }\n",
			`config:2: authorization.users[0].permissions.publish[1]: `},
		{"map expected", "websocket: 8080\n", `config:1: websocket: expected a map { ... }, got an integer 8080`},
		{"undefined variable", "port: $PORT_THAT_IS_NOT_SET_ANYWHERE\n",
			`config:1:7: variable $PORT_THAT_IS_NOT_SET_ANYWHERE is not defined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseConfig(tc.text)
			var ce *config.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %T %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("\n got  %v\n want %s", err, tc.want)
			}
		})
	}
}

// A mistake in an included file is reported at that file's line.
func TestConfigIncludedFileErrorsNameThatFile(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "midge.conf")
	users := filepath.Join(dir, "users.conf")
	writeFile(t, main, "port: 4222\nauthorization {\n  include users.conf\n}\n")

	writeFile(t, users, "users: [\n  {user: a, password: 5}\n]\n")
	_, err := config.LoadConfigFile(main)
	if want := users + ":2: authorization.users[0].password: expected a string, got an integer 5"; err == nil || err.Error() != want {
		t.Fatalf("type error:\n got  %v\n want %s", err, want)
	}

	writeFile(t, users, "users: [\n  {user: a, password: b\n]\n")
	_, err = config.LoadConfigFile(main)
	if want := users + ":3:1: unexpected ']' in the map opened at 2:3 (included from " + main + ":3:3)"; err == nil || err.Error() != want {
		t.Fatalf("syntax error:\n got  %v\n want %s", err, want)
	}
}

// nats-server's jetstream keys: limits and the domain are read, its tuning
// keys are tolerated with the one warning, encryption is refused.
func TestConfigJetStreamReferenceKeys(t *testing.T) {
	o, err := config.ParseConfig(`jetstream {
  store_dir: "/tmp/js"
  max_memory_store: 1GB
  max_file_store: "10G"
  domain: hub
  sync_interval: "1m"
  enabled: true
  strict: true
  unique_tag: "az:"
  max_buffered_msgs: 10000
  max_buffered_size: 128MB
  request_queue_limit: 1000
  limits { max_ack_pending: 100 }
}
server_tags: [az:1]
`)
	if err != nil {
		t.Fatal(err)
	}
	if !o.JetStream || o.StoreDir != "/tmp/js" || o.JetStreamMaxMemory != 1<<30 || o.JetStreamMaxFile != 10<<30 ||
		o.JetStreamDomain != "hub" || o.SyncInterval != time.Minute || !slices.Equal(o.ServerTags, []string{"az:1"}) {
		t.Fatalf("options %+v", o)
	}
	want := []string{"config: ignoring nats-server options midge does not implement yet: " +
		"jetstream.limits, jetstream.max_buffered_msgs, jetstream.max_buffered_size, " +
		"jetstream.request_queue_limit, jetstream.strict, jetstream.unique_tag"}
	if strings.Join(o.ConfigWarnings, "|") != strings.Join(want, "|") {
		t.Fatalf("warnings %q\nwant     %q", o.ConfigWarnings, want)
	}

	for text, want := range map[string]int64{
		"max_mem: 512M": 512_000_000, "max_mem: 2k": 2000, "max_mem: 2kb": 2048, "max_mem: \"3M\"": 3 << 20,
		"max_mem: 0": 0, "max_mem: -1": 0, "max_mem_store: \"\"": 0,
	} {
		o, err := config.ParseConfig("jetstream { " + text + " }")
		if err != nil || o.JetStreamMaxMemory != want {
			t.Errorf("%s: %d, %v; want %d", text, o.JetStreamMaxMemory, err, want)
		}
	}
	for text, want := range map[string]string{
		"max_file: \"10g\"":    `jetstream.max_file: expected a size such as 10G`,
		"max_file: -2":         `jetstream.max_file: a size cannot be negative`,
		"max_file: true":       `jetstream.max_file: expected a size such as 10G, 512MB or 1073741824, got a boolean true`,
		"domain: \"a.b\"":      `jetstream.domain: invalid domain name "a.b"`,
		"key: s3cret":          `jetstream.key: midge does not encrypt its store`,
		"tpm { keys_file: x }": `jetstream.tpm: midge does not encrypt its store`,
	} {
		if _, err := config.ParseConfig("jetstream { " + text + " }"); err == nil || !strings.HasPrefix(err.Error(), "config:1: "+want) {
			t.Errorf("%s: %v; want %s", text, err, want)
		}
	}
}

// Top-level keys that only tune nats-server's logging or internals, or
// name features of a cluster, are tolerated; those that change what
// clients get are refused.
func TestConfigTopLevelReferenceKeys(t *testing.T) {
	o, err := config.ParseConfig("store_dir: /tmp/s\nlogfile_size_limit: 1GB\nsystem_account: SYS\nmax_closed_clients: 50\n")
	if err != nil || o.StoreDir != "/tmp/s" || o.MaxClosedClients != 50 || len(o.ConfigWarnings) != 1 ||
		!strings.HasSuffix(o.ConfigWarnings[0], "does not implement yet: logfile_size_limit, system_account") {
		t.Fatalf("%+v %v", o, err)
	}
	for _, k := range []string{"mappings { a: b }", "proxy_protocol: true", "operator: x.jwt"} {
		if _, err := config.ParseConfig(k); err == nil || !strings.Contains(err.Error(), "midge does not support") {
			t.Errorf("%s: %v", k, err)
		}
	}
}

// In a file the later of two settings of the same option wins, whether the
// key is repeated or spelt another way.
func TestConfigLaterKeyWins(t *testing.T) {
	o, err := config.ParseConfig("port: 1\nmax_payload: 100\nport: 2\nmax_conn: 3\nmax_connections: 4\nmax_conn: 5\n")
	if err != nil || o.Port != 2 || o.MaxConnections != 5 || o.MaxPayload != 100 {
		t.Fatalf("%+v %v", o, err)
	}
}

// WebSocket, MQTT and monitoring listeners given only a port bind the
// clients' host, not every interface; a host of their own wins.
func TestConfigSecondaryListenersBindTheClientHost(t *testing.T) {
	opts, err := config.ParseConfig(`listen: "127.0.0.1:-1"
http: -1
websocket { port: -1, no_tls: true }
mqtt { host: 127.0.0.2, port: -1 }
`)
	if err != nil {
		t.Fatal(err)
	}
	s := testutil.StartServer(t, func(o *config.Options) { *o = opts })
	for name, a := range map[string]*net.TCPAddr{
		"client": s.Addr(), "websocket": s.WebSocketAddr(), "monitoring": s.MonitorAddr(),
	} {
		if a == nil || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Errorf("%s listener bound %v, want 127.0.0.1", name, a)
		}
	}
	if a := s.MQTTAddr(); a == nil || !a.IP.Equal(net.IPv4(127, 0, 0, 2)) {
		t.Errorf("mqtt listener bound %v, want its own host 127.0.0.2", a)
	}
}

func TestMaxOutboundMemoryKey(t *testing.T) {
	o, err := config.ParseConfig("max_outbound_memory: 512MB\n")
	if err != nil || o.MaxOutboundMemory != 512<<20 {
		t.Fatalf("max_outbound_memory: %d, %v", o.MaxOutboundMemory, err)
	}
	if _, err := config.ParseConfig("max_outbound_memory: lots\n"); err == nil {
		t.Fatal("a size that is not one was accepted")
	}
}
