package jscluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A key-value bucket with three replicas keeps every acknowledged put
// across the loss of its stream's leader.
func TestR3KeyValueSurvivesLeaderLoss(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	var kv jetstream.KeyValue
	waitFor(t, 20*time.Second, "bucket created", func() bool {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		kv, err = js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: "CFG", Replicas: 3})
		return err == nil
	})
	put := func(key, val string) uint64 {
		var rev uint64
		waitFor(t, 15*time.Second, "put "+key, func() bool {
			pctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			var err error
			rev, err = kv.Put(pctx, key, []byte(val))
			return err == nil
		})
		return rev
	}
	revs := map[string]uint64{}
	for i := range 20 {
		k := fmt.Sprintf("k%d", i)
		revs[k] = put(k, "v1-"+k)
	}
	leader := leaderOf(t, js, "KV_CFG")
	via := c.nodes[0]
	if via.name == leader {
		via = c.nodes[1]
	}
	_, vjs := c.client(via)
	kv2, err := vjs.KeyValue(ctx(t, 5*time.Second), "CFG")
	if err != nil {
		t.Fatal(err)
	}
	kv = kv2
	c.byName(leader).stop()
	rev := put("k0", "v2")
	if rev <= revs["k19"] {
		t.Fatalf("revision %d after the leader's loss does not follow %d", rev, revs["k19"])
	}
	for i := 1; i < 20; i++ {
		k := fmt.Sprintf("k%d", i)
		var e jetstream.KeyValueEntry
		waitFor(t, 10*time.Second, "get "+k, func() bool {
			gctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			e, err = kv.Get(gctx, k)
			return err == nil
		})
		if string(e.Value()) != "v1-"+k || e.Revision() != revs[k] {
			t.Fatalf("%s = %q rev %d, want %q rev %d", k, e.Value(), e.Revision(), "v1-"+k, revs[k])
		}
	}
	e, err := kv.Get(ctx(t, 5*time.Second), "k0")
	if err != nil || string(e.Value()) != "v2" {
		t.Fatalf("k0 = %v, %v", e, err)
	}
}
