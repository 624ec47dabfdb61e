package kafka

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var benchSizes = []int{16, 1024}

// BenchmarkKafkaProduceAcksAll: one franz-go producer (idempotent,
// acks=all) into a one-partition topic; every record is fsynced before
// its ack (sync policy always, group-committed).
func BenchmarkKafkaProduceAcksAll(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			br := benchBroker(b)
			cl := br.client(kgo.DefaultProduceTopic("bench"), kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.MaxBufferedRecords(1<<20))
			br.createTopic(cl, "bench", 1)
			value := bytes.Repeat([]byte{'x'}, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				cl.Produce(ctx, &kgo.Record{Value: value}, nil)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkKafkaConsume: one franz-go consumer reading records produced
// beforehand from a one-partition topic.
func BenchmarkKafkaConsume(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			br := benchBroker(b)
			prod := br.client(kgo.DefaultProduceTopic("bench"), kgo.MaxBufferedRecords(1<<20))
			br.createTopic(prod, "bench", 1)
			value := bytes.Repeat([]byte{'x'}, size)
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				prod.Produce(ctx, &kgo.Record{Value: value}, nil)
			}
			if err := prod.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			cons := br.client(kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxBytes(16<<20))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for got := 0; got < b.N; {
				fs := cons.PollFetches(ctx)
				if errs := fs.Errors(); len(errs) > 0 {
					b.Fatal(errs[0].Err)
				}
				got += fs.NumRecords()
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
