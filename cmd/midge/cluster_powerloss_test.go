package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestR3NodePowerCutKeepsAckedMessages cuts the power of one server of a
// 3-server cluster, as TestPowerLossKeepsAckedMessages does for a single
// server: node n0's store lives on an ext4 image; while publishes to an
// R3 stream are in flight it is frozen, the image is copied (the copy
// holds only what was fsynced), and it is killed. Publishing goes on
// through the other two. n0 restarts on the copy, rolled back to its last
// fsync, and then another node is killed, so that n0's copy is one of the
// two a majority is made of: had n0 acknowledged a raft entry to its
// leader before the entry was on its disk, a message acked then would
// now be missing. Every acked message must be in the stream at its acked
// sequence after each round and at the end.
//
// It needs root (mount) and runs under `make soak` only.
func TestR3NodePowerCutKeepsAckedMessages(t *testing.T) {
	if os.Getenv("MIDGE_SOAK_ROUNDS") == "" {
		t.Skip("cluster power-cut test runs under `make soak` (set MIDGE_SOAK_ROUNDS)")
	}
	if os.Geteuid() != 0 {
		t.Skip("cluster power-cut test needs root to loop-mount an ext4 image; skipped")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("cluster power-cut test needs %s: %v", tool, err)
		}
	}
	work := t.TempDir()
	image := filepath.Join(work, "n0-0.img")
	runTool(t, "truncate", "-s", "512M", image)
	runTool(t, "mkfs.ext4", "-q", "-F", image)
	mnt := mountImage(t, image, filepath.Join(work, "mnt"))

	nodes := startJSClusterStores(t, map[int]string{0: filepath.Join(mnt, "store")})
	var urls []string
	for _, n := range nodes {
		urls = append(urls, clientURL(t, n))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		t.Fatal(err)
	}
	createR3Stream(t, js, "R3CRASH", "r3.>")

	acked := map[string]uint64{}
	cutNode := nodes[0]
	for round := range soakRounds(2) {
		next := filepath.Join(work, fmt.Sprintf("n0-%d.img", round+1))
		publishUntilCut(t, js, round, 1000, acked, func() {
			_ = cutNode.c.cmd.Process.Signal(syscall.SIGSTOP)
			time.Sleep(200 * time.Millisecond) // acks already on the wire arrive
			runTool(t, "cp", "--sparse=always", image, next)
			_ = cutNode.c.cmd.Process.Signal(syscall.SIGKILL)
			_ = cutNode.c.cmd.Process.Signal(syscall.SIGCONT)
			cutNode.c.wait(t)
		})
		unmount(t, mnt)
		os.Remove(image)
		image = next
		runTool(t, "mount", "-o", "loop", image, mnt)
		cutNode.start(t)
		waitRoutes(t, 2, nodes...)

		// n0, rolled back to its last fsync, and one other node form the
		// only majority.
		other := nodes[1+round%2]
		_ = other.c.cmd.Process.Signal(syscall.SIGKILL)
		other.c.wait(t)
		start := time.Now()
		publishOne(t, js, fmt.Sprintf("r%d-after-cut", round), acked)
		t.Logf("round %d: n0 cut and restarted on its last fsync, n%d killed; a publish was acked %v later",
			round, 1+round%2, time.Since(start))
		verifyR3Acked(t, js, acked)
		other.start(t)
		waitRoutes(t, 2, nodes...)
	}
	verifyR3Acked(t, js, acked)
}

// publishUntilCut publishes asynchronously to r3.x, calls cut once
// perRound messages of this round are acknowledged, and returns when every
// publish has an outcome. Acks that arrive after the cut count as well:
// the other two servers are a majority.
func publishUntilCut(t *testing.T, js jetstream.JetStream, round, perRound int, acked map[string]uint64, cut func()) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	count := 0
	enough := make(chan struct{})
	var once sync.Once
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < 20*perRound && time.Now().Before(deadline); i++ {
		select {
		case <-enough:
			i = 20 * perRound
			continue
		default:
		}
		payload := fmt.Sprintf("cut-r%d-m%d", round, i)
		f, err := js.PublishAsync("r3.x", []byte(payload))
		if err != nil {
			time.Sleep(20 * time.Millisecond) // too many in flight: let acks come
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case ack := <-f.Ok():
				mu.Lock()
				acked[payload] = ack.Sequence
				count++
				if count >= perRound {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			case <-f.Err():
			case <-time.After(30 * time.Second):
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		t.Fatalf("round %d: only %d of %d publishes acked before the cut", round, count, perRound)
	}
	cut()
	wg.Wait()
}
