package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/midgemq/midge/jetstore"
)

// Process-level tests of replicated streams under faults: a damaged copy
// on disk, and a chaos run of kills and pauses while publishers retry.

// chaosClient connects to the nodes, nodes[first] first (nats.go tries
// the first URL of the list first: clients given the same list all end up
// on one server), reconnecting and noticing a paused server within about
// a second.
func chaosClient(t *testing.T, nodes []*clusterNode, first int) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	var urls []string
	for i := range nodes {
		n := nodes[(first+i)%len(nodes)]
		if n.c != nil && n.c.cmd.ProcessState == nil {
			urls = append(urls, clientURL(t, n))
		}
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.PingInterval(300*time.Millisecond), nats.MaxPingsOutstanding(2), nats.Timeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func createR3Stream(t *testing.T, js jetstream.JetStream, name, subject string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Replicas: 3})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create stream %s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ackLog records what was acknowledged: sequence → payload and back. A
// sequence acked for two payloads, or a payload acked at two sequences,
// is an error.
type ackLog struct {
	mu      sync.Mutex
	bySeq   map[uint64]string
	byMsg   map[string]uint64
	errs    []string
	counter atomic.Int64
	// retried counts messages acked after a failed attempt, dups those
	// of them acked as duplicates (their first attempt was stored).
	retried, dups atomic.Int64
}

func newAckLog() *ackLog {
	return &ackLog{bySeq: map[uint64]string{}, byMsg: map[string]uint64{}}
}

func (a *ackLog) add(seq uint64, payload string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev, ok := a.bySeq[seq]; ok && prev != payload {
		a.errs = append(a.errs, fmt.Sprintf("sequence %d acked for %q and for %q", seq, prev, payload))
	}
	if prev, ok := a.byMsg[payload]; ok && prev != seq {
		a.errs = append(a.errs, fmt.Sprintf("%q acked at sequence %d and at %d", payload, prev, seq))
	}
	a.bySeq[seq] = payload
	a.byMsg[payload] = seq
	a.counter.Add(1)
}

// publishRetry publishes payload (its own message id) until it is acked,
// within the bound.
func publishRetry(js jetstream.JetStream, subject, payload string, within time.Duration, acks *ackLog) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ack, err := js.Publish(ctx, subject, []byte(payload), jetstream.WithMsgID(payload))
		cancel()
		if err == nil {
			acks.add(ack.Sequence, payload)
			if last != nil {
				acks.retried.Add(1)
				if ack.Duplicate {
					acks.dups.Add(1)
				}
			}
			return nil
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not acked within %v: %w", payload, within, last)
}

// storeDirOf is the JetStream store directory startJSCluster gave n.
func storeDirOf(n *clusterNode) string {
	base := strings.TrimSuffix(filepath.Base(n.conf), ".conf") // n<i>
	return filepath.Join(n.dir, "store"+strings.TrimPrefix(base, "n"))
}

// streamDirOf finds a stream's directory in a store (not a quarantined
// copy): <store>/jetstream/<account>/streams/<name>.
func streamDirOf(t *testing.T, store, name string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(store, "jetstream", "*", "streams", name))
	if err != nil || len(matches) != 1 {
		t.Fatalf("stream %s in %s: %v %v", name, store, matches, err)
	}
	return matches[0]
}

