package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cliRunner runs natscli against one server.
type cliRunner struct {
	cli, url, home string
}

func (r cliRunner) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(r.cli, append([]string{"--server", r.url, "--timeout", "5s"}, args...)...)
	cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+r.home)
	return cmd
}

func (r cliRunner) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := r.cmd(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nats %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// runStdin runs natscli with stdin.
func (r cliRunner) runStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := r.cmd(args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nats %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// jsonOf runs a natscli command with --json and decodes its output.
func (r cliRunner) jsonOf(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out := r.run(t, append(args, "--json")...)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("nats %v: %v\n%s", args, err, out)
	}
	return v
}

// path walks decoded JSON by keys.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// TestNatsCLIJetStreamFeatures drives the stream and consumer features of
// the reference 2.12+ servers through natscli (which refuses counters and
// atomic batches on servers that advertise an older version), then
// restarts midge and checks what was stored.
func TestNatsCLIJetStreamFeatures(t *testing.T) {
	cli := natsCLI(t)
	dir := t.TempDir()
	c := startMidge(t, "-js", "-sd", dir)
	r := cliRunner{cli: cli, url: c.url(), home: t.TempDir()}

	t.Run("s2 compression", func(t *testing.T) {
		r.run(t, "stream", "add", "Z", "--subjects", "z.>", "--compression", "s2", "--defaults")
		if got := path(r.jsonOf(t, "stream", "info", "Z"), "config", "compression"); got != "s2" {
			t.Fatalf("compression %v", got)
		}
		r.run(t, "pub", "z.a", strings.Repeat("compress me ", 100), "--count", "3")
	})

	t.Run("mirror, source, transform, metadata", func(t *testing.T) {
		r.run(t, "stream", "add", "ORIG", "--subjects", "o.>", "--metadata", "team:a", "--defaults")
		for _, s := range []string{"o.a", "o.b", "o.c"} {
			r.run(t, "pub", s, "body of "+s)
		}
		r.run(t, "stream", "add", "MIR", "--mirror", "ORIG", "--defaults")
		r.run(t, "stream", "add", "SRC", "--source", "ORIG", "--defaults")
		for _, name := range []string{"MIR", "SRC"} {
			waitFor(t, name+" to copy ORIG", func() bool {
				return path(r.jsonOf(t, "stream", "info", name), "state", "messages") == float64(3)
			})
		}
		if got := r.run(t, "stream", "get", "SRC", "2"); !strings.Contains(got, "body of o.b") || !strings.Contains(got, "Nats-Stream-Source") {
			t.Fatalf("sourced message:\n%s", got)
		}
		if md := path(r.jsonOf(t, "stream", "info", "ORIG"), "config", "metadata", "team"); md != "a" {
			t.Fatalf("metadata %v", md)
		}
		r.run(t, "stream", "add", "T", "--subjects", "t.*", "--transform-source", "t.*",
			"--transform-destination", "tt.{{wildcard(1)}}", "--defaults")
		r.run(t, "pub", "t.a", "hi")
		if got := r.run(t, "stream", "get", "T", "1"); !strings.Contains(got, "on Subject tt.a") {
			t.Fatalf("transformed message:\n%s", got)
		}
	})

	t.Run("republish", func(t *testing.T) {
		r.run(t, "stream", "add", "R", "--subjects", "r.>", "--republish-source", "r.>",
			"--republish-destination", "rp.>", "--defaults")
		sub := r.cmd("sub", "rp.>", "--count", "1", "--headers-only")
		out := &syncBuffer{}
		sub.Stdout = out
		if err := sub.Start(); err != nil {
			t.Fatal(err)
		}
		if err := retryUntilExit(t, sub, func() { r.run(t, "pub", "r.x", "again") }); err != nil {
			t.Fatalf("sub: %v", err)
		}
		for _, want := range []string{"Nats-Stream: R", "Nats-Subject: r.x", "Nats-Sequence:"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("republished headers lack %q:\n%s", want, out)
			}
		}
	})

	t.Run("message TTL and delete markers", func(t *testing.T) {
		r.run(t, "stream", "add", "TTL", "--subjects", "ttl.>", "--allow-msg-ttl", "--subject-del-markers-ttl", "1m", "--defaults")
		cfg := path(r.jsonOf(t, "stream", "info", "TTL"), "config").(map[string]any)
		if cfg["allow_msg_ttl"] != true || cfg["subject_delete_marker_ttl"] != float64(time.Minute) {
			t.Fatalf("config %v", cfg)
		}
		// natscli's -H sends the header as Nats-Ttl (Go's canonical
		// form), which the reference server ignores too; per-message
		// TTLs are tested through nats.go.
	})

	t.Run("counters", func(t *testing.T) {
		r.run(t, "stream", "add", "CNT", "--subjects", "cnt.>", "--allow-counter", "--defaults")
		r.run(t, "counter", "increment", "cnt.a", "5")
		r.run(t, "counter", "increment", "cnt.a", "37")
		if got := strings.TrimSpace(r.run(t, "counter", "get", "cnt.a")); got != "42" {
			t.Fatalf("counter %q", got)
		}
		r.run(t, "counter", "increment", "cnt.big", "100000000000000000000000000")
		r.run(t, "counter", "decrement", "cnt.big", "1")
		if got := strings.TrimSpace(r.run(t, "counter", "get", "cnt.big")); got != "99999999999999999999999999" {
			t.Fatalf("big counter %q", got)
		}
	})

	t.Run("atomic batch", func(t *testing.T) {
		r.run(t, "stream", "add", "BAT", "--subjects", "bat.>", "--allow-batch", "--defaults")
		out := r.runStdin(t, "one\ntwo\nthree\n", "pub", "bat.x", "--atomic", "--send-on=newline")
		if !strings.Contains(out, "Messages: 3 Sequence: 3") {
			t.Fatalf("batch output:\n%s", out)
		}
	})

	t.Run("consumer filters, pause, priority groups", func(t *testing.T) {
		r.run(t, "consumer", "add", "ORIG", "C", "--filter", "o.a", "--filter", "o.b", "--pull", "--defaults")
		info := r.jsonOf(t, "consumer", "info", "ORIG", "C")
		if f := path(info, "config", "filter_subjects"); len(f.([]any)) != 2 || path(info, "num_pending") != float64(2) {
			t.Fatalf("filtered consumer %v", info)
		}
		r.run(t, "consumer", "pause", "ORIG", "C", "1h", "-f")
		if info := r.jsonOf(t, "consumer", "info", "ORIG", "C"); info["paused"] != true {
			t.Fatalf("not paused: %v", info)
		}
		r.run(t, "consumer", "resume", "ORIG", "C", "-f")
		if info := r.jsonOf(t, "consumer", "info", "ORIG", "C"); info["paused"] == true {
			t.Fatalf("still paused: %v", info)
		}
		r.run(t, "consumer", "pause", "ORIG", "C", "1h", "-f") // kept across the restart below
		r.run(t, "consumer", "add", "ORIG", "PIN", "--pinned-groups", "g", "--pull", "--defaults")
		if got := r.run(t, "consumer", "info", "ORIG", "PIN"); !strings.Contains(got, "Pinned Client") {
			t.Fatalf("pinned consumer:\n%s", got)
		}
	})

	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)
	c = startMidge(t, "-js", "-sd", dir)
	r.url = c.url()
	t.Run("after restart", func(t *testing.T) {
		if got := strings.TrimSpace(r.run(t, "counter", "get", "cnt.a")); got != "42" {
			t.Fatalf("counter %q", got)
		}
		z := r.jsonOf(t, "stream", "info", "Z")
		if path(z, "config", "compression") != "s2" || path(z, "state", "messages") != float64(3) {
			t.Fatalf("compressed stream %v", z)
		}
		if got := r.run(t, "stream", "get", "Z", "3"); !strings.Contains(got, strings.Repeat("compress me ", 100)) {
			t.Fatalf("compressed message:\n%s", got)
		}
		info := r.jsonOf(t, "consumer", "info", "ORIG", "C")
		if info["paused"] != true || len(path(info, "config", "filter_subjects").([]any)) != 2 {
			t.Fatalf("consumer after restart %v", info)
		}
		if path(r.jsonOf(t, "stream", "info", "BAT"), "state", "messages") != float64(3) {
			t.Fatal("batch lost")
		}
		if md := path(r.jsonOf(t, "stream", "info", "ORIG"), "config", "metadata", "team"); md != "a" {
			t.Fatalf("stream metadata after restart %v", md)
		}
		r.run(t, "pub", "t.b", "transformed after restart")
		if got := r.run(t, "stream", "get", "T", "2"); !strings.Contains(got, "on Subject tt.b") {
			t.Fatalf("transform after restart:\n%s", got)
		}
		cfg := path(r.jsonOf(t, "stream", "info", "TTL"), "config").(map[string]any)
		if cfg["allow_msg_ttl"] != true || cfg["subject_delete_marker_ttl"] != float64(time.Minute) {
			t.Fatalf("TTL settings after restart %v", cfg)
		}
		r.run(t, "pub", "o.d", "after restart")
		for _, name := range []string{"MIR", "SRC"} {
			waitFor(t, name+" to follow ORIG after the restart", func() bool {
				return path(r.jsonOf(t, "stream", "info", name), "state", "messages") == float64(4)
			})
		}
	})
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)
}

// waitFor polls cond every 50 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
