package jetstore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppend measures the publish pipeline (queue, apply, write,
// fsync, ack) as an async publisher drives it: b.N messages in flight
// through a window, every ack awaited.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16, 1024} {
		for _, sync := range []struct {
			name     string
			interval time.Duration
		}{{"always", 0}, {"interval", time.Minute}} {
			b.Run(fmt.Sprintf("size=%d/sync=%s", size, sync.name), func(b *testing.B) {
				benchAppend(b, size, sync.interval)
			})
		}
	}
}

func benchAppend(b *testing.B, size int, interval time.Duration) {
	const window = 1000
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	done, failed := 0, 0
	ackFn := func(_ *Stream, msgs []*InMsg, acks []PublishResult) {
		mu.Lock()
		for _, a := range acks {
			if a.Err != nil {
				failed++
			}
		}
		done += len(msgs)
		cond.Broadcast()
		mu.Unlock()
	}
	s, err := Open(b.TempDir(), Options{Ack: ackFn, SyncInterval: interval})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, _, err := s.AddStream(StreamConfig{Name: "B", Subjects: []string{"b"}})
	if err != nil {
		b.Fatal(err)
	}
	subject, reply, payload := []byte("b"), []byte("r"), make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mu.Lock()
		for i-done >= window {
			cond.Wait()
		}
		mu.Unlock()
		for st.Publish(NewInMsg(subject, reply, nil, payload)) != nil {
			time.Sleep(time.Millisecond) // queue full: let the committer catch up
		}
	}
	mu.Lock()
	for done < b.N {
		cond.Wait()
	}
	mu.Unlock()
	b.StopTimer()
	if failed > 0 {
		b.Fatalf("%d publishes failed", failed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
