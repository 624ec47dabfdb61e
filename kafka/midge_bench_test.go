package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
)

// Throughput through the whole server (in process, loopback TCP, file
// streams, sync policy always): Kafka produce with acks=all and consume
// with one franz-go client, beside a nats.go JetStream async publisher of
// the same sizes on the same kind of stream.
//
//	go test -run '^$' -bench Midge -benchtime 200000x ./kafka/

var midgeBenchSizes = []int{16, 1024}

func benchServer(b *testing.B) *server.Server {
	b.Helper()
	return testutil.StartJS(b, func(o *config.Options) { o.Kafka = config.KafkaOptions{Port: config.RandomPort} })
}

func benchKafkaClient(b *testing.B, s *server.Server, opts ...kgo.Opt) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.KafkaAddr().String()),
		kgo.MaxBufferedRecords(1 << 20), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

// produceN produces n records of value with acks=all and waits for every
// acknowledgement.
func produceN(b *testing.B, cl *kgo.Client, n int, value []byte) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkMidgeKafkaProduceAcksAll(b *testing.B) {
	for _, size := range midgeBenchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s := benchServer(b)
			cl := benchKafkaClient(b, s, kgo.DefaultProduceTopic("bench"), kgo.RequiredAcks(kgo.AllISRAcks()))
			value := bytes.Repeat([]byte{'x'}, size)
			produceN(b, cl, 1, value) // creates the topic
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			produceN(b, cl, b.N, value)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

func BenchmarkMidgeKafkaConsume(b *testing.B) {
	for _, size := range midgeBenchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s := benchServer(b)
			prod := benchKafkaClient(b, s, kgo.DefaultProduceTopic("bench"))
			produceN(b, prod, b.N, bytes.Repeat([]byte{'x'}, size))
			cons := benchKafkaClient(b, s, kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxBytes(16<<20))
			ctx := context.Background()
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

// BenchmarkMidgeJetStreamPublishAsync is the NATS side of the comparison:
// one nats.go client publishing asynchronously (4096 in flight) into a
// file stream, every publish acknowledged.
func BenchmarkMidgeJetStreamPublishAsync(b *testing.B) {
	for _, size := range midgeBenchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s := benchServer(b)
			nc := testutil.Connect(b, s)
			js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
			if err != nil {
				b.Fatal(err)
			}
			testutil.CreateStream(b, js, jetstream.StreamConfig{Name: "bench", Subjects: []string{"bench.js"}})
			value := bytes.Repeat([]byte{'x'}, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := js.PublishAsync("bench.js", value); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publishes not acknowledged within a minute")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
