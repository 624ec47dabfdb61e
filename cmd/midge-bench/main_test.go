package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/bench"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

// cli runs the command in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nope"},
		{"pubsub", "fanout"},
		{"pubsub", "--size", "lots"},
		{"fanout", "--pubs", "2"},
		{"js-pub", "--storage", "disk"},
		{"pubsub", "--json", "--csv"},
		{"pubsub", "--bogus"},
		{"pubsub", "--compare-monitor", "http://127.0.0.1:8222"},
		{"pubsub", "--embedded", "--monitor", "http://127.0.0.1:8222"},
	} {
		if code, _, stderr := cli(t, args...); code != 2 || !strings.Contains(stderr, "midge-bench:") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestHelpAndList(t *testing.T) {
	code, out, _ := cli(t, "--help")
	if code != 0 || !strings.Contains(out, "-compare") || !strings.Contains(out, "Examples:") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
	code, list, _ := cli(t, "--list")
	for _, s := range bench.Scenarios() {
		if code != 0 || !strings.Contains(out, s.Name) || !strings.Contains(list, s.Name+" ") {
			t.Errorf("scenario %s missing from help or --list", s.Name)
		}
	}
}

func TestFlagsAroundScenario(t *testing.T) {
	o, err := parseFlags([]string{"--msgs", "7", "fanout", "--size", "2KiB", "--subs", "3"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.Scenario != "fanout" || c.Msgs != 7 || c.Size != 2048 || c.Subs != 3 || c.Pubs != 1 || c.URL != bench.DefaultURL {
		t.Fatalf("%+v", c)
	}
	for in, want := range map[string]int{"128": 128, "16B": 16, "4k": 4096, "1MiB": 1 << 20, " 2 KB ": 2048} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestEmbeddedJSON(t *testing.T) {
	code, out, stderr := cli(t, "pubsub", "--embedded", "--msgs", "3000", "--size", "32", "--subs", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.OK() || rep.Delivered != 6000 || rep.Role("publishers").Msgs != 3000 || rep.Params.Size != 32 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Server != bench.EmbeddedName || !strings.HasPrefix(rep.URL, "nats://127.0.0.1:") || rep.ServerSlowConsumers != 0 {
		t.Fatalf("embedded server named %q at %q, its slow consumers %d", rep.Server, rep.URL, rep.ServerSlowConsumers)
	}
}

func TestCSVAndHTMLFiles(t *testing.T) {
	page := filepath.Join(t.TempDir(), "r.html")
	code, out, stderr := cli(t, "fanout", "--embedded", "--msgs", "1000", "--subs", "2", "--csv", "--html", page)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 1+2+3 { // header, publishers (all, #1), subscribers (all, #1, #2)
		t.Fatalf("%d rows, %v\n%s", len(rows), err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(html, []byte(`<div id="throughput-charts">`)) || !bytes.Contains(html, []byte(`"scenario":"fanout"`)) {
		t.Fatalf("html page without its chart or data: %v", err)
	}
}

func TestTextOutputByDefault(t *testing.T) {
	code, out, stderr := cli(t, "reqrep", "--embedded", "--msgs", "200", "--no-progress")
	if code != 0 || !strings.Contains(out, "requesters: request round trip") || !strings.HasSuffix(out, "OK\n") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
}

// Lost messages make the exit status non-zero and are counted.
func TestLostMessagesExitNonZero(t *testing.T) {
	srv, err := server.New(config.Options{Host: "127.0.0.1", Port: 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := cli(t, "sub", "--server", srv.ClientURL(), "--msgs", "100", "--timeout", "300ms")
		done <- result{code, out, errs}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for srv.NumSubscriptions() == 0 { // poll: the subscriber is another goroutine's client
		if time.Now().After(deadline) {
			t.Fatal("the subscriber never subscribed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for range 60 {
		if err := nc.Publish(bench.DefaultSubject, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != 1 || !strings.Contains(r.stdout, "40 of 100 messages lost") || !strings.Contains(r.stderr, "sub failed: 40 of 100 messages lost") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestCompareFlag(t *testing.T) {
	srv, err := bench.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	code, out, stderr := cli(t, "reqrep", "--embedded", "--compare", srv.URL, "--runs", "2", "--msgs", "200")
	if code != 0 || !strings.Contains(out, "A/B") || !strings.Contains(out, "A = embedded midge, B = "+srv.URL) {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	// 200 requests take a fraction of a second: said loudly, on both outputs.
	const short = "WARNING: measured for less than 1 s"
	if strings.Count(out, short) != 2 || !strings.Contains(stderr, short) {
		t.Fatalf("short runs not flagged:\n%s\n%s", out, stderr)
	}
}

// --compare without --msgs or --duration compares runs of a few seconds;
// an explicit count, or a scenario that reads stored messages, keeps counts.
func TestCompareDefaultsToADuration(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"pubsub", "--compare", "nats://b:4222"}, bench.DefaultCompareDuration},
		{[]string{"pubsub", "--compare", "nats://b:4222", "--msgs", "5000"}, 0},
		{[]string{"pubsub", "--compare", "nats://b:4222", "--duration", "7s"}, 7 * time.Second},
		{[]string{"js-fetch", "--compare", "nats://b:4222"}, 0},
		{[]string{"pubsub"}, 0},
	} {
		o, err := parseFlags(tc.args, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if o.cfg.Duration != tc.want || (tc.want == bench.DefaultCompareDuration) != (o.defaulted != "") {
			t.Errorf("%q: duration %v (note %q), want %v", tc.args, o.cfg.Duration, o.defaulted, tc.want)
		}
	}
}

// A subscriber the server closes as a slow consumer makes the run fail with
// exit status 1 and the cause on both outputs; --monitor lets the server's
// count say it was a slow consumer. Messages larger than the server's
// pending limit make the first delivery overflow it, whatever the timing.
func TestServerSlowConsumerExitsNonZero(t *testing.T) {
	srv, err := server.New(config.Options{Host: "127.0.0.1", Port: 0, MaxPending: 512,
		HTTPHost: "127.0.0.1", HTTPPort: config.MonitorRandomPort}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	monitor := "http://" + srv.MonitorAddr().String()

	code, out, stderr := cli(t, "pubsub", "--server", srv.ClientURL(), "--monitor", monitor, "--msgs", "100000", "--size", "1024", "--no-progress")
	if code != 1 || !strings.Contains(out, "slow consumers 1 (the server counted 1)") ||
		!strings.Contains(out, "subscribers-1: closed by the server (EOF); the server counted 1 slow consumer") ||
		!strings.Contains(stderr, "pubsub failed: slow consumer: subscribers-1;") {
		t.Fatalf("with --monitor: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}

	code, out, stderr = cli(t, "pubsub", "--server", srv.ClientURL(), "--msgs", "100000", "--size", "1024", "--no-progress")
	if code != 1 || !strings.Contains(out, "slow consumers 0, disconnects 1") ||
		!strings.Contains(stderr, "pubsub failed: subscribers-1 disconnected: closed by the server (EOF)") ||
		!strings.Contains(stderr, "pass --monitor") {
		t.Fatalf("without --monitor: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}
