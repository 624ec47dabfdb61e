package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/internal/testtools"
)

// These tests run the real binary as a child process.

var midgeBin string

func TestMain(m *testing.M) {
	if path := os.Getenv(argsFileEnv); path != "" {
		os.Exit(runFrom(argsFileSource(path))) // acting as midge for a reload test
	}
	dir, err := os.MkdirTemp("", "midge-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	midgeBin = filepath.Join(dir, "midge")
	build := exec.Command("go", "build", "-o", midgeBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building midge:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// child is a running midge process.
type child struct {
	cmd  *exec.Cmd
	addr string // host:port from the startup line
	logs *bytes.Buffer
	done chan error
}

var listenRe = regexp.MustCompile(`"listen": "([^"]+)"`)

// startMidge starts the binary on a free loopback port and waits for its
// startup log line.
func startMidge(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(midgeBin, append([]string{"-a", "127.0.0.1", "-p", "0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			c.logs.WriteString(line + "\n")
			if m := listenRe.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case c.addr = <-found:
	case <-time.After(10 * time.Second):
		t.Fatalf("midge did not start")
	}
	return c
}

func (c *child) url() string { return "nats://" + c.addr }

func (c *child) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine: say where
		// it hangs.
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.done:
			logs := c.logs.String()
			t.Fatalf("midge did not exit; its goroutines:\n%s", logs[max(0, len(logs)-60000):])
		case <-time.After(5 * time.Second):
			t.Fatal("midge did not exit, nor on SIGQUIT")
		}
		return -1
	}
}

func runMidge(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(midgeBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestVersionAndHelp(t *testing.T) {
	out, _, code := runMidge(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "midge version ") {
		t.Fatalf("--version: code %d, output %q", code, out)
	}
	out, _, code = runMidge(t, "-h")
	if code != 0 || !strings.Contains(out, "--port") {
		t.Fatalf("-h: code %d, output %q", code, out)
	}
}

func TestUnknownFlagExitsTwo(t *testing.T) {
	_, stderr, code := runMidge(t, "--no-such-flag")
	if code != 2 || !strings.Contains(stderr, "no-such-flag") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestPortInUseExitsOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, stderr, code := runMidge(t, "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "address already in use") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestSignalShutdownFlushesAndExitsZero(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "midge.pid")
	c := startMidge(t, "--pid", pidFile)
	pid, err := os.ReadFile(pidFile)
	if err != nil || string(pid) != fmt.Sprint(c.cmd.Process.Pid) {
		t.Fatalf("pid file %q, err %v", pid, err)
	}
	closed := make(chan struct{})
	nc, err := nats.Connect(c.url(), nats.MaxReconnects(0), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, c.logs)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}

func TestStartupLineAndLogFile(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "midge.log")
	cmd := exec.Command(midgeBin, "-a", "127.0.0.1", "-p", "0", "-l", logFile, "-D")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(text, "midge started") {
		if time.Now().After(deadline) {
			t.Fatalf("no startup line in log file: %q", text)
		}
		time.Sleep(10 * time.Millisecond)
		b, _ := os.ReadFile(logFile)
		text = string(b)
	}
	for _, want := range []string{`"version"`, `"listen": "127.0.0.1:`, `"server_id"`} {
		if !strings.Contains(text, want) {
			t.Errorf("startup line lacks %s: %q", want, text)
		}
	}
}

// natsCLI finds natscli; without it the test is skipped (or fails under
// MIDGE_REQUIRE_TOOLS=1).
func natsCLI(t *testing.T) string {
	t.Helper()
	return testtools.GoBinary(t, "nats", "go install github.com/nats-io/natscli/nats@v0.5.0")
}

func TestNatsCLI(t *testing.T) {
	cli := natsCLI(t)
	c := startMidge(t, "-js", "-sd", t.TempDir())
	nats := func(args ...string) *exec.Cmd {
		cmd := exec.Command(cli, append([]string{"--server", c.url(), "--timeout", "5s"}, args...)...)
		cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+t.TempDir())
		return cmd
	}

	// run runs natscli and fails the (sub)test t on an error.
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := nats(args...).CombinedOutput()
		if err != nil {
			t.Fatalf("nats %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	t.Run("pub and sub", func(t *testing.T) {
		sub := nats("sub", "greet.>", "--count", "1", "--raw")
		out := &bytes.Buffer{}
		sub.Stdout = out
		if err := sub.Start(); err != nil {
			t.Fatal(err)
		}
		err := retryUntilExit(t, sub, func() {
			if b, err := nats("pub", "greet.joe", "hello from natscli").CombinedOutput(); err != nil {
				t.Errorf("pub: %v: %s", err, b)
			}
		})
		if err != nil {
			t.Fatalf("sub: %v", err)
		}
		if got := strings.TrimSpace(out.String()); got != "hello from natscli" {
			t.Fatalf("sub printed %q", got)
		}
	})

	t.Run("reply and request", func(t *testing.T) {
		rep := nats("reply", "svc.time", "it is now", "--count", "1")
		if err := rep.Start(); err != nil {
			t.Fatal(err)
		}
		var answer []byte
		err := retryUntilExit(t, rep, func() {
			// Says "no responders" (exit status 0!) until the replier
			// has subscribed; keep the first real answer.
			if out, err := nats("request", "svc.time", "what time", "--raw").CombinedOutput(); err == nil &&
				strings.Contains(string(out), "it is now") {
				answer = out
			}
		})
		// `nats reply --count 1` exits 1 after answering, against
		// nats-server too, so only a timeout counts as failure here.
		if err != nil && err.Error() == "timed out" {
			t.Fatalf("reply: %v", err)
		}
		if strings.TrimSpace(string(answer)) != "it is now" {
			t.Fatalf("request printed %q", answer)
		}
	})

	t.Run("streams", func(t *testing.T) {
		run(t, "stream", "add", "ORDERS", "--subjects", "orders.>", "--defaults")
		run(t, "pub", "orders.new", "first order")
		run(t, "request", "orders.new", "second order") // the PubAck is the reply
		info := run(t, "stream", "info", "ORDERS")
		for _, want := range []string{"Messages: 2", "orders.>", "Last Sequence: 2"} {
			if !strings.Contains(info, want) {
				t.Errorf("stream info lacks %q:\n%s", want, info)
			}
		}
		if ls := run(t, "stream", "ls"); !strings.Contains(ls, "ORDERS") {
			t.Errorf("stream ls:\n%s", ls)
		}
		if got := run(t, "stream", "get", "ORDERS", "2"); !strings.Contains(got, "second order") {
			t.Errorf("stream get:\n%s", got)
		}
		run(t, "stream", "purge", "ORDERS", "-f")
		if info := run(t, "stream", "info", "ORDERS", "--json"); !strings.Contains(info, `"messages": 0`) {
			t.Errorf("after purge:\n%s", info)
		}
		run(t, "stream", "rm", "ORDERS", "-f")
		if ls := run(t, "stream", "ls", "--names"); strings.Contains(ls, "ORDERS") {
			t.Errorf("stream still listed after rm:\n%s", ls)
		}
	})

	t.Run("consumers, kv and object store", func(t *testing.T) {
		run(t, "stream", "add", "JOBS", "--subjects", "jobs.>", "--defaults")
		run(t, "pub", "jobs.1", "first job")
		run(t, "consumer", "add", "JOBS", "WORKER", "--pull", "--defaults")
		if info := run(t, "consumer", "info", "JOBS", "WORKER"); !strings.Contains(info, "Unprocessed Messages: 1") {
			t.Errorf("consumer info:\n%s", info)
		}
		if next := run(t, "consumer", "next", "JOBS", "WORKER", "--raw"); strings.TrimSpace(next) != "first job" {
			t.Errorf("consumer next: %q", next)
		}
		if ls := run(t, "consumer", "ls", "JOBS"); !strings.Contains(ls, "WORKER") {
			t.Errorf("consumer ls:\n%s", ls)
		}

		run(t, "kv", "add", "CFG", "--history", "5")
		run(t, "kv", "put", "CFG", "color", "blue")
		run(t, "kv", "put", "CFG", "color", "green")
		if got := run(t, "kv", "get", "CFG", "color", "--raw"); strings.TrimSpace(got) != "green" {
			t.Errorf("kv get: %q", got)
		}
		if hist := run(t, "kv", "history", "CFG", "color"); !strings.Contains(hist, "blue") || !strings.Contains(hist, "green") {
			t.Errorf("kv history:\n%s", hist)
		}
		if ls := run(t, "kv", "ls"); !strings.Contains(ls, "CFG") {
			t.Errorf("kv ls:\n%s", ls)
		}
		run(t, "kv", "del", "CFG", "color", "-f")
		if out, err := nats("kv", "get", "CFG", "color").CombinedOutput(); err == nil {
			t.Errorf("deleted key still readable: %s", out)
		}
		watch := nats("kv", "watch", "CFG")
		watchOut := &syncBuffer{}
		watch.Stdout = watchOut
		if err := watch.Start(); err != nil {
			t.Fatal(err)
		}
		err := retryUntilExit(t, watch, func() {
			run(t, "kv", "put", "CFG", "shape", "round")
			if strings.Contains(watchOut.String(), "round") {
				watch.Process.Kill()
			}
		})
		if !strings.Contains(watchOut.String(), "shape") {
			t.Errorf("kv watch saw nothing (%v):\n%s", err, watchOut)
		}

		file := filepath.Join(t.TempDir(), "payload.bin")
		payload := bytes.Repeat([]byte("midge object store "), 50000) // ~1 MB
		os.WriteFile(file, payload, 0o644)
		run(t, "object", "add", "FILES")
		run(t, "object", "put", "FILES", file, "--name", "payload.bin")
		if ls := run(t, "object", "ls", "FILES"); !strings.Contains(ls, "payload.bin") {
			t.Errorf("object ls:\n%s", ls)
		}
		outFile := filepath.Join(t.TempDir(), "out.bin")
		run(t, "object", "get", "FILES", "payload.bin", "--output", outFile)
		if got, err := os.ReadFile(outFile); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("object get returned %d bytes (%v)", len(got), err)
		}
	})

	t.Run("request with no responders", func(t *testing.T) {
		out, _ := nats("request", "nobody.home", "x").CombinedOutput()
		if !strings.Contains(string(out), "No responders are available") {
			t.Fatalf("output %q", out)
		}
	})
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// retryUntilExit runs attempt every 50 ms until cmd exits: the CLI gives
// no signal that it has subscribed, so the test polls by trying.
func retryUntilExit(t *testing.T, cmd *exec.Cmd, attempt func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			_ = cmd.Process.Kill()
			return errors.New("timed out")
		case <-tick.C:
			attempt()
		}
	}
}

func TestConfigFileRunsServer(t *testing.T) {
	path := writeConfig(t, `
authorization { users: [ {user: a, password: pa, permissions: {publish: "ok.>"}} ] }
max_subscriptions: 1
`)
	c := startMidge(t, "-c", path)
	if _, err := nats.Connect(c.url(), nats.MaxReconnects(0)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect without credentials: %v", err)
	}
	nc, err := nats.Connect(c.url(), nats.UserInfo("a", "pa"), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("ok.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestBadConfigFileExitsOne(t *testing.T) {
	path := writeConfig(t, "port: 4222\nmax_payloda: 5\n")
	_, stderr, code := runMidge(t, "-c", path)
	if code != 1 || !strings.Contains(stderr, path+`:2: max_payloda: unknown configuration key`) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "Usage") {
		t.Fatalf("a configuration error printed the usage: %q", stderr)
	}
}

func TestCheckConfig(t *testing.T) {
	good := writeConfig(t, "authorization { token: t }\n")
	out, _, code := runMidge(t, "-t", "-c", good)
	if code != 0 || !strings.Contains(out, "is valid") {
		t.Fatalf("-t on a good file: code %d, %q", code, out)
	}
	// Parses, but the server refuses it: a token and users together.
	bad := writeConfig(t, "authorization { token: t, users: [ {user: a, password: b} ] }\n")
	if _, stderr, code := runMidge(t, "-t", "-c", bad); code != 1 || !strings.Contains(stderr, "token") {
		t.Fatalf("-t on a bad file: code %d, %q", code, stderr)
	}
}

// -t fails on every kind of configuration mistake, saying where it is.
func TestCheckConfigNamesFileLineAndKey(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"stray brace", "port: 4222\n}\n", `:2:1: unexpected '}'`},
		{"missing brace", "port: 4222\njetstream {\n  store_dir: /tmp/x\n", `:2:11: the { opened here for "jetstream" is never closed`},
		{"type error", "jetstream {\n  max_file: \"lots\"\n}\n", `:2: jetstream.max_file: expected a size`},
		{"unknown key", "port: 4222\nwebsocket { port: 8080, no_tls: true, origins: x }\n", `:2: websocket.origins: unknown configuration key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			stdout, stderr, code := runMidge(t, "-t", "-c", path)
			if code != 1 || !strings.Contains(stderr, path+tc.want) || strings.Contains(stdout, "is valid") {
				t.Fatalf("code %d, stdout %q, stderr %q; want %q", code, stdout, stderr, path+tc.want)
			}
		})
	}

	dir := t.TempDir()
	main, users := filepath.Join(dir, "midge.conf"), filepath.Join(dir, "users.conf")
	os.WriteFile(main, []byte("authorization {\n  include users.conf\n}\n"), 0o600)
	os.WriteFile(users, []byte("users: [\n  {user: a, pasword: b}\n]\n"), 0o600)
	_, stderr, code := runMidge(t, "-t", "-c", main)
	if want := users + `:2: authorization.users[0].pasword: unknown configuration key (did you mean "password"?)`; code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("included file: code %d, stderr %q; want %q", code, stderr, want)
	}
}
