package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNatsJS runs a small nats.js script (publish, consume, KV) against a
// real midge with node, when node and the script's npm dependencies are
// installed (.ci/run installs them; locally: npm install in
// cmd/midge/testdata/natsjs).
func TestNatsJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: skipping the nats.js client test")
	}
	dir := filepath.Join("testdata", "natsjs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "nats")); err != nil {
		t.Skip("nats.js not installed: run `npm install` in cmd/midge/testdata/natsjs to run this test")
	}
	c := startMidge(t, "-js", "-sd", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "smoke.mjs"), c.url()).CombinedOutput()
	if err != nil {
		t.Fatalf("nats.js script failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
