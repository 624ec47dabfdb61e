package jscluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Raising a stream's replica count (nats stream edit --replicas 3) adds
// replicas to its running group: they join as learners, catch up and are
// promoted, so the stream then survives its leader's loss with every
// acknowledged message. Lowering it is refused with a clear error and
// changes nothing.
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

	cfg.Replicas = 2
	_, err := js.UpdateStream(ctx(t, 5*time.Second), cfg)
	if err == nil || !strings.Contains(err.Error(), "replicas can only be increased") {
		t.Fatalf("lowering the replicas: %v", err)
	}

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
