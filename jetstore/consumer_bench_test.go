package jetstore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingSender counts deliveries (not statuses) and signals when a
// target count is reached.
type countingSender struct {
	mu     sync.Mutex
	n      int
	target int
	done   chan struct{}
}

func (s *countingSender) Deliver([]byte, Delivery) {
	s.mu.Lock()
	s.n++
	if s.n == s.target && s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()
}
func (s *countingSender) Status([]byte, Status)   {}
func (s *countingSender) AckDone([]byte)          {}
func (s *countingSender) AckFailed([]byte)        {}
func (s *countingSender) Flush()                  {}
func (s *countingSender) HasInterest([]byte) bool { return true }

func (s *countingSender) expect(n int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.target, s.done = 0, n, make(chan struct{})
	return s.done
}

// fillBench publishes msgs messages spread round-robin over subjects.
func fillBench(b *testing.B, s *Store, st *Stream, msgs, subjects int, acks *sync.WaitGroup) {
	b.Helper()
	acks.Add(msgs)
	payload := make([]byte, 16)
	for i := 0; i < msgs; i++ {
		m := NewInMsg([]byte(fmt.Sprintf("s.%d", i%subjects)), nil, nil, payload)
		for st.Publish(m) != nil {
			time.Sleep(time.Millisecond)
		}
	}
	acks.Wait()
}

// BenchmarkFilteredConsumer consumes the 1,000 messages of one subject
// from a stream of 1,000,000 messages over 1,000 subjects ("big") and from
// a stream holding only those 1,000 messages ("small"). Filtered consumers
// must cost only the matching messages: big/small stays within 10x.
func BenchmarkFilteredConsumer(b *testing.B) {
	for _, tc := range []struct {
		name           string
		msgs, subjects int
	}{{"small", 1000, 1}, {"big", 1_000_000, 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			sender := &countingSender{}
			var acks sync.WaitGroup
			s, err := Open(b.TempDir(), Options{
				SyncInterval: time.Minute,
				Ack:          func(_ *Stream, msgs []*InMsg, _ []PublishResult) { acks.Add(-len(msgs)) },
				NewSender:    func(string, string) Sender { return sender },
			})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			st, _, _ := s.AddStream(StreamConfig{Name: "F", Subjects: []string{"s.*"}})
			fillBench(b, s, st, tc.msgs, tc.subjects, &acks)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c, _, err := st.AddConsumer(ConsumerConfig{FilterSubject: "s.0", AckPolicy: AckNone}, ActionCreate)
				if err != nil {
					b.Fatal(err)
				}
				done := sender.expect(1000)
				c.Pull(PullRequest{Reply: []byte("inbox"), Batch: 1000})
				<-done
				b.StopTimer()
				st.DeleteConsumer(c.Name())
				b.StartTimer()
			}
		})
	}
}

// BenchmarkPushDelivery measures a push consumer delivering a backlog:
// the delivery loop reads, builds the ack subject and sends without an
// allocation per message.
func BenchmarkPushDelivery(b *testing.B) {
	sender := &countingSender{}
	s, err := Open(b.TempDir(), Options{SyncInterval: time.Minute, NewSender: func(string, string) Sender { return sender }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, _, _ := s.AddStream(StreamConfig{Name: "P", Subjects: []string{"p"}, Storage: StorageMemory})
	for i := 0; i < b.N; i++ {
		for st.Publish(NewInMsg([]byte("p"), nil, nil, []byte("x"))) != nil {
			time.Sleep(time.Millisecond)
		}
	}
	for st.State("", false).Msgs < uint64(b.N) {
		time.Sleep(time.Millisecond) // the committer is not done yet
	}
	done := sender.expect(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	if _, _, err := st.AddConsumer(ConsumerConfig{DeliverSubject: "d", AckPolicy: AckNone}, ActionCreate); err != nil {
		b.Fatal(err)
	}
	<-done
}