// readCopy opens a stopped node's store and returns its copy of a stream,
// sequence → payload, and its last sequence.
func readCopy(t *testing.T, n *clusterNode, name string) (map[uint64]string, uint64) {
	t.Helper()
	dir := streamDirOf(t, storeDirOf(n), name)
	s, err := jetstore.Open(filepath.Dir(filepath.Dir(dir)), jetstore.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	defer s.Close()
	st, err := s.Stream(name)
	if err != nil {
		t.Fatalf("stream %s in %s: %v", name, dir, err)
	}
	state := st.State("", false)
	out := make(map[uint64]string, state.Msgs)
	for seq := state.FirstSeq; seq <= state.LastSeq && seq > 0; seq++ {
		m, err := st.Get(seq)
		if err != nil {
			continue
		}
		out[seq] = string(m.Data)
	}
	return out, state.LastSeq
}

// stopNode ends a node gracefully and waits for it.
func stopNode(t *testing.T, n *clusterNode) {
	t.Helper()
	_ = n.c.cmd.Process.Signal(syscall.SIGTERM)
	n.c.wait(t)
}

// waitAllCurrent waits until the stream's leader reports every other
// replica current (a learner is not).
func waitAllCurrent(t *testing.T, js jetstream.JetStream, name string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := js.Stream(ctx, name)
		cancel()
		if err == nil {
			ci := st.CachedInfo().Cluster
			if ci != nil && ci.Leader != "" && len(ci.Replicas) == 2 {
				ok := true
				for _, p := range ci.Replicas {
					ok = ok && p.Current && !p.Offline
				}
				if ok {
					return
				}
			}
			b, _ := json.Marshal(ci)
			last = string(b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replicas of %s not all current after %v: %s", name, within, last)
}

// checkCopies stops every node and checks that each one's copy holds
// every acknowledged message at its sequence, without holes and without a
// payload stored twice.
func checkCopies(t *testing.T, nodes []*clusterNode, name string, acks *ackLog) {
	t.Helper()
	for _, n := range nodes {
		stopNode(t, n)
	}
	acks.mu.Lock()
	defer acks.mu.Unlock()
	for _, n := range nodes {
		copyOf, last := readCopy(t, n, name)
		seen := make(map[string]uint64, len(copyOf))
		for seq := uint64(1); seq <= last; seq++ {
			payload, ok := copyOf[seq]
			if !ok {
				t.Errorf("%s: hole at sequence %d (last %d)", n.conf, seq, last)
				continue
			}
			if prev, dup := seen[payload]; dup {
				t.Errorf("%s: %q stored at %d and %d", n.conf, payload, prev, seq)
			}
			seen[payload] = seq
		}
		lost := 0
		for seq, payload := range acks.bySeq {
			if copyOf[seq] != payload {
				lost++
				if lost <= 5 {
					t.Errorf("%s: acked %q at %d, copy holds %q", filepath.Base(n.conf), payload, seq, copyOf[seq])
				}
			}
		}
		t.Logf("%s: %d messages stored (last seq %d), %d acked, %d acked messages missing",
			filepath.Base(n.conf), len(copyOf), last, len(acks.bySeq), lost)
	}
	for _, e := range acks.errs {
		t.Error(e)
	}
}

// TestDamagedReplicaIsSetAsideAndStreamKept flips a bit in a stopped
// follower's block file; restarted, that server neither crashes nor
// deletes the stream: it logs the damage, sets its copy aside and is
// rebuilt from its peers to hold every acknowledged message.
func TestDamagedReplicaIsSetAsideAndStreamKept(t *testing.T) {
	damagedReplica(t, true, func(data []byte) []byte {
		data[len(data)/2] ^= 0x10
		return data
	})
}

// TestTruncatedReplicaCatchesUpAndStreamKept cuts a stopped follower's
// newest block file in half: the copy lost a suffix of what it had
// applied. A torn tail is what a crash leaves, not damage, so the copy is
// kept and filled again from the group's log and its peers; restarted,
// the server holds every acknowledged message.
func TestTruncatedReplicaCatchesUpAndStreamKept(t *testing.T) {
	damagedReplica(t, false, func(data []byte) []byte { return data[:len(data)/2] })
}

// damagedReplica damages a stopped follower's first block file with
// damage, publishes more, restarts it and checks that every copy ends up
// holding every acknowledged message; setAside: the copy must have been
// found damaged and set aside.
func damagedReplica(t *testing.T, setAside bool, damage func([]byte) []byte) {
	nodes := startJSCluster(t)
	_, js := chaosClient(t, nodes, 0)
	createR3Stream(t, js, "DMG", "dmg.>")
	acks := newAckLog()
	for i := range 300 {
		if err := publishRetry(js, "dmg.x", fmt.Sprintf("a%04d", i), 20*time.Second, acks); err != nil {
			t.Fatal(err)
		}
	}
	leader := streamLeader(t, js, "DMG")
	var victim *clusterNode
	for _, n := range nodes {
		if strings.TrimSuffix(filepath.Base(n.conf), ".conf") != leader {
			victim = n
			break
		}
	}
	waitAllCurrent(t, js, "DMG", 20*time.Second)
	stopNode(t, victim)
	dir := streamDirOf(t, storeDirOf(victim), "DMG")
	blocks, _ := filepath.Glob(filepath.Join(dir, "blocks", "*.blk"))
	if len(blocks) == 0 {
		t.Fatalf("no block files in %s", dir)
	}
	data, err := os.ReadFile(blocks[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocks[0], damage(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "index.db")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	// Messages the damaged copy never had.
	for i := range 100 {
		if err := publishRetry(js, "dmg.x", fmt.Sprintf("b%04d", i), 20*time.Second, acks); err != nil {
			t.Fatal(err)
		}
	}
	victim.start(t)
	waitRoutes(t, 2, nodes...)
	deadline := time.Now().Add(30 * time.Second)
	for setAside {
		q, _ := filepath.Glob(filepath.Join(storeDirOf(victim), "jetstream", "*", "quarantine", "DMG.*"))
		if len(q) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the damaged copy was not set aside")
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitAllCurrent(t, js, "DMG", 60*time.Second)
	for i := range 50 {
		if err := publishRetry(js, "dmg.x", fmt.Sprintf("c%04d", i), 20*time.Second, acks); err != nil {
			t.Fatal(err)
		}
	}
	waitAllCurrent(t, js, "DMG", 30*time.Second)
	if victim.c.cmd.ProcessState != nil {
		t.Fatal("the damaged server exited")
	}
	checkCopies(t, nodes, "DMG", acks)
	if logs := victim.c.logs.String(); setAside && !strings.Contains(logs, "damaged") {
		t.Errorf("the damage was not logged:\n%s", logs[max(0, len(logs)-4000):])
	}
}

// TestChaosR3KeepsEveryAckOnEveryReplica runs publishers (each message its
// own id, retried until acked) against an R3 stream on three processes
// while a minority is killed (SIGKILL, restart) or paused (SIGSTOP,
// SIGCONT) — the stream's leader and followers in turn. At the end every
// node's copy holds every acked message at its sequence, without holes,
// and no sequence was acked for two payloads. MIDGE_SOAK_ROUNDS=R runs
// 2,000×R publishes with a fault every 1,500 (`make soak`).
func TestChaosR3KeepsEveryAckOnEveryReplica(t *testing.T) {
	total, faults := 3000, 4
	if r := soakRounds(0); r > 0 {
		total = 2000 * r
		faults = max(4, total/1500)
	}
	const publishers = 4
	nodes := startJSCluster(t)
	byName := map[string]*clusterNode{}
	for _, n := range nodes {
		byName[strings.TrimSuffix(filepath.Base(n.conf), ".conf")] = n
	}
	_, js := chaosClient(t, nodes, 0)
	createR3Stream(t, js, "CHAOS", "chaos.>")
	acks := newAckLog()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Value
	done := make(chan struct{})
	var pncs []*nats.Conn
	for p := range publishers {
		pnc, pjs := chaosClient(t, nodes, p)
		pncs = append(pncs, pnc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := p; k < total; k += publishers {
				if err := publishRetry(pjs, "chaos.x", fmt.Sprintf("m%07d", k), 60*time.Second, acks); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	// hold keeps a fault on for at least 250 ms and until the survivors
	// acked n more messages (at most 3 s, or until the publishers
	// finished); it returns the acks meanwhile.
	var trace []string // acks since the fault began, every 100 ms
	hold := func(n int64) (int64, time.Duration) {
		from, t0 := acks.counter.Load(), time.Now()
		trace = nil
		last := time.Now()
		for (acks.counter.Load()-from < n || time.Since(t0) < 250*time.Millisecond) && time.Since(t0) < 3*time.Second {
			if time.Since(last) > 100*time.Millisecond {
				last = time.Now()
				trace = append(trace, fmt.Sprint(acks.counter.Load()-from))
			}
			select {
			case <-done:
				return acks.counter.Load() - from, time.Since(t0)
			case <-time.After(10 * time.Millisecond):
			}
		}
		return acks.counter.Load() - from, time.Since(t0)
	}
	applied := 0
faults:
	for i := range faults {
		// The next fault starts once an equal share of what is left was
		// acked, so that every fault happens while publishers run.
		now := acks.counter.Load()
		threshold := now + (int64(total)-now)/int64(faults-i+1)
		for acks.counter.Load() < threshold {
			select {
			case <-done:
				t.Logf("publishers finished before fault %d", i)
				break faults
			case <-time.After(10 * time.Millisecond):
			}
		}
		applied++
		leader := streamLeader(t, js, "CHAOS")
		victim, role := byName[leader], "leader"
		if i%2 == 1 {
			for name, n := range byName {
				if name != leader {
					victim, role = n, "follower"
					break
				}
			}
		}
		name := strings.TrimSuffix(filepath.Base(victim.conf), ".conf")
		t.Logf("fault %d: replicas before: %s", i, replicaState(js, "CHAOS"))
		retried, dups := acks.retried.Load(), acks.dups.Load()
		var where []string
		for _, pnc := range pncs {
			where = append(where, pnc.ConnectedServerName())
		}
		if i%4 < 2 {
			_ = victim.c.cmd.Process.Signal(syscall.SIGKILL)
			victim.c.wait(t)
			n, d := hold(200)
			t.Logf("fault %d: killed %s %s (publishers on %v); %d acks in the %v it was down", i, role, name, where, n, d.Round(time.Millisecond))
			victim.start(t)
		} else {
			_ = victim.c.cmd.Process.Signal(syscall.SIGSTOP)
			n, d := hold(200)
			_ = victim.c.cmd.Process.Signal(syscall.SIGCONT)
			t.Logf("fault %d: paused %s %s (publishers on %v); %d acks in the %v it was paused (%.0f/s)", i, role, name, where, n, d.Round(time.Millisecond), float64(n)/d.Seconds())
		}
		waitRoutes(t, 2, nodes...)
		t.Logf("fault %d: acks every 100 ms during it %v; %d publishes acked after a retry (%d of them as duplicates); after it: %s",
			i, trace, acks.retried.Load()-retried, acks.dups.Load()-dups, replicaState(js, "CHAOS"))
	}
	select {
	case <-done:
	case <-time.After(time.Duration(total/10+120) * time.Second):
		t.Fatalf("publishers did not finish: %d of %d acked", acks.counter.Load(), total)
	}
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	waitAllCurrent(t, js, "CHAOS", 60*time.Second)
	t.Logf("%d publishes acked in %v with %d faults", acks.counter.Load(), elapsed.Round(time.Millisecond), applied)
	if applied < faults {
		t.Errorf("only %d of %d faults happened while publishers ran", applied, faults)
	}
	checkCopies(t, nodes, "CHAOS", acks)
}

// replicaState is the leader's view of the other replicas, for the log.
func replicaState(js jetstream.JetStream, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		return err.Error()
	}
	ci := st.CachedInfo().Cluster
	if ci == nil {
		return "no cluster info"
	}
	out := "leader " + ci.Leader
	for _, p := range ci.Replicas {
		out += fmt.Sprintf(", %s current=%v lag=%d offline=%v", p.Name, p.Current, p.Lag, p.Offline)
	}
	return out
}
