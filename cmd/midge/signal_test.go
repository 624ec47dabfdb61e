package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
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
)

// Signals and lame duck mode against a running midge process.

// proc is a child midge whose log lines the test can wait for.
type proc struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	lines   []string
	newLine chan struct{}
	done    chan struct{}
	err     error

	url, monitor string // from the startup line
}

var (
	startupRe = regexp.MustCompile(`midge started.*"listen": "([^"]+)".*"monitor": "([^"]+)"`)
	waitLimit = 10 * time.Second
)

// startProc runs bin (midge, or this test binary acting as midge) with a
// free client and monitoring port on loopback.
func startProc(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{newLine: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"-a", "127.0.0.1", "-p", "0", "-m", "-1"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.newLine <- struct{}{}:
			default:
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	m := p.waitLine(t, startupRe)
	p.url, p.monitor = "nats://"+m[1], "http://"+m[2]
	return p
}

// waitLine waits for a log line matching re and returns its submatches.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(waitLimit)
	for seen := 0; ; {
		p.mu.Lock()
		lines := p.lines[seen:]
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		select {
		case <-p.newLine:
		case <-p.done:
			// Drain what the last read delivered, then give up.
			p.mu.Lock()
			rest := p.lines[seen:]
			p.mu.Unlock()
			for _, l := range rest {
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			}
			t.Fatalf("midge exited (%v) without logging %q; log:\n%s", p.err, re, p.log())
		case <-deadline:
			t.Fatalf("no log line %q; log:\n%s", re, p.log())
		}
	}
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// exitCode waits for the process to end; -1 means killed by a signal.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		t.Fatalf("midge did not exit; log:\n%s", p.log())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

func (p *proc) healthz(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(p.monitor + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signalCmd runs `midge --signal ...` and expects it to succeed.
func signalCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(midgeBin, append([]string{"--signal"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("midge --signal %v: %v: %s", args, err, out)
	}
}

// ldmConn is a client that records the lame duck notice and its close.
type ldmConn struct {
	nc               *nats.Conn
	notified, closed chan struct{}
}

func connectLDM(t *testing.T, url string) *ldmConn {
	t.Helper()
	c := &ldmConn{notified: make(chan struct{}), closed: make(chan struct{})}
	nc, err := nats.Connect(url, nats.MaxReconnects(0),
		nats.LameDuckModeHandler(func(*nats.Conn) { close(c.notified) }),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	return c
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestSignalLameDuckThroughPidFile(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "midge.pid")
	p := startProc(t, midgeBin, nil, "-P", pidFile,
		"--lame_duck_duration", "1s", "--lame_duck_grace_period", "300ms")
	a, b := connectLDM(t, p.url), connectLDM(t, p.url)
	if code := p.healthz(t); code != http.StatusOK {
		t.Fatalf("healthz before: %d", code)
	}

	signalCmd(t, "ldm", "-P", pidFile)
	waitClosed(t, a.notified, "lame duck notice (a)")
	waitClosed(t, b.notified, "lame duck notice (b)")
	p.waitLine(t, regexp.MustCompile(`entering lame duck mode`))
	if code := p.healthz(t); code != http.StatusInternalServerError {
		t.Fatalf("healthz in lame duck mode: %d", code)
	}
	if _, err := nats.Connect(p.url, nats.MaxReconnects(0)); err == nil {
		t.Fatal("a new client connected in lame duck mode")
	}
	waitClosed(t, a.closed, "close (a)")
	waitClosed(t, b.closed, "close (b)")
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.log())
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}

func TestSIGUSR2LameDuckIgnoresSIGTERM(t *testing.T) {
	p := startProc(t, midgeBin, nil, "--lame_duck_duration", "2s", "--lame_duck_grace_period", "500ms")
	c := connectLDM(t, p.url)
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, c.notified, "lame duck notice")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, regexp.MustCompile(`lame duck mode in progress`))
	if !c.nc.IsConnected() && time.Since(start) < 500*time.Millisecond {
		t.Fatal("SIGTERM in lame duck mode dropped the client before the grace period")
	}
	waitClosed(t, c.closed, "close")
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestSignalReopenStartsNewLogFile(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "midge.log")
	cmd := exec.Command(midgeBin, "-a", "127.0.0.1", "-p", "0", "-l", logFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFileHas(t, logFile, "midge started")

	rotated := logFile + ".1"
	if err := os.Rename(logFile, rotated); err != nil {
		t.Fatal(err)
	}
	signalCmd(t, fmt.Sprintf("reopen=%d", cmd.Process.Pid))
	waitFileHas(t, logFile, "log file reopened")
	waitFileHas(t, rotated, "trapped signal")
	if b, _ := os.ReadFile(rotated); strings.Contains(string(b), "log file reopened") {
		t.Fatal("the rotated file still receives lines")
	}
	signalCmd(t, fmt.Sprintf("quit=%d", cmd.Process.Pid))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after quit: %v", err)
	}
	waitFileHas(t, logFile, "midge stopped")
}

// waitFileHas polls a log file (it offers nothing to wait on) until it
// contains want.
func waitFileHas(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q:\n%s", path, want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSignalReloadKeepsConnections(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "midge.pid")
	p := startProc(t, midgeBin, nil, "-P", pidFile)
	nc, err := nats.Connect(p.url, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("reload.check")
	if err != nil {
		t.Fatal(err)
	}
	signalCmd(t, "reload="+pidFile)
	p.waitLine(t, regexp.MustCompile(`configuration reloaded, nothing changed`))
	if err := nc.Publish("reload.check", []byte("alive")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(waitLimit); err != nil || string(m.Data) != "alive" {
		t.Fatalf("after reload: %v %v", m, err)
	}
	signalCmd(t, "stop="+pidFile)
	if code := p.exitCode(t); code != -1 {
		t.Fatalf("stop: exit %d, want killed", code)
	}
}

func TestSignalCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--signal", "bogus=1"}, "unknown signal"},
		{[]string{"--signal", "ldm"}, "no process given"},
		{[]string{"--signal", "reload=" + filepath.Join(t.TempDir(), "none.pid")}, "reading pid file"},
		{[]string{"--signal", "quit=0"}, "invalid pid"},
	} {
		_, stderr, code := runMidge(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: code %d, stderr %q; want 1 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// argsFileEnv makes this test binary act as midge, reading its command
// line from the named file at start and on every SIGHUP: a configuration
// source that can change, as a configuration file will.
const argsFileEnv = "MIDGE_TEST_ARGS_FILE"

func argsFileSource(path string) configSource {
	return func() (invocation, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return invocation{}, err
		}
		return parseFlags(strings.Fields(string(b)))
	}
}

func TestSIGHUPReloadsChangedConfiguration(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(t.TempDir(), "args")
	base := "-a 127.0.0.1 -p 0 -m -1 "
	writeArgs := func(args string) {
		t.Helper()
		if err := os.WriteFile(argsFile, []byte(args), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeArgs(base)
	p := startProc(t, self, []string{argsFileEnv + "=" + argsFile})
	nc, err := nats.Connect(p.url, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hup := func() {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	writeArgs(base + "-D")
	hup()
	p.waitLine(t, regexp.MustCompile(`configuration reloaded.*Debug=true`))
	// Debug logging is on for what happens next, without a restart.
	second, err := nats.Connect(p.url, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	second.Close()
	p.waitLine(t, regexp.MustCompile(`DEBUG\s+client connected`))

	writeArgs(base + "--no-such-flag")
	hup()
	p.waitLine(t, regexp.MustCompile(`ERROR\s+configuration not reloaded.*no-such-flag`))
	writeArgs("-a 127.0.0.1 -p 4999 -m -1")
	hup()
	p.waitLine(t, regexp.MustCompile(`ERROR\s+configuration not reloaded.*not supported for Port`))

	if !nc.IsConnected() {
		t.Fatal("the first client was dropped by reloads")
	}
	if err := nc.FlushTimeout(waitLimit); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
