package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Users and permissions reloaded from the configuration file on SIGHUP,
// against a running midge and nats.go clients that stay connected.

const usersBefore = `
authorization {
  users = [
    {user: alice, password: a}
    {user: bob, password: b}
  ]
}
`

const usersAfter = `
authorization {
  users = [
    {user: alice, password: a, permissions: {
      publish: {allow: ["ok.>"]}
      subscribe: {allow: ["ok.>"]}
    }}
  ]
}
`

// reloadClient is a nats.go connection that records what the server tells
// it asynchronously.
type reloadClient struct {
	*nats.Conn
	errs         chan error
	disconnected atomic.Int32
	closed       chan struct{}
}

func connectReloadClient(t *testing.T, url, user, pass string) *reloadClient {
	t.Helper()
	rc := &reloadClient{errs: make(chan error, 16), closed: make(chan struct{})}
	nc, err := nats.Connect(url, nats.UserInfo(user, pass), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { rc.errs <- err }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { rc.disconnected.Add(1) }),
		nats.ClosedHandler(func(*nats.Conn) { close(rc.closed) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rc.Conn = nc
	return rc
}

func (rc *reloadClient) expectError(t *testing.T, want string) {
	t.Helper()
	select {
	case err := <-rc.errs:
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("async error %q, want one containing %q", err, want)
		}
	case <-time.After(waitLimit):
		t.Fatalf("no async error (want %q)", want)
	}
}

func TestSIGHUPReloadsUsersAndPermissions(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "midge.conf")
	writeCfg := func(text string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(usersBefore)
	p := startProc(t, midgeBin, nil, "-c", cfgFile)
	hup := func() {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	alice := connectReloadClient(t, p.url, "alice", "a")
	bob := connectReloadClient(t, p.url, "bob", "b")
	okSub, _ := alice.SubscribeSync("ok.x")
	secretSub, _ := alice.SubscribeSync("secret.x")
	if err := alice.FlushTimeout(waitLimit); err != nil {
		t.Fatal(err)
	}

	writeCfg(usersAfter)
	hup()
	p.waitLine(t, regexp.MustCompile(`configuration reloaded.*"changed": \["Auth"\]`))
	select {
	case <-bob.closed:
	case <-time.After(waitLimit):
		t.Fatal("bob, removed from the file, is still connected")
	}
	alice.expectError(t, `Permissions Violation for Subscription to "secret.x"`)
	alice.Publish("secret.x", nil)
	alice.expectError(t, `Permissions Violation for Publish to "secret.x"`)
	alice.Publish("ok.x", []byte("allowed"))
	if m, err := okSub.NextMsg(waitLimit); err != nil || string(m.Data) != "allowed" {
		t.Fatalf("ok.x after reload: %v %v", m, err)
	}

	// A broken file is reported and the permissions in force stay.
	writeCfg(usersAfter + "\nauthorization {\n")
	hup()
	p.waitLine(t, regexp.MustCompile(`ERROR\s+configuration not reloaded`))
	alice.Publish("secret.x", nil)
	alice.expectError(t, `Permissions Violation for Publish to "secret.x"`)

	if err := alice.FlushTimeout(waitLimit); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := secretSub.Pending(); n != 0 || alice.disconnected.Load() != 0 || alice.Reconnects != 0 {
		t.Fatalf("alice: %d on the removed subscription, %d disconnects, %d reconnects",
			n, alice.disconnected.Load(), alice.Reconnects)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
