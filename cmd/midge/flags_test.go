package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args  []string
		check func(invocation) bool
	}{
		{nil, func(c invocation) bool { return c.opts.Host == "0.0.0.0" && c.opts.Port == 4222 }},
		{[]string{"-a", "127.0.0.1", "-p", "5000", "-n", "alpha"}, func(c invocation) bool {
			return c.opts.Host == "127.0.0.1" && c.opts.Port == 5000 && c.opts.ServerName == "alpha"
		}},
		{[]string{"--addr", "::1", "--port", "1", "--name", "b"}, func(c invocation) bool {
			return c.opts.Host == "::1" && c.opts.Port == 1 && c.opts.ServerName == "b"
		}},
		{[]string{"--net", "h", "--server_name", "c"}, func(c invocation) bool { return c.opts.Host == "h" && c.opts.ServerName == "c" }},
		{[]string{"-D"}, func(c invocation) bool { return c.opts.Debug && !c.opts.Trace }},
		{[]string{"-V"}, func(c invocation) bool { return c.opts.Trace && !c.opts.Debug }},
		{[]string{"-DV"}, func(c invocation) bool { return c.opts.Trace && c.opts.Debug }},
		{[]string{"--debug", "--trace"}, func(c invocation) bool { return c.opts.Trace && c.opts.Debug }},
		{[]string{"-l", "x.log", "-P", "x.pid"}, func(c invocation) bool { return c.opts.LogFile == "x.log" && c.opts.PidFile == "x.pid" }},
		{[]string{"--log", "y.log", "--pid", "y.pid"}, func(c invocation) bool { return c.opts.LogFile == "y.log" && c.opts.PidFile == "y.pid" }},
		{[]string{"-v"}, func(c invocation) bool { return c.showVersion }},
		{[]string{"--version"}, func(c invocation) bool { return c.showVersion }},
		{nil, func(c invocation) bool {
			return c.opts.HTTPPort == 0 && c.opts.LameDuckDuration == config.DefaultLameDuckDuration &&
				c.opts.LameDuckGracePeriod == config.DefaultLameDuckGracePeriod
		}},
		{[]string{"-m", "8222", "--http_base_path", "/mon"}, func(c invocation) bool {
			return c.opts.HTTPPort == 8222 && c.opts.HTTPBasePath == "/mon"
		}},
		{[]string{"--http_port", "-1"}, func(c invocation) bool { return c.opts.HTTPPort == config.MonitorRandomPort }},
		{[]string{"--kafka_port", "9093"}, func(c invocation) bool { return c.opts.Kafka.Port == 9093 }},
		{[]string{"--kafka_port", "-1"}, func(c invocation) bool { return c.opts.Kafka.Port == config.RandomPort }},
		{[]string{"-sl", "ldm=12"}, func(c invocation) bool { return c.signal == "ldm=12" }},
		{[]string{"--signal", "reload", "-P", "x.pid"}, func(c invocation) bool { return c.signal == "reload" && c.opts.PidFile == "x.pid" }},
		{[]string{"--lame_duck_duration", "30s", "--lame_duck_grace_period", "5s"}, func(c invocation) bool {
			return c.opts.LameDuckDuration == 30*time.Second && c.opts.LameDuckGracePeriod == 5*time.Second
		}},
	}
	for _, tc := range cases {
		cfg, err := parseFlags(tc.args)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if !tc.check(cfg) {
			t.Errorf("%v: unexpected config %+v", tc.args, cfg)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"}, {"-p", "x"}, {"-p", "70000"}, {"-p", "-5"}, {"stray"}, {"-a"},
		{"-m", "-2"}, {"-m", "70000"}, {"--lame_duck_duration", "10s", "--lame_duck_grace_period", "10s"},
		{"--lame_duck_duration", "-1s"}, {"--kafka_port", "-2"}, {"--kafka_port", "70000"},
	} {
		if _, err := parseFlags(args); err == nil || errors.Is(err, errHelp) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		if _, err := parseFlags(args); !errors.Is(err, errHelp) {
			t.Errorf("%v: err = %v, want errHelp", args, err)
		}
	}
}

func TestSecurityFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--user", "u", "--pass", "p", "--tlsverify", "--tlscert", "c.pem",
		"--tlskey", "k.pem", "--tlscacert", "ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	a, tl := cfg.opts.Auth, cfg.opts.TLS
	if a.Username != "u" || a.Password != "p" || tl.CertFile != "c.pem" || tl.KeyFile != "k.pem" ||
		tl.CAFile != "ca.pem" || !tl.Verify {
		t.Fatalf("options %+v %+v", a, tl)
	}
	if cfg, err := parseFlags([]string{"--auth", "tok"}); err != nil || cfg.opts.Auth.Token != "tok" {
		t.Fatalf("--auth: %v %+v", err, cfg.opts.Auth)
	}
	for _, args := range [][]string{{"--tls"}, {"--tls", "--tlscert", "c.pem"}, {"--tlsverify", "--tlskey", "k.pem"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%v accepted without certificate and key", args)
		}
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "midge.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Flags override the configuration file; what the flags leave alone comes
// from the file, the rest from the defaults.
func TestFlagsOverrideConfigFile(t *testing.T) {
	path := writeConfig(t, `
port: 5000
server_name: from-file
max_payload: 2048
authorization { user: fileuser, password: filepass }
tls { cert_file: f.pem, key_file: f.key, timeout: 3 }
`)
	cfg, err := parseFlags([]string{"-c", path, "-p", "6000", "--pass", "flagpass"})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	if o.Port != 6000 || o.ServerName != "from-file" || o.Host != "0.0.0.0" || o.MaxPayload != 2048 ||
		o.Auth.Username != "fileuser" || o.Auth.Password != "flagpass" || o.TLS.CertFile != "f.pem" {
		t.Fatalf("options %+v", o)
	}
	cfg, err = parseFlags([]string{"--config", path, "--tls", "--tlscert", "x.pem", "--tlskey", "x.key"})
	if err != nil {
		t.Fatal(err)
	}
	if tl := cfg.opts.TLS; tl.CertFile != "x.pem" || tl.KeyFile != "x.key" || tl.Timeout != 3*time.Second {
		t.Fatalf("TLS flags did not replace the file's block: %+v", tl)
	}
	if cfg, err := parseFlags([]string{"-c", path, "--tls=false"}); err != nil || cfg.opts.TLS.CertFile != "" {
		t.Fatalf("--tls=false: %v %+v", err, cfg.opts.TLS)
	}
}

func TestClusterFlags(t *testing.T) {
	inv, err := parseFlags([]string{"--cluster", "nats://127.0.0.1:-1", "--cluster_name", "c1",
		"--routes", "nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223"})
	if err != nil {
		t.Fatal(err)
	}
	c := inv.opts.Cluster
	if c.Host != "127.0.0.1" || c.Port != -1 || c.Name != "c1" || len(c.Routes) != 2 || c.Routes[1] != "nats-route://127.0.0.1:6223" {
		t.Fatalf("cluster options %+v", c)
	}
	for _, bad := range [][]string{
		{"--cluster", "127.0.0.1"},
		{"--cluster", "nats://h:x"},
		{"--routes", "http://h:1"},
		{"--routes", "nats-route://nohost"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// The file's routes are replaced by --routes, as in nats-server.
	conf := filepath.Join(t.TempDir(), "c.conf")
	os.WriteFile(conf, []byte("cluster { name: f, listen: \"127.0.0.1:-1\", routes: [nats-route://127.0.0.1:1] }\n"), 0o644)
	inv, err = parseFlags([]string{"-c", conf, "--routes", "nats-route://127.0.0.1:2"})
	if err != nil {
		t.Fatal(err)
	}
	if c := inv.opts.Cluster; c.Name != "f" || c.Port != -1 || len(c.Routes) != 1 || c.Routes[0] != "nats-route://127.0.0.1:2" {
		t.Fatalf("file plus flags: %+v", c)
	}
}
