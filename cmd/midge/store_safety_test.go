package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"
)

// streamDir is where a real midge keeps stream name of the global account.
func streamDir(storeDir, name string) string {
	return filepath.Join(storeDir, "jetstream", "$G", "streams", name)
}

// natsAt returns a runner of natscli against c that fails t on an error,
// and one that returns the output and error for the caller to judge.
func natsAt(t *testing.T, c *child) (run func(args ...string) string, try func(args ...string) (string, error)) {
	t.Helper()
	cli := natsCLI(t)
	home := t.TempDir()
	try = func(args ...string) (string, error) {
		cmd := exec.Command(cli, append([]string{"--server", c.url(), "--timeout", "5s"}, args...)...)
		cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+home)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run = func(args ...string) string {
		t.Helper()
		out, err := try(args...)
		if err != nil {
			t.Fatalf("nats %v: %v\n%s", args, err, out)
		}
		return out
	}
	return run, try
}

// TestRecreateStreamWithDamagedMetaKeepsData follows issue 14's report with
// natscli: a stream whose two meta copies are damaged is left unopened at
// start; `nats stream add` with a configuration that cannot hold its
// messages is refused with an error that names the problem and no server
// path, and one that can hold them adopts all of them.
func TestRecreateStreamWithDamagedMetaKeepsData(t *testing.T) {
	dir := t.TempDir()
	c := startMidge(t, "-js", "-sd", dir)
	run, _ := natsAt(t, c)
	run("stream", "add", "KEEP", "--subjects", "keep.>", "--defaults")
	run("pub", "keep.a", "message {{Count}}", "--count", "100")
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)

	for _, name := range []string{"meta.json", "meta.bak"} {
		if err := os.WriteFile(filepath.Join(streamDir(dir, "KEEP"), name), []byte("damaged"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c = startMidge(t, "-js", "-sd", dir)
	run, try := natsAt(t, c)
	out, err := try("stream", "add", "KEEP", "--subjects", "keep.b", "--defaults")
	if err == nil || !strings.Contains(out, `subject "keep.a"`) || strings.Contains(out, dir) {
		t.Fatalf("incompatible re-create: err=%v\n%s", err, out)
	}
	if blocks, _ := filepath.Glob(filepath.Join(streamDir(dir, "KEEP"), "blocks", "*.blk")); len(blocks) == 0 {
		t.Fatal("the refused create removed the stored blocks")
	}
	run("stream", "add", "KEEP", "--subjects", "keep.>", "--defaults")
	info := run("stream", "info", "KEEP")
	for _, want := range []string{"Messages: 100", "Last Sequence: 100"} {
		if !strings.Contains(info, want) {
			t.Fatalf("adopted stream info lacks %q:\n%s", want, info)
		}
	}
	if got := run("pub", "keep.a", "after", "--count", "1"); !strings.Contains(got, "Published") {
		t.Logf("pub: %s", got)
	}
	if info := run("stream", "info", "KEEP"); !strings.Contains(info, "Last Sequence: 101") {
		t.Fatalf("publish after adoption:\n%s", info)
	}
}

// TestCrashNeverReusesSequenceAfterLostTail follows issue 14's report with
// a real process: publish 5,000, a clean restart, SIGKILL, the last 40
// bytes of the block damaged (the final record lost), restart without an
// index file: the next publish must get a sequence never handed out
// before (it used to get 5,000 again).
func TestCrashNeverReusesSequenceAfterLostTail(t *testing.T) {
	dir := t.TempDir()
	c := startMidge(t, "-js", "-sd", dir)
	nc, js := crashClient(t, c)
	ctx := testCtx(t)
	var last uint64
	for i := 0; i < 5000; i++ {
		f, err := js.PublishAsync("crash.tail", []byte(strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 4999 {
			select {
			case ack := <-f.Ok():
				last = ack.Sequence
			case err := <-f.Err():
				t.Fatal(err)
			case <-ctx.Done():
				t.Fatal("no ack")
			}
		}
	}
	nc.Close()
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)

	c = startMidge(t, "-js", "-sd", dir) // loads and removes the index file
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait(t)
	blocks, _ := filepath.Glob(filepath.Join(streamDir(dir, "CRASH"), "blocks", "*.blk"))
	if len(blocks) == 0 {
		t.Fatal("no block files")
	}
	f, err := os.OpenFile(blocks[len(blocks)-1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	f.WriteAt(make([]byte, 40), info.Size()-40)
	f.Close()

	c = startMidge(t, "-js", "-sd", dir)
	nc, js = crashClient(t, c)
	defer nc.Close()
	ack, err := js.Publish(ctx, "crash.tail", []byte("next"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Sequence <= last {
		t.Fatalf("publish after the lost tail got sequence %d; %d was acknowledged before", ack.Sequence, last)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it when the test ends; it skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testtools.Missing(t, "mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).CombinedOutput(); err != nil {
		testtools.Missing(t, fmt.Sprintf("cannot mount a tmpfs: %v: %s", err, out))
	}
	t.Cleanup(func() {
		// The killed server may still be exiting and holding files open.
		var out []byte
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFullPublishesAreNotCounted fills a real (small) filesystem: the
// publishes that fail are refused with a text that names no server path,
// and the stream's info counts exactly the acknowledged messages (it used
// to count the failed one in last_seq and messages).
func TestDiskFullPublishesAreNotCounted(t *testing.T) {
	dir := mountTmpfs(t, 2<<20)
	c := startMidge(t, "-js", "-sd", dir)
	nc, js := crashClient(t, c)
	defer nc.Close()
	ctx := testCtx(t)
	payload := make([]byte, 8<<10)
	var acked uint64
	var failure error
	for i := 0; i < 1000 && failure == nil; i++ {
		ack, err := js.Publish(ctx, "crash.full", payload)
		if err != nil {
			failure = err
			break
		}
		acked = ack.Sequence
	}
	if failure == nil {
		t.Fatal("a 2 MB filesystem took 8 MB of messages")
	}
	if strings.Contains(failure.Error(), dir) || strings.Contains(failure.Error(), "/streams/") {
		t.Fatalf("the publish error shows a server path: %v", failure)
	}
	t.Logf("%d acknowledged; then: %v", acked, failure)
	for i := 0; i < 3; i++ { // more refusals, the stream still poisoned or full again
		if ack, err := js.Publish(ctx, "crash.full", payload); err == nil {
			acked = ack.Sequence
		}
	}
	st, err := js.Stream(ctx, "CRASH")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != acked || info.State.Msgs != acked {
		t.Fatalf("stream info counts %d messages up to seq %d; %d were acknowledged", info.State.Msgs, info.State.LastSeq, acked)
	}
}

// TestSecondProcessOnOneStoreExits: two midge processes on one store
// directory would both write sequences 1.. into the same block file (and
// lose acknowledged messages); the second one exits 1 naming the directory
// and the first one's process id. Once the first dies, even by SIGKILL,
// the directory is free again.
func TestSecondProcessOnOneStoreExits(t *testing.T) {
	dir := t.TempDir()
	first := startMidge(t, "-js", "-sd", dir)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, midgeBin, "-a", "127.0.0.1", "-p", "0", "-js", "-sd", dir)
	out, err := second.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the second process kept running on a store in use:\n%s", out)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	want := fmt.Sprintf("store directory %s is in use by process %d", dir, first.cmd.Process.Pid)
	if !strings.Contains(string(out), want) {
		t.Fatalf("second process said:\n%s\nwant %q", out, want)
	}

	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)
	third := startMidge(t, "-js", "-sd", dir)
	third.cmd.Process.Signal(syscall.SIGTERM)
	if code := third.wait(t); code != 0 {
		t.Fatalf("a process after the first died exited %d:\n%s", code, third.logs)
	}
}
