package jetstore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock (Options.Now): tests move time instead of
// waiting for it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// engine drives consumers at the store level: a real store in a temporary
// directory, a fake clock, and a recorder in place of the server.
type engine struct {
	t     *testing.T
	s     *testStore
	st    *Stream
	rec   *recorder
	clock *fakeClock
}

func newEngine(t *testing.T, cfg StreamConfig, mutate ...func(*Options)) *engine {
	t.Helper()
	e := &engine{t: t, rec: newRecorder(), clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}}
	e.s = openTestStore(t, t.TempDir(), append([]func(*Options){func(o *Options) {
		o.NewSender = e.rec.newSender
		o.Now = e.clock.Now
	}}, mutate...)...)
	e.st = mustAdd(t, e.s, cfg)
	return e
}

// publish stores messages on the given subjects; each one's data is
// "<subject>#<seq>". It returns their sequences.
func (e *engine) publish(subjects ...string) []uint64 {
	e.t.Helper()
	var seqs []uint64
	for _, subject := range subjects {
		next := e.st.State("", false).LastSeq + 1
		r := publish(e.t, e.s, e.st, subject, nil, []byte(fmt.Sprintf("%s#%d", subject, next)))
		if r.Err != nil {
			e.t.Fatalf("publish %s: %v", subject, r.Err)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

// consumer creates a consumer and lets it run its first pass.
func (e *engine) consumer(cfg ConsumerConfig) *Consumer {
	e.t.Helper()
	c, _, err := e.st.AddConsumer(cfg, ActionCreate)
	if err != nil {
		e.t.Fatalf("AddConsumer: %v", err)
	}
	e.settle(c)
	return c
}

// settle waits for a pass of c that started after everything before.
func (e *engine) settle(c *Consumer) {
	e.t.Helper()
	if !c.settle() {
		e.t.Fatal("consumer stopped")
	}
}

// step moves the clock by d and lets c run a pass at the new time.
func (e *engine) step(c *Consumer, d time.Duration) {
	e.t.Helper()
	e.clock.advance(d)
	e.settle(c)
}

// deliveries reads n deliveries and returns their stream sequences.
func (e *engine) deliveries(n int) []uint64 {
	e.t.Helper()
	var seqs []uint64
	for i := 0; i < n; i++ {
		seqs = append(seqs, e.rec.next(e.t).StreamSeq)
	}
	return seqs
}

// untilStatus reads deliveries up to the next status and returns their
// stream sequences and the status.
func (e *engine) untilStatus() ([]uint64, Status) {
	e.t.Helper()
	var seqs []uint64
	for {
		ev := e.rec.nextEvent(e.t)
		switch {
		case ev.delivery != nil:
			seqs = append(seqs, ev.delivery.StreamSeq)
		case ev.status != nil:
			return seqs, *ev.status
		default:
			e.t.Fatalf("unexpected %v", ev)
		}
	}
}

func (e *engine) wantSeqs(got []uint64, want ...uint64) {
	e.t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Fatalf("delivered %v, want %v", got, want)
	}
}

// info is c's info after a settled pass.
func (e *engine) info(c *Consumer) ConsumerInfo {
	e.t.Helper()
	e.settle(c)
	return c.Info()
}

func pullOf(batch int) PullRequest { return PullRequest{Reply: []byte("inbox"), Batch: batch} }
