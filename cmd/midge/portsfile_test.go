package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// portsOf waits for the ports file of a child midge and decodes it.
func portsOf(t *testing.T, dir string, pid int) map[string][]string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("midge_%d.ports", pid))
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var ports map[string][]string
			if err := json.Unmarshal(data, &ports); err != nil {
				t.Fatalf("ports file %s: %v (%q)", path, err, data)
			}
			return ports
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ports file %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkListeners connects to every URL the ports file lists; with
// protocols it also requires the WebSocket and MQTT listeners.
func checkListeners(t *testing.T, ports map[string][]string, protocols bool) {
	t.Helper()
	if protocols && (len(ports["websocket"]) == 0 || len(ports["mqtt"]) == 0) {
		t.Fatalf("ports file lacks websocket/mqtt: %v", ports)
	}
	for _, u := range ports["mqtt"] {
		c, err := net.Dial("tcp", strings.TrimPrefix(u, "mqtt://"))
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		c.Close()
	}
	if len(ports["nats"]) == 0 || len(ports["monitoring"]) == 0 {
		t.Fatalf("ports file lacks listeners: %v", ports)
	}
	for _, u := range append(ports["nats"], ports["websocket"]...) {
		nc, err := nats.Connect(u, nats.MaxReconnects(0))
		if err != nil {
			t.Fatalf("connect %s: %v", u, err)
		}
		nc.Close()
	}
	for _, u := range ports["monitoring"] {
		resp, err := http.Get(u + "/varz")
		if err != nil {
			t.Fatalf("GET %s/varz: %v", u, err)
		}
		var varz struct {
			Port     int `json:"port"`
			HTTPPort int `json:"http_port"`
		}
		json.NewDecoder(resp.Body).Decode(&varz)
		resp.Body.Close()
		if varz.Port <= 0 || varz.HTTPPort <= 0 || !strings.HasSuffix(ports["nats"][0], fmt.Sprintf(":%d", varz.Port)) {
			t.Fatalf("/varz reports client port %d, http port %d; ports file %v", varz.Port, varz.HTTPPort, ports)
		}
	}
}

// runWithPorts starts the binary, waits for its ports file and stops it.
func runWithPorts(t *testing.T, dir string, protocols bool, args ...string) {
	t.Helper()
	cmd := exec.Command(midgeBin, args...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	checkListeners(t, portsOf(t, dir, cmd.Process.Pid), protocols)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitCmd(cmd); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs)
	}
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("midge_%d.ports", cmd.Process.Pid))); !os.IsNotExist(err) {
		t.Fatalf("ports file left behind after shutdown: %v", err)
	}
	if strings.Count(logs.String(), "ignoring nats-server options") > 1 {
		t.Fatalf("harness keys warned more than once:\n%s", logs)
	}
}

func TestRandomPortsAndPortsFileFlags(t *testing.T) {
	dir := t.TempDir()
	runWithPorts(t, dir, false, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--ports_file_dir", dir)
}

func TestRandomPortsAndPortsFileConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "harness.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`listen: "127.0.0.1:-1"
http: "127.0.0.1:-1"
ports_file_dir: %q
server_tags: ["region:test"]
leafnodes { listen: "127.0.0.1:-1" }
cluster { name: c1, listen: "127.0.0.1:-1" }
websocket { listen: "127.0.0.1:-1", no_tls: true }
mqtt { listen: "127.0.0.1:-1" }
`, dir)), 0o644)
	runWithPorts(t, dir, true, "-c", conf)

	// Tolerated keys stay a warning; a misspelt key is still an error.
	out, err := exec.Command(midgeBin, "-t", "-c", conf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "does not implement yet: leafnodes") {
		t.Fatalf("-t: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("port: -1\nserver_tagz: [x]\n"), 0o644)
	if out, err := exec.Command(midgeBin, "-t", "-c", bad).CombinedOutput(); err == nil || !strings.Contains(string(out), "server_tagz") {
		t.Fatalf("misspelt key accepted: %s", out)
	}
}

// waitCmd waits (bounded) for a command to exit.
func waitCmd(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return fmt.Errorf("did not exit")
	}
}
