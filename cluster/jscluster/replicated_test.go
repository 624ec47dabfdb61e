package jscluster_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A stream created with three replicas through nats.go is placed on the
// three servers, reports its leader and replicas, and acknowledges
// publishes with consecutive sequences.
func TestR3StreamPlacedOnThreeServers(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[1])
	st := createStream(t, js, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 3})
	info, err := st.Info(ctx(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 || info.Cluster.Name != "jsc" {
		t.Fatalf("cluster info %+v", info.Cluster)
	}
	for i := 1; i <= 50; i++ {
		ack, err := js.Publish(ctx(t, 5*time.Second), "orders.new", []byte("x"))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Sequence != uint64(i) || ack.Stream != "ORDERS" {
			t.Fatalf("ack %+v, want seq %d", ack, i)
		}
	}
}
