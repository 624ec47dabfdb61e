package jscluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Tests of where a stream lives: more or fewer replicas, a removed peer.
// Their messages are "m0", "m1", ... at sequences 1, 2, ...

// publishNumbered publishes messages m<from> to m<to-1> with message ids,
// each until acknowledged at its sequence (a retry of one stored before
// is answered as a duplicate with the same sequence).
func publishNumbered(t *testing.T, js jetstream.JetStream, subject string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		id := fmt.Sprintf("m%d", i)
		waitFor(t, 10*time.Second, "publish "+id, func() bool {
			pctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			ack, err := js.Publish(pctx, subject, []byte(id), jetstream.WithMsgID(id))
			return err == nil && ack.Sequence == uint64(i+1)
		})
	}
}

// updateStream retries an update while the meta group is busy.
func updateStream(t *testing.T, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("update to %d replicas", cfg.Replicas), func() bool {
		uctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := js.UpdateStream(uctx, cfg)
		return err == nil
	})
}

// streamInfo is a stream's info, nil while it cannot be had.
func streamInfo(js jetstream.JetStream, name string) *jetstream.StreamInfo {
	ictx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := js.Stream(ictx, name)
	if err != nil {
		return nil
	}
	return st.CachedInfo()
}

// waitSettled waits until the stream has the replica count it is
// configured with, every replica current, and msgs messages; it returns
// the leader.
func waitSettled(t *testing.T, js jetstream.JetStream, name string, replicas int, msgs uint64) (leader string) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%s on %d current replicas with %d messages", name, replicas, msgs), func() bool {
		info := streamInfo(js, name)
		if info == nil || info.Config.Replicas != replicas || info.Cluster == nil || info.Cluster.Leader == "" ||
			len(info.Cluster.Replicas) != replicas-1 || info.State.Msgs != msgs {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		leader = info.Cluster.Leader
		return true
	})
	return leader
}

// stopLeader stops the stream's leader and returns the stream as the new
// leader, reached through another server, shows it.
func stopLeader(t *testing.T, c *tcluster, name, leader string) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	via := c.nodes[0]
	if via.name == leader {
		via = c.nodes[1]
	}
	_, vjs := c.client(via)
	c.byName(leader).stop()
	var st jetstream.Stream
	waitFor(t, 20*time.Second, "a new leader", func() bool {
		ictx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := vjs.Stream(ictx, name)
		if err != nil || s.CachedInfo().Cluster == nil {
			return false
		}
		st = s
		l := s.CachedInfo().Cluster.Leader
		return l != "" && l != leader
	})
	return vjs, st
}

// expectNumbered reads messages 1..n and checks each is m<seq-1>.
func expectNumbered(t *testing.T, st jetstream.Stream, n int) {
	t.Helper()
	for seq := uint64(1); seq <= uint64(n); seq++ {
		var m *jetstream.RawStreamMsg
		waitFor(t, 10*time.Second, fmt.Sprintf("message %d", seq), func() bool {
			gctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			var err error
			m, err = st.GetMsg(gctx, seq)
			return err == nil
		})
		if want := fmt.Sprintf("m%d", seq-1); string(m.Data) != want {
			t.Fatalf("message %d = %q, want %q", seq, m.Data, want)
		}
	}
}

// hasCopy reports whether nd's store holds a copy of the stream (copies
// set aside under a quarantine directory do not count).
func hasCopy(nd *node, stream string) bool {
	found := false
	_ = filepath.WalkDir(nd.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == stream && !inQuarantine(path) {
			found = true
		}
		return nil
	})
	return found
}

// inQuarantine reports whether path lies under a quarantine directory
// (copies set aside, never deleted).
func inQuarantine(path string) bool {
	for dir := filepath.Dir(path); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
		if filepath.Base(dir) == "quarantine" {
			return true
		}
	}
	return false
}

// Raising a stream's replica count (nats stream edit --replicas 3) adds
// replicas to its running group: they join as learners, catch up and are
// promoted, so the stream then survives its leader's loss with every
// acknowledged message.
func TestRaisingReplicasAddsReplicasThatCatchUp(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	cfg := jetstream.StreamConfig{Name: "GROW", Subjects: []string{"grow.>"}, Replicas: 1}
	createStream(t, js, cfg)
	const before = 200
	publishNumbered(t, js, "grow.x", 0, before)

	cfg.Replicas = 3
	updateStream(t, js, cfg)
	leader := waitSettled(t, js, "GROW", 3, before)

	// The stream's first server, its only copy before, goes away: a new
	// replica leads and holds everything.
	vjs, st := stopLeader(t, c, "GROW", leader)
	if n := st.CachedInfo().State.Msgs; n != before {
		t.Fatalf("the new leader holds %d messages, want %d", n, before)
	}
	expectNumbered(t, st, before)
	publishNumbered(t, vjs, "grow.x", before, before+1)
}

