package jscluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// A KV get (a direct get) right after the stream's leadership moves sees
// the last acknowledged put, through any server: never "not found" or an
// older value from a copy that has not applied everything committed.
func TestR3KeyValueGetAcrossLeaderChanges(t *testing.T) {
	c := startCluster(t, 3)
	nc, js := c.client(c.nodes[0])
	var kv jetstream.KeyValue
	waitFor(t, 20*time.Second, "bucket created", func() bool {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		kv, err = js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: "MOVE", Replicas: 3})
		return err == nil
	})
	var kvs []jetstream.KeyValue
	for _, nd := range c.nodes {
		_, njs := c.client(nd)
		nkv, err := njs.KeyValue(ctx(t, 5*time.Second), "MOVE")
		if err != nil {
			t.Fatal(err)
		}
		kvs = append(kvs, nkv)
	}
	for i := range 4 {
		want := fmt.Sprintf("v%d", i)
		waitFor(t, 15*time.Second, "put "+want, func() bool {
			pctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := kv.Put(pctx, "k", []byte(want))
			return err == nil
		})
		waitFor(t, 15*time.Second, "a step-down", func() bool {
			msg, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.KV_MOVE", nil, 5*time.Second)
			return err == nil && strings.Contains(string(msg.Data), `"success":true`)
		})
		var wg sync.WaitGroup
		errs := make(chan error, len(kvs))
		for j, nkv := range kvs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					gctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					e, err := nkv.Get(gctx, "k")
					cancel()
					switch {
					case err == nil && string(e.Value()) == want:
						return
					case err == nil:
						errs <- fmt.Errorf("round %d via s%d: got %q, want %q", i, j+1, e.Value(), want)
						return
					case errors.Is(err, jetstream.ErrKeyNotFound):
						errs <- fmt.Errorf("round %d via s%d: not found after the leader moved", i, j+1)
						return
					}
				}
				errs <- fmt.Errorf("round %d via s%d: no answer within 10s", i, j+1)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
	}
}
