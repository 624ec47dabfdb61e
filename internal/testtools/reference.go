package testtools

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReferenceInstall is how the reference server is installed.
const ReferenceInstall = "go install github.com/nats-io/nats-server/v2@v2.15.2"

// Reference is a reference nats-server run as a child process on a free
// loopback port, for tests that check midge against it. It is never a
// dependency of midge's code: a test without it is skipped (or fails under
// MIDGE_REQUIRE_TOOLS=1).
type Reference struct {
	// URL is its client URL.
	URL string
	// StoreDir is its JetStream store directory (with -js).
	StoreDir string

	bin  string
	args []string
	dir  string
	cmd  *exec.Cmd
	t    testing.TB
}

// StartReference starts the reference server on a free loopback port with
// the extra command-line args (e.g. "-js", "-c", file); with "-js" it
// stores under a fresh directory. It is stopped when the test ends.
func StartReference(t testing.TB, args ...string) *Reference {
	t.Helper()
	r := &Reference{bin: GoBinary(t, "nats-server", ReferenceInstall), args: args, dir: t.TempDir(), t: t}
	r.StoreDir = filepath.Join(r.dir, "store")
	r.start()
	t.Cleanup(r.Stop)
	return r
}

func (r *Reference) start() {
	r.t.Helper()
	log := filepath.Join(r.dir, "ref.log")
	port := "-1"
	if r.URL != "" { // a restart keeps the port, so that clients reconnect
		port = r.URL[strings.LastIndexByte(r.URL, ':')+1:]
	}
	args := append([]string{"-a", "127.0.0.1", "-p", port, "-n", "reference",
		"--ports_file_dir", r.dir, "-l", log}, r.args...)
	for _, a := range r.args {
		if a == "-js" || a == "--jetstream" {
			args = append(args, "-sd", r.StoreDir)
			break
		}
	}
	r.cmd = exec.Command(r.bin, args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting the reference server: %v", err)
	}
	portsFile := filepath.Join(r.dir, fmt.Sprintf("nats-server_%d.ports", r.cmd.Process.Pid))
	var ports struct {
		Nats []string `json:"nats"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(portsFile)
		if err == nil && json.Unmarshal(data, &ports) == nil && len(ports.Nats) > 0 {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log)
			r.Stop()
			r.t.Fatalf("the reference server wrote no ports file:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = os.Remove(portsFile) // a restart writes a new one
	r.URL = ports.Nats[0]
	if strings.Contains(r.URL, "0.0.0.0") {
		r.URL = strings.Replace(r.URL, "0.0.0.0", "127.0.0.1", 1)
	}
}

// Stop kills the server (SIGKILL) and waits for it; later calls do nothing.
func (r *Reference) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
	if r.t.Failed() {
		if out, err := os.ReadFile(filepath.Join(r.dir, "ref.log")); err == nil {
			r.t.Logf("reference server log (tail):\n%s", tail(string(out), 4000))
		}
	}
}

// Restart stops the server cleanly (SIGTERM) and starts it again on the
// same port and store directory.
func (r *Reference) Restart() {
	r.t.Helper()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
		r.cmd = nil
	}
	r.start()
}

// Log returns what the server logged so far.
func (r *Reference) Log() string {
	out, _ := os.ReadFile(filepath.Join(r.dir, "ref.log"))
	return string(out)
}
