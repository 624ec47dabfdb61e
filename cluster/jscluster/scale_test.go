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
	for i := range before {
		if _, err := js.Publish(ctx(t, 5*time.Second), "grow.x", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}

	cfg.Replicas = 3
	waitFor(t, 20*time.Second, "update to 3 replicas", func() bool {
		uctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := js.UpdateStream(uctx, cfg)
		return err == nil
	})
	waitFor(t, 30*time.Second, "two more replicas, current", func() bool {
		ictx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := js.Stream(ictx, "GROW")
		if err != nil {
			return false
		}
		info := st.CachedInfo()
		if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	})

	// The stream's first server, its only copy before, goes away: a new
	// replica leads and holds everything.
	leader := leaderOf(t, js, "GROW")
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
		s, err := vjs.Stream(ictx, "GROW")
		if err != nil || s.CachedInfo().Cluster == nil {
			return false
		}
		l := s.CachedInfo().Cluster.Leader
		st = s
		return l != "" && l != leader
	})
	if n := st.CachedInfo().State.Msgs; n != before {
		t.Fatalf("the new leader holds %d messages, want %d", n, before)
	}
	for seq := uint64(1); seq <= before; seq++ {
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
	waitFor(t, 10*time.Second, "a publish acknowledged by the new leader", func() bool {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ack, err := vjs.Publish(pctx, "grow.x", []byte("after"), jetstream.WithMsgID("after"))
		return err == nil && ack.Sequence == before+1
	})
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
	n := 0
	publish := func(js jetstream.JetStream) {
		t.Helper()
		id := fmt.Sprintf("m%d", n)
		waitFor(t, 10*time.Second, "publish "+id, func() bool {
			pctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			ack, err := js.Publish(pctx, "shrink.x", []byte(id), jetstream.WithMsgID(id))
			return err == nil && ack.Sequence == uint64(n+1)
		})
		n++
	}
	for range 100 {
		publish(js)
	}
	update := func(replicas int) {
		t.Helper()
		cfg.Replicas = replicas
		waitFor(t, 20*time.Second, fmt.Sprintf("update to %d replicas", replicas), func() bool {
			uctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err := js.UpdateStream(uctx, cfg)
			return err == nil
		})
	}
	settled := func(replicas int) (leader string) {
		t.Helper()
		waitFor(t, 30*time.Second, fmt.Sprintf("%d current replicas", replicas), func() bool {
			ictx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			st, err := js.Stream(ictx, "SHRINK")
			if err != nil {
				return false
			}
			info := st.CachedInfo()
			if info.Config.Replicas != replicas || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != replicas-1 {
				return false
			}
			for _, r := range info.Cluster.Replicas {
				if !r.Current || r.Offline {
					return false
				}
			}
			leader = info.Cluster.Leader
			return info.State.Msgs == uint64(n)
		})
		return leader
	}
	hasCopy := func(nd *node) bool {
		found := false
		_ = filepath.WalkDir(nd.dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && d.Name() == "SHRINK" && !inQuarantine(path) {
				found = true
			}
			return nil
		})
		return found
	}

	update(1)
	publish(js) // publishes go on while the others leave
	kept := settled(1)
	waitFor(t, 30*time.Second, "the removed servers' copies deleted", func() bool {
		for _, nd := range c.nodes {
			if nd.name != kept && hasCopy(nd) {
				return false
			}
		}
		return true
	})
	if !hasCopy(c.byName(kept)) {
		t.Fatalf("the kept server %s has no copy", kept)
	}
	publish(js)

	update(3)
	settled(3)
	for _, nd := range c.nodes {
		if !hasCopy(nd) {
			t.Fatalf("%s has no copy after raising the replicas again", nd.name)
		}
	}
	// Every copy is whole: the kept server goes away and a re-added one
	// leads with every message.
	via := c.nodes[0]
	if via.name == kept {
		via = c.nodes[1]
	}
	_, vjs := c.client(via)
	c.byName(kept).stop()
	var st jetstream.Stream
	waitFor(t, 20*time.Second, "a new leader", func() bool {
		ictx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := vjs.Stream(ictx, "SHRINK")
		if err != nil || s.CachedInfo().Cluster == nil {
			return false
		}
		st = s
		l := s.CachedInfo().Cluster.Leader
		return l != "" && l != kept
	})
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
	publish(vjs)
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
	for i := range msgs {
		if _, err := js.Publish(ctx(t, 5*time.Second), "move.x", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	info := func() *jetstream.StreamInfo {
		ictx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := js.Stream(ictx, "MOVE")
		if err != nil {
			return nil
		}
		return st.CachedInfo()
	}
	var placed []string
	waitFor(t, 10*time.Second, "stream info", func() bool {
		i := info()
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
		i := info()
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
	hasCopy := func() bool {
		found := false
		_ = filepath.WalkDir(gnd.dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && d.Name() == "MOVE" && !inQuarantine(path) {
				found = true
			}
			return nil
		})
		return found
	}
	waitFor(t, 30*time.Second, "the removed server's copy deleted once it is back", func() bool { return !hasCopy() })
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
	for i := range msgs {
		if _, err := js.Publish(ctx(t, 5*time.Second), "moved.x", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
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
	waitFor(t, 20*time.Second, "update to 1 replica", func() bool {
		uctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := js.UpdateStream(uctx, cfg)
		return err == nil
	})
	var kept string
	waitFor(t, 30*time.Second, "one replica left, leading, with every message", func() bool {
		ictx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := js.Stream(ictx, "MOVED")
		if err != nil {
			return false
		}
		info := st.CachedInfo()
		kept = ""
		if info.Cluster != nil {
			kept = info.Cluster.Leader
		}
		return info.Config.Replicas == 1 && kept != "" && (info.Cluster == nil || len(info.Cluster.Replicas) == 0) && info.State.Msgs == msgs
	})
	t.Logf("leader before %s, kept %s", other, kept)
	gone := c.byName(map[string]string{"s2": "s3", "s3": "s2"}[kept])
	waitFor(t, 30*time.Second, "the other copy deleted", func() bool {
		found := false
		_ = filepath.WalkDir(gone.dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && d.Name() == "MOVED" && !inQuarantine(path) {
				found = true
			}
			return nil
		})
		return !found
	})
	waitFor(t, 10*time.Second, "a publish after", func() bool {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ack, err := js.Publish(pctx, "moved.x", []byte("after"), jetstream.WithMsgID("after"))
		return err == nil && ack.Sequence == msgs+1
	})
}
