// Package testtools owns how midge's tests find the outside programs some of
// them drive — Chromium, the reference nats-server, natscli, node packages,
// the mosquitto clients — and what a test does when one is missing: it is
// skipped with a message naming the install command, or, when the
// environment variable MIDGE_REQUIRE_TOOLS=1 is set (CI sets it), it fails,
// so that a run cannot skip a test unnoticed. It also holds the headless
// Chromium helpers (DOM dumps, screenshots and their pixel checks) that the
// browser tests of several packages share. Only test code imports it.
package testtools

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RequireEnv names the environment variable that turns a missing tool
// from a skipped test into a failed one.
const RequireEnv = "MIDGE_REQUIRE_TOOLS"

// Required reports whether missing tools fail tests instead of skipping them.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Missing ends the test because something it needs is not installed:
// skipped normally, failed under MIDGE_REQUIRE_TOOLS=1. why should say what
// is missing and how to install it.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (%s=1: a missing tool fails the test)", why, RequireEnv)
		return
	}
	t.Skip(why)
}

// Command returns the path of an executable found on PATH, or ends the test
// through Missing with the install hint.
func Command(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Missing(t, name+" is not installed ("+install+")")
	return ""
}

// GoBinary returns the path of a program installed with `go install`: on
// PATH or in $(go env GOPATH)/bin. It ends the test through Missing when
// there is none.
func GoBinary(t testing.TB, name, install string) string {
	t.Helper()
	if p := FindGoBinary(name); p != "" {
		return p
	}
	Missing(t, name+" is not installed ("+install+")")
	return ""
}

// FindGoBinary is GoBinary without the test: "" when the program is absent.
func FindGoBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if dir := goBinDir(); dir != "" {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

var (
	goBinOnce sync.Once
	goBin     string
)

// goBinDir is $(go env GOPATH)/bin, asked of the go command once.
func goBinDir() string {
	goBinOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
			goBin = strings.TrimSpace(lines[0])
			return
		}
		if len(lines) > 1 {
			// GOPATH may list several directories; go install uses the first.
			first := filepath.SplitList(strings.TrimSpace(lines[1]))
			if len(first) > 0 && first[0] != "" {
				goBin = filepath.Join(first[0], "bin")
			}
		}
	})
	return goBin
}

// NodeModule returns node's path when node is installed and dir (a test's
// npm project) has module installed in its node_modules; otherwise it ends
// the test through Missing.
func NodeModule(t testing.TB, dir, module string) string {
	t.Helper()
	node := Command(t, "node", "apt-get install nodejs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", module)); err != nil {
		Missing(t, module+" is not installed: run `npm ci` in "+dir)
	}
	return node
}
