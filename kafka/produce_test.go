package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProduceConsumeSmall(t *testing.T) {
	b := startBroker(t, Config{})
	admin := b.client()
	b.createTopic(admin, "orders", 3)

	prod := b.client(kgo.DefaultProduceTopic("orders"))
	ctx := ctxTimeout(t, 30*time.Second)
	const n = 100
	for i := 0; i < n; i++ {
		r := &kgo.Record{Key: []byte(keyOf(i)), Value: []byte(fmt.Sprintf("value %d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}}
		prod.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons := b.client(kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := consumeN(t, ctx, cons, n)
	seen := make(map[string]bool)
	for _, r := range recs {
		seen[string(r.Key)] = true
		if len(r.Headers) != 1 || r.Headers[0].Key != "h" {
			t.Fatalf("headers %v", r.Headers)
		}
	}
	if len(seen) != n {
		t.Fatalf("saw %d distinct keys, want %d", len(seen), n)
	}
	_ = context.Background
}
