package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"
	"github.com/nats-io/nats.go/jetstream"
)

// TestPowerLossKeepsAckedMessages simulates a power cut under a real midge
// process: its store lives on an ext4 file system in a loop-mounted image.
// While publishes are in flight the server is frozen (SIGSTOP), the acks
// received by then are taken as the promise, and the image file is
// copied: the copy holds exactly what reached the device (what was
// fsynced), not what sat in the file system's page cache, as after a power
// cut. The server is killed, the copy is mounted (ext4 replays its
// journal) and a new server on it must hold every acknowledged message.
// Each round continues on the previous round's copy.
//
// One round by default, SOAK_ROUNDS under `make soak`. It needs root
// (mount) and mkfs.ext4 (see needLoopMount).
func TestPowerLossKeepsAckedMessages(t *testing.T) {
	needLoopMount(t)
	work := t.TempDir()
	image := filepath.Join(work, "store-0.img")
	runTool(t, "truncate", "-s", "512M", image)
	runTool(t, "mkfs.ext4", "-q", "-F", image)

	acked := map[string]uint64{}
	var promisedBefore map[string]uint64
	rounds := soakRounds(1)
	for round := 0; round < rounds; round++ {
		mnt := mountImage(t, image, filepath.Join(work, fmt.Sprintf("mnt-%d", round)))
		c := startMidge(t, "-js", "-sd", filepath.Join(mnt, "store"))
		nc, js := crashClient(t, c)
		if round > 0 {
			verifyPromised(t, js, promisedBefore) // what the previous cut left
		}
		next := filepath.Join(work, fmt.Sprintf("store-%d.img", round+1))
		promised := publishUntilPowerCut(t, c, js, round, 3000, func() {
			runTool(t, "cp", "--sparse=always", image, next)
		})
		nc.Close()
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Process.Signal(syscall.SIGCONT)
		c.wait(t)
		unmount(t, mnt)
		os.Remove(image)
		image = next
		for p, seq := range promised {
			acked[p] = seq
		}
		promisedBefore = promised
		t.Logf("round %d: %d acked before the cut, %d in total", round, len(promised), len(acked))
	}

	mnt := mountImage(t, image, filepath.Join(work, "mnt-final"))
	defer unmount(t, mnt)
	c := startMidge(t, "-js", "-sd", filepath.Join(mnt, "store"))
	nc, js := crashClient(t, c)
	verifyAcked(t, js, acked)
	nc.Close()
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(t)
}

// publishUntilPowerCut publishes asynchronously; once perRound acks have
// arrived it freezes the server, waits for the acks already on their way,
// runs snapshot (the copy of the device) and returns the acks received.
// Acks arriving after the freeze were sent before it, so they count.
func publishUntilPowerCut(t *testing.T, c *child, js jetstream.JetStream, round, perRound int, snapshot func()) map[string]uint64 {
	t.Helper()
	var mu sync.Mutex
	acked := map[string]uint64{}
	enough := make(chan struct{})
	var once sync.Once
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < 20*perRound && time.Now().Before(deadline); i++ {
		payload := fmt.Sprintf("power-r%d-m%d", round, i)
		f, err := js.PublishAsync("crash.x", []byte(payload))
		if err != nil {
			// Too many unacknowledged (a busy machine): let acks come.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		go func() {
			select {
			case ack := <-f.Ok():
				mu.Lock()
				acked[payload] = ack.Sequence
				if len(acked) >= perRound {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			case <-f.Err():
			case <-time.After(30 * time.Second):
			}
		}()
		select {
		case <-enough:
		default:
			continue
		}
		break
	}
	select {
	case <-enough:
	case <-time.After(time.Until(deadline) + 30*time.Second):
		t.Fatal("not enough acks before the power cut")
	}
	c.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(500 * time.Millisecond) // acks already written to the socket arrive
	snapshot()
	mu.Lock()
	defer mu.Unlock()
	promised := make(map[string]uint64, len(acked))
	for p, seq := range acked {
		promised[p] = seq
	}
	return promised
}

// verifyPromised checks the messages acknowledged before the last cut by
// their sequences (each round; the final check reads the whole stream).
func verifyPromised(t *testing.T, js jetstream.JetStream, promised map[string]uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "CRASH")
	if err != nil {
		t.Fatalf("stream after the power cut: %v", err)
	}
	for payload, seq := range promised {
		m, err := st.GetMsg(ctx, seq)
		if err != nil || string(m.Data) != payload {
			t.Fatalf("acked message %q (seq %d) lost in the power cut: %v", payload, seq, err)
		}
	}
	t.Logf("%d messages acked before the cut all present", len(promised))
}

// needLoopMount ends the test unless this machine can loop-mount an ext4
// image (root, mkfs.ext4, mount, umount): skipped normally, failed under
// MIDGE_REQUIRE_TOOLS (CI runs as root).
func needLoopMount(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testtools.Missing(t, "loop-mounting an ext4 image needs root")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			testtools.Missing(t, fmt.Sprintf("loop-mounting an ext4 image needs %s: %v", tool, err))
		}
	}
}

func mountImage(t *testing.T, image, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	runTool(t, "mount", "-o", "loop", image, dir)
	// A failing round must not leave the file system mounted (this runs
	// after the server's own cleanup, which was registered later).
	t.Cleanup(func() {
		for i := 0; i < 100 && exec.Command("umount", dir).Run() != nil; i++ {
			if _, err := os.Stat(filepath.Join(dir, "lost+found")); err != nil {
				return // not mounted (any more)
			}
			time.Sleep(100 * time.Millisecond) // the killed server is still exiting
		}
	})
	return dir
}

func unmount(t *testing.T, dir string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		if exec.Command("umount", dir).Run() == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	runTool(t, "umount", dir)
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
