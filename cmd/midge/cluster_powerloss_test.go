package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
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
// One round by default, SOAK_ROUNDS under `make soak`; it needs root
// (see needLoopMount).
func TestR3NodePowerCutKeepsAckedMessages(t *testing.T) {
	needLoopMount(t)
	work := t.TempDir()
	image := filepath.Join(work, "n0-0.img")
	runTool(t, "truncate", "-s", "512M", image)
	runTool(t, "mkfs.ext4", "-q", "-F", image)
	mnt := mountImage(t, image, filepath.Join(work, "mnt"))

	nodes := startJSClusterStores(t, map[int]string{0: filepath.Join(mnt, "store")})
	_, js := chaosClient(t, nodes, 0)
	createR3Stream(t, js, "R3CRASH", "r3.>")

	acked := map[string]uint64{}
	cutNode := nodes[0]
	for round := range soakRounds(1) {
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
