package kafka

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// gatedBackend holds each produce's outcome until the test opens the gate,
// so that a produce is surely in flight when the listener stops.
type gatedBackend struct {
	Backend
	produced chan struct{} // a produce was handed to the backend
	gate     chan struct{} // closed: outcomes may be reported
}

func (g *gatedBackend) Unwrap() Backend { return g.Backend }

func (g *gatedBackend) Produce(topic string, partition int32, batch ProduceBatch) (func(context.Context) (int64, error), error) {
	wait, err := g.Backend.Produce(topic, partition, batch)
	if err != nil {
		return nil, err
	}
	g.produced <- struct{}{}
	return func(ctx context.Context) (int64, error) {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return wait(ctx)
	}, nil
}

// After StopAccepting, a produce that was read before is still answered
// once its outcome is known, and Drain sees the connection close; no new
// connection is accepted.
func TestStopAcceptingAnswersProducesInFlight(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "drain", 1)
	g := &gatedBackend{Backend: b.backend, produced: make(chan struct{}, 1), gate: make(chan struct{})}
	srv, err := NewServer(Config{Listen: "127.0.0.1:0", Backend: g, Logger: testLogger{t}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addr := srv.Addr().String()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("drain"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(0), kgo.RetryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxTimeout(t, 20*time.Second)
	result := make(chan error, 1)
	cl.Produce(ctx, &kgo.Record{Value: []byte("in flight")}, func(_ *kgo.Record, err error) { result <- err })
	select {
	case <-g.produced:
	case <-ctx.Done():
		t.Fatal("the produce never reached the backend")
	}

	srv.StopAccepting()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a connection was accepted after StopAccepting")
	}
	close(g.gate)
	if !srv.Drain(10 * time.Second) {
		t.Fatal("the connection did not finish after its produce was answered")
	}
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("the produce in flight was not answered: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("no outcome for the produce in flight")
	}
	if info, err := b.backend.Offsets("drain", 0); err != nil || info.HighWatermark != 1 {
		t.Fatalf("offsets after the drain: %+v %v", info, err)
	}
}
