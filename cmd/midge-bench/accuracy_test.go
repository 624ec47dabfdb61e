package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/bench"
	"github.com/midgemq/midge/internal/testtools"
)

// TestAgreesWithNatsBench runs the same scenario with midge-bench and
// natscli's `nats bench` against the same server, interleaved, and checks
// that the median rates agree within 20%. Both tools run as ordinary
// (non-race) binaries so the comparison is not skewed by instrumentation.
func TestAgreesWithNatsBench(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the comparison with nats bench")
	}
	natsCLI := testtools.GoBinary(t, "nats", "go install github.com/nats-io/natscli/nats@v0.5.0")
	dir := t.TempDir()
	mb, midge := filepath.Join(dir, "midge-bench"), filepath.Join(dir, "midge")
	goBuild(t, mb, ".")
	goBuild(t, midge, "../midge")
	url := startProcess(t, midge, "-a", "127.0.0.1", "-p", "{port}")

	// 4 KiB payloads: with small ones nats bench pub is limited by its own
	// loop, which reads the clock twice and stores a latency per publish
	// call (see the README), and midge-bench reports the faster server rate.
	t.Run("pub", func(t *testing.T) {
		agree(t, 5,
			func() float64 {
				return natsRate(t, natsCLI, "-s", url, "bench", "pub", "--msgs", "150000", "--size", "4KiB", "--no-progress", "acc.pub")
			},
			func() float64 {
				return ourRate(t, mb, "publishers", "pub", "--server", url, "--msgs", "150000", "--size", "4KiB", "--subject", "acc.pub")
			})
	})
	// Both tools' requesters against the same responders (nats bench's).
	t.Run("reqrep", func(t *testing.T) {
		serve := exec.Command(natsCLI, "-s", url, "bench", "service", "serve", "--no-progress", "acc.svc")
		if err := serve.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()
		waitResponder(t, url, "acc.svc")
		agree(t, 5,
			func() float64 {
				return natsRate(t, natsCLI, "-s", url, "bench", "service", "request", "--msgs", "4000", "--size", "16", "--no-progress", "acc.svc")
			},
			func() float64 {
				return ourRate(t, mb, "requesters", "reqrep", "--server", url, "--msgs", "4000", "--size", "16",
					"--subject", "acc.svc", "--no-responders")
			})
	})
	t.Run("js-pub", func(t *testing.T) {
		ns := testtools.GoBinary(t, "nats-server", "go install github.com/nats-io/nats-server/v2@v2.15.2")
		jsURL := startProcess(t, ns, "-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", filepath.Join(dir, "store"))
		agree(t, 5,
			func() float64 {
				return natsRate(t, natsCLI, "-s", jsURL, "bench", "js", "pub", "async", "--create", "--purge", "--storage", "file",
					"--stream", "accnats", "--msgs", "60000", "--size", "16", "--batch", "500", "--no-progress", "acc.nats")
			},
			func() float64 {
				return ourRate(t, mb, "publishers", "js-pub", "--server", jsURL, "--stream", "accours", "--subject", "acc.ours",
					"--msgs", "60000", "--size", "16", "--window", "500")
			})
	})
}

// agree runs the two measurements as n adjacent pairs and compares the
// median of the pairwise ratios: the two runs of a pair see the same load
// of a shared machine, the pairs may not. A machine busy enough to disturb
// a whole series gets up to two more series before the tools are said to
// disagree.
func agree(t *testing.T, n int, theirs, ours func() float64) {
	t.Helper()
	var ratio float64
	for attempt := 1; attempt <= 3; attempt++ {
		var a, b, ratios []float64
		for range n {
			x, y := theirs(), ours()
			a, b, ratios = append(a, x), append(b, y), append(ratios, y/x)
		}
		slices.Sort(ratios)
		ratio = ratios[n/2]
		t.Logf("nats bench %.0f msgs/s, midge-bench %.0f msgs/s, median pairwise ratio %.3f", a, b, ratio)
		if ratio >= 0.8 && ratio <= 1.2 {
			return
		}
	}
	t.Errorf("midge-bench and nats bench disagree by more than 20%%: ratio %.3f", ratio)
}

var statsLine = regexp.MustCompile(`stats: ([0-9,]+) msgs/sec`)

func natsRate(t *testing.T, natsCLI string, args ...string) float64 {
	t.Helper()
	out := runTool(t, natsCLI, args...)
	m := statsLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no rate in nats bench output:\n%s", out)
	}
	v, _ := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
	return v
}

func ourRate(t *testing.T, mb, role string, args ...string) float64 {
	t.Helper()
	// stdout only: warnings (a short run, say) go to stderr.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, mb, append(args, "--json")...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("midge-bench %q: %v\n%s", args, err, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out, &rep); err != nil || !rep.OK() || rep.Role(role) == nil {
		t.Fatalf("midge-bench: %v\n%s", err, out)
	}
	return rep.Role(role).MsgsPerSec
}

func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return string(out)
}

func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// startProcess starts a server binary on a free loopback port ({port} in
// args) and waits until it accepts NATS connections; it is killed when the
// test ends.
func startProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	for i := range args {
		args[i] = strings.ReplaceAll(args[i], "{port}", port)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "nats://127.0.0.1:" + port
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := nats.Connect(url)
		if err == nil {
			nc.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start: %v", filepath.Base(bin), err)
		}
		time.Sleep(20 * time.Millisecond) // polling a child process: there is no signal to wait on
	}
}

// waitResponder polls until a request on subject is answered.
func waitResponder(t *testing.T, url, subject string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := nc.Request(subject, []byte("ping"), 500*time.Millisecond); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("no responder on %s: %w", subject, err))
		}
	}
}
