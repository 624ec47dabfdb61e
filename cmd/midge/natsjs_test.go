package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"
)

// TestNatsJS runs a small nats.js script (publish, consume, KV) against a
// real midge with node, when node and the script's npm dependencies are
// installed (.ci/run installs them; locally: npm install in
// cmd/midge/testdata/natsjs).
func TestNatsJS(t *testing.T) {
	dir := filepath.Join("testdata", "natsjs")
	node := testtools.NodeModule(t, dir, "nats")
	c := startMidge(t, "-js", "-sd", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "smoke.mjs"), c.url()).CombinedOutput()
	if err != nil {
		t.Fatalf("nats.js script failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