// Lowering a stream's replica count removes the servers not kept from its
// group, and each deletes its copy once its removal is committed; the
// stream keeps every message and takes publishes throughout. Raising it
// again places the stream on those servers anew: they join (their old
// group is gone) and catch up.
func TestLoweringReplicasRemovesCopiesAndRaisingAddsThemBack(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	cfg := jetstream.StreamConfig{Name: "SHRINK", Subjects: []string{"shrink.>"}, Replicas: 3}
	createStream(t, js, cfg)
	publishNumbered(t, js, "shrink.x", 0, 100)

	cfg.Replicas = 1
	updateStream(t, js, cfg)
	publishNumbered(t, js, "shrink.x", 100, 101) // publishes go on while the others leave
	kept := waitSettled(t, js, "SHRINK", 1, 101)
	waitFor(t, 30*time.Second, "the removed servers' copies deleted", func() bool {
		for _, nd := range c.nodes {
			if nd.name != kept && hasCopy(nd, "SHRINK") {
				return false
			}
		}
		return true
	})
	if !hasCopy(c.byName(kept), "SHRINK") {
		t.Fatalf("the kept server %s has no copy", kept)
	}
	publishNumbered(t, js, "shrink.x", 101, 102)

	cfg.Replicas = 3
	updateStream(t, js, cfg)
	waitSettled(t, js, "SHRINK", 3, 102)
	for _, nd := range c.nodes {
		if !hasCopy(nd, "SHRINK") {
			t.Fatalf("%s has no copy after raising the replicas again", nd.name)
		}
	}
	// Every copy is whole: the kept server goes away and a re-added one
	// leads with every message.
	vjs, st := stopLeader(t, c, "SHRINK", kept)
	expectNumbered(t, st, 102)
	publishNumbered(t, vjs, "shrink.x", 102, 103)
}

// Removing a peer (nats stream cluster peer-remove) takes a server out of
// a stream's placement, typically one that is gone: another server takes
// its place, joins and catches up; the removed server, back, deletes its
// copy. A server the stream is not on is refused with the reference
// server's "peer not a member" (10040).
func TestRemovingAPeerPlacesTheStreamElsewhere(t *testing.T) {
	c := startCluster(t, 4)
	nc, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "MOVE", Subjects: []string{"move.>"}, Replicas: 3})
	const msgs = 150
	publishNumbered(t, js, "move.x", 0, msgs)
	var placed []string
	waitFor(t, 10*time.Second, "stream info", func() bool {
		i := streamInfo(js, "MOVE")
		if i == nil || i.Cluster == nil || i.Cluster.Leader == "" || len(i.Cluster.Replicas) != 2 {
			return false
		}
		placed = []string{i.Cluster.Leader, i.Cluster.Replicas[0].Name, i.Cluster.Replicas[1].Name}
		return true
	})
	var outside string
	for _, nd := range c.nodes {
		if !slices.Contains(placed, nd.name) {
			outside = nd.name
		}
	}
	type removeResp struct {
		Success bool `json:"success"`
		Error   *struct {
			Code    int    `json:"err_code"`
			Message string `json:"description"`
		} `json:"error"`
	}
	remove := func(peer string) removeResp {
		t.Helper()
		var r removeResp
		waitFor(t, 10*time.Second, "peer remove "+peer, func() bool {
			m, err := nc.Request("$JS.API.STREAM.PEER.REMOVE.MOVE", []byte(`{"peer":"`+peer+`"}`), time.Second)
			if err != nil {
				return false
			}
			r = removeResp{}
			return json.Unmarshal(m.Data, &r) == nil && (r.Error == nil || r.Error.Code != 10008)
		})
		return r
	}
	if r := remove(outside); r.Success || r.Error == nil || r.Error.Code != 10040 {
		t.Fatalf("removing %s, which holds no copy: %+v", outside, r)
	}

	gone := placed[2] // a follower, stopped as if its machine died
	c.byName(gone).stop()
	if r := remove(gone); !r.Success {
		t.Fatalf("removing %s: %+v", gone, r)
	}
	waitFor(t, 30*time.Second, outside+" placed, current and holding every message", func() bool {
		i := streamInfo(js, "MOVE")
		if i == nil || i.Cluster == nil || len(i.Cluster.Replicas) != 2 || i.State.Msgs != msgs {
			return false
		}
		names := []string{i.Cluster.Leader}
		for _, r := range i.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
			names = append(names, r.Name)
		}
		return slices.Contains(names, outside) && !slices.Contains(names, gone)
	})
	gnd := c.byName(gone)
	gnd.start()
	waitFor(t, 30*time.Second, "the removed server's copy deleted once it is back", func() bool { return !hasCopy(gnd, "MOVE") })
}

// Lowering the replica count right after the stream's leadership moved
// away from its first server: the meta leader keeps the stream's current
// leader when it knows it, else its first server, whose leader then hands
// its leadership over before it is removed (the stream lives on the two
// tagged servers, so the meta leader may or may not be one of them).
// Either way the stream ends on one server with every message, takes
// publishes, and the other copy goes.
func TestLoweringReplicasAfterLeadershipMoved(t *testing.T) {
	c := startTaggedCluster(t, [][]string{nil, {"x"}, {"x"}})
	nc, js := c.client(c.nodes[0])
	cfg := jetstream.StreamConfig{Name: "MOVED", Subjects: []string{"moved.>"}, Replicas: 2,
		Placement: &jetstream.Placement{Tags: []string{"x"}}}
	createStream(t, js, cfg)
	const msgs = 60
	publishNumbered(t, js, "moved.x", 0, msgs)
	first := leaderOf(t, js, "MOVED")
	other := "s2"
	if first == "s2" {
		other = "s3"
	}
	waitFor(t, 15*time.Second, "leadership moved to "+other, func() bool {
		_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.MOVED", []byte(`{"placement":{"preferred":"`+other+`"}}`), time.Second)
		return leaderOf(t, js, "MOVED") == other
	})

	cfg.Replicas = 1
	updateStream(t, js, cfg)
	kept := waitSettled(t, js, "MOVED", 1, msgs)
	t.Logf("leader before %s, kept %s", other, kept)
	gone := c.byName(map[string]string{"s2": "s3", "s3": "s2"}[kept])
	waitFor(t, 30*time.Second, "the other copy deleted", func() bool { return !hasCopy(gone, "MOVED") })
	publishNumbered(t, js, "moved.x", msgs, msgs+1)
}
