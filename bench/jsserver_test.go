package bench

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/internal/testtools"
)

// natsServerJS starts the reference nats-server with JetStream as a child
// process on a free loopback port; without it the test is skipped (or fails
// under MIDGE_REQUIRE_TOOLS=1). The server and its store go away with the test.
func natsServerJS(t *testing.T) string {
	t.Helper()
	bin := testtools.GoBinary(t, "nats-server", "go install github.com/nats-io/nats-server/v2@v2.15.2")
	port := freePort(t)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := nats.Connect(url)
		if err == nil {
			ok, _ := HasJetStream(nc, time.Second)
			nc.Close()
			if ok {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server on %s not ready: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a child process's readiness: no signal exists
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
