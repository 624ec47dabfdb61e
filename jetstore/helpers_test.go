package jetstore

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// ackSink collects publish outcomes by reply subject.
type ackSink struct {
	mu   sync.Mutex
	acks map[string]PublishResult
	cond *sync.Cond
}

func newAckSink() *ackSink {
	s := &ackSink{acks: make(map[string]PublishResult)}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *ackSink) fn(_ *Stream, msgs []*InMsg, acks []PublishResult) {
	s.mu.Lock()
	for i, m := range msgs {
		s.acks[string(m.Reply)] = acks[i]
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}

// wait blocks until the ack for reply arrived (bounded by the test timeout).
func (s *ackSink) wait(t testing.TB, reply string) PublishResult {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if a, ok := s.acks[reply]; ok {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ack for %s", reply)
		}
		go func() { time.Sleep(10 * time.Millisecond); s.cond.Broadcast() }()
		s.cond.Wait()
	}
}

type testStore struct {
	*Store
	dir  string
	acks *ackSink
	opts Options
}

func openTestStore(t testing.TB, dir string, mutate ...func(*Options)) *testStore {
	t.Helper()
	return openWithSink(t, dir, newAckSink(), mutate...)
}

func openWithSink(t testing.TB, dir string, acks *ackSink, mutate ...func(*Options)) *testStore {
	t.Helper()
	opts := Options{Ack: acks.fn}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ts := &testStore{Store: s, dir: dir, acks: acks, opts: opts}
	t.Cleanup(func() { s.Close() })
	return ts
}

func (ts *testStore) reopen(t testing.TB) *testStore {
	t.Helper()
	if err := ts.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openWithSink(t, ts.dir, ts.acks, func(o *Options) { *o = ts.opts })
}

func mustAdd(t testing.TB, s *testStore, cfg StreamConfig) *Stream {
	t.Helper()
	st, _, err := s.AddStream(cfg)
	if err != nil {
		t.Fatalf("AddStream: %v", err)
	}
	return st
}

var replySeq struct {
	sync.Mutex
	n int
}

// publish stores one message and waits for its ack.
func publish(t testing.TB, s *testStore, st *Stream, subject string, hdr, data []byte) PublishResult {
	t.Helper()
	return publishWith(t, s, st, subject, hdr, data, nil)
}

// publishWith is publish with publish options.
func publishWith(t testing.TB, s *testStore, st *Stream, subject string, hdr, data []byte, o *PublishOptions) PublishResult {
	t.Helper()
	replySeq.Lock()
	replySeq.n++
	reply := "r." + itoa(replySeq.n)
	replySeq.Unlock()
	m := NewInMsg([]byte(subject), []byte(reply), hdr, data)
	m.Options = o
	if err := st.Publish(m); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return s.acks.wait(t, reply)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// removeIndexFiles deletes every stream's index file under a store
// directory, as a crash before a clean stop would leave it.
func removeIndexFiles(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "streams", "*", indexFile))
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}
