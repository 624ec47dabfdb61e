package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/internal/testtools"
)

// TestNatsWS runs nats.ws, the NATS client of browsers, under node against
// midge's websocket listener, with a Go TCP client on the other side:
// when node and the script's npm dependencies are installed (.ci/run
// installs them; locally: npm install in cmd/midge/testdata/natsws).
func TestNatsWS(t *testing.T) {
	dir := filepath.Join("testdata", "natsws")
	node := testtools.NodeModule(t, dir, "nats.ws")
	port := freePort(t)
	conf := writeConfig(t, fmt.Sprintf("websocket { listen: \"127.0.0.1:%d\", no_tls: true }\n", port))
	c := startMidge(t, "-js", "-sd", t.TempDir(), "-c", conf)
	nc, err := nats.Connect(c.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Subscribe("svc.upper", func(m *nats.Msg) { m.Respond([]byte(strings.ToUpper(string(m.Data)))) })
	done, _ := nc.SubscribeSync("ws.done")
	nc.Flush()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--experimental-websocket", filepath.Join(dir, "ws.mjs"),
		fmt.Sprintf("ws://127.0.0.1:%d", port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nats.ws script failed: %v\n%s", err, out)
	}
	if m, err := done.NextMsg(5 * time.Second); err != nil || string(m.Data) != "ok" {
		t.Fatalf("the TCP side did not hear from nats.ws: %v", err)
	}
	t.Logf("%s", out)
}
