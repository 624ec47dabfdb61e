package jscluster_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// An object store bucket with three replicas is a replicated stream like
// any other: objects put before its leader's loss read back whole (every
// chunk, the digest nats.go checks) through another server, a put after
// the loss is acknowledged by the new leader, and the stopped server's
// copy catches up once it is back.
func TestR3ObjectStoreSurvivesLeaderLoss(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	var obs jetstream.ObjectStore
	waitFor(t, 20*time.Second, "bucket created", func() bool {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		obs, err = js.CreateObjectStore(cctx, jetstream.ObjectStoreConfig{Bucket: "FILES", Replicas: 3})
		return err == nil
	})
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	put := func(obs jetstream.ObjectStore, name string, data []byte) {
		t.Helper()
		waitFor(t, 20*time.Second, "put "+name, func() bool {
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := obs.PutBytes(pctx, name, data)
			return err == nil
		})
	}
	// 300 KiB is three chunks of nats.go's 128 KiB.
	want := map[string][]byte{"small": blob(100), "big": blob(300 << 10)}
	for name, data := range want {
		put(obs, name, data)
	}

	leader := leaderOf(t, js, "OBJ_FILES")
	via := c.nodes[0]
	if via.name == leader {
		via = c.nodes[1]
	}
	_, vjs := c.client(via)
	vobs, err := vjs.ObjectStore(ctx(t, 5*time.Second), "FILES")
	if err != nil {
		t.Fatal(err)
	}
	c.byName(leader).stop()

	want["after"] = blob(200 << 10)
	put(vobs, "after", want["after"])
	for name, data := range want {
		var got []byte
		waitFor(t, 20*time.Second, "get "+name, func() bool {
			gctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err = vobs.GetBytes(gctx, name)
			return err == nil
		})
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes (sha256 %x), put %d (sha256 %x)", name, len(got), sha256.Sum256(got), len(data), sha256.Sum256(data))
		}
	}

	// The stopped server comes back and its copy catches up: every
	// replica shows the same last sequence.
	c.byName(leader).start()
	c.waitMesh()
	st, err := vjs.Stream(ctx(t, 5*time.Second), "OBJ_FILES")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "every replica current", func() bool {
		info, err := st.Info(context.Background())
		if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	})
	names := map[string]bool{}
	lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := vobs.List(lctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list {
		names[info.Name] = true
	}
	if fmt.Sprint(names) != fmt.Sprint(map[string]bool{"after": true, "big": true, "small": true}) {
		t.Fatalf("listed %v", names)
	}
}
