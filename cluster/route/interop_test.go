package route_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"

	"github.com/nats-io/nats.go"
)

// The reference server, when installed (it is never a dependency), is
// routed together with midge servers: the same wire on both sides.

func referenceServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("interoperability with the reference server is not a short test")
	}
	return testtools.GoBinary(t, "nats-server", "go install github.com/nats-io/nats-server/v2@v2.15.2")
}

// startReference runs the reference server on free loopback ports with a
// route to routeURL, and returns its client and route URLs.
func startReference(t *testing.T, routeURL string) (client, cluster string) {
	t.Helper()
	bin := referenceServer(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", "-1", "-n", "ref",
		"--cluster", "nats://127.0.0.1:-1", "--cluster_name", "test", "--routes", routeURL,
		"--ports_file_dir", dir, "-l", filepath.Join(dir, "ref.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "ref.log"))
			t.Logf("reference server log:\n%s", log)
		}
	})
	portsFile := filepath.Join(dir, fmt.Sprintf("nats-server_%d.ports", cmd.Process.Pid))
	var ports struct {
		Nats    []string `json:"nats"`
		Cluster []string `json:"cluster"`
	}
	waitFor(t, 10*time.Second, func() bool {
		data, err := os.ReadFile(portsFile)
		return err == nil && json.Unmarshal(data, &ports) == nil && len(ports.Nats) > 0 && len(ports.Cluster) > 0
	}, func() string { return "the reference server wrote no ports file" })
	return ports.Nats[0], strings.Replace(ports.Cluster[0], "nats://", "nats-route://", 1)
}

func TestInteropWithReferenceServer(t *testing.T) {
	a := startNode(t, "midge-a", nil)
	refClient, refRoute := startReference(t, a.ClusterURL())
	// A second midge seeded with the reference server alone finds a
	// through the reference server's gossip.
	c := startNode(t, "midge-c", []string{refRoute})
	waitFor(t, 10*time.Second, func() bool { return a.NumRoutes() == 2 && c.NumRoutes() == 2 }, func() string {
		return fmt.Sprintf("a has %d routes, c %d", a.NumRoutes(), c.NumRoutes())
	})

	ref, err := nats.Connect(refClient, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ncA, ncC := connect(t, a), connect(t, c)

	// Plain subscribers on every server, messages with headers from each.
	subs := map[string]*nats.Subscription{}
	for name, nc := range map[string]*nats.Conn{"a": ncA, "c": ncC, "ref": ref} {
		subs[name], _ = nc.SubscribeSync("interop.>")
		nc.Flush()
	}
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) == 2 && routeSubs(c) == 2 }, nil)
	time.Sleep(200 * time.Millisecond) // the reference server's view of midge's interest
	for name, nc := range map[string]*nats.Conn{"a": ncA, "c": ncC, "ref": ref} {
		m := nats.NewMsg("interop." + name)
		m.Header.Set("From", name)
		m.Data = []byte(name)
		nc.PublishMsg(m)
		nc.Flush()
	}
	for name, sub := range subs {
		got := map[string]bool{}
		for i := 0; i < 3; i++ {
			m := nextMsg(t, sub)
			if m.Header.Get("From") != string(m.Data) {
				t.Fatalf("%s: header lost on %q: %v", name, m.Data, m.Header)
			}
			got[string(m.Data)] = true
		}
		if len(got) != 3 {
			t.Fatalf("%s got %v", name, got)
		}
	}

	// Requests from midge answered behind the reference server, and back.
	ref.Subscribe("svc.ref", func(m *nats.Msg) { m.Respond([]byte("ref")) })
	ncC.Subscribe("svc.midge", func(m *nats.Msg) { m.Respond([]byte("midge")) })
	ref.Flush()
	ncC.Flush()
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) == 4 }, nil)
	time.Sleep(200 * time.Millisecond)
	if r, err := ncA.Request("svc.ref", nil, 5*time.Second); err != nil || string(r.Data) != "ref" {
		t.Fatalf("midge → reference: %v %v", r, err)
	}
	if r, err := ref.Request("svc.midge", nil, 5*time.Second); err != nil || string(r.Data) != "midge" {
		t.Fatalf("reference → midge: %v %v", r, err)
	}

	// A queue group over the three servers: each message once.
	got := make(chan string, 1000)
	for _, nc := range []*nats.Conn{ncA, ncC, ref} {
		nc.QueueSubscribe("interop.q", "g", func(m *nats.Msg) { got <- string(m.Data) })
		nc.Flush()
	}
	// a holds, from each peer, interop.>, its service and its queue member,
	// plus the reference client's response inbox (_INBOX.<id>.*) from its
	// request above: seven.
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) == 7 }, func() string {
		return fmt.Sprintf("a holds %d route subscriptions, want 7", routeSubs(a))
	})
	time.Sleep(200 * time.Millisecond)
	const total = 300
	for i := 0; i < total; i++ {
		[]*nats.Conn{ncA, ref}[i%2].Publish("interop.q", []byte(fmt.Sprint(i)))
	}
	ncA.Flush()
	ref.Flush()
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < total {
		select {
		case d := <-got:
			if seen[d] {
				t.Fatalf("%s delivered twice", d)
			}
			seen[d] = true
		case <-deadline:
			t.Fatalf("%d of %d queue messages delivered", len(seen), total)
		}
	}
	select {
	case d := <-got:
		t.Fatalf("extra delivery of %s", d)
	case <-time.After(300 * time.Millisecond):
	}

	// midge clients learn the reference server's client URL.
	if urls := ncA.DiscoveredServers(); len(urls) != 2 {
		t.Fatalf("a's client discovered %v", urls)
	}
}
