package jetstore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// recorder is a Sender that records everything consumers send, in order,
// so that tests read a consumer's output as typed values.
type recorder struct {
	mu      sync.Mutex
	events  []event
	read    int
	added   chan struct{}
	deaf    map[string]bool // targets nobody listens to
	flushes int
}

// event is one thing a consumer sent.
type event struct {
	consumer string
	target   string
	delivery *Delivery // a message
	status   *Status   // a status
	ackDone  string    // an answered acknowledgement's reply
	// ackFailed is the reply of an acknowledgement answered with a failure.
	ackFailed string
}

func (e event) String() string {
	switch {
	case e.delivery != nil:
		d := e.delivery
		return fmt.Sprintf("%s: deliver %s sseq=%d cseq=%d dc=%d pending=%d %q", e.target, d.Subject, d.StreamSeq,
			d.ConsumerSeq, d.Deliveries, d.Pending, d.Data)
	case e.status != nil:
		return fmt.Sprintf("%s: status %+v", e.target, *e.status)
	}
	if e.ackFailed != "" {
		return "ack failed on " + e.ackFailed
	}
	return "ack answered on " + e.ackDone
}

func newRecorder() *recorder {
	return &recorder{added: make(chan struct{}, 1), deaf: make(map[string]bool)}
}

// newSender is the store's Options.NewSender.
func (r *recorder) newSender(_, consumer string) Sender { return &recorderSender{r, consumer} }

type recorderSender struct {
	r        *recorder
	consumer string
}

func (s *recorderSender) add(e event) {
	e.consumer = s.consumer
	s.r.mu.Lock()
	s.r.events = append(s.r.events, e)
	s.r.mu.Unlock()
	select {
	case s.r.added <- struct{}{}:
	default:
	}
}

func (s *recorderSender) Deliver(target []byte, d Delivery) {
	// Header and Data are borrowed: keep copies.
	d.Header, d.Data = append([]byte(nil), d.Header...), append([]byte(nil), d.Data...)
	s.add(event{target: string(target), delivery: &d})
}

func (s *recorderSender) Status(target []byte, st Status) {
	s.add(event{target: string(target), status: &st})
}

func (s *recorderSender) AckDone(reply []byte) { s.add(event{ackDone: string(reply)}) }

func (s *recorderSender) AckFailed(reply []byte) { s.add(event{ackFailed: string(reply)}) }

func (s *recorderSender) Flush() {
	s.r.mu.Lock()
	s.r.flushes++
	s.r.mu.Unlock()
}

func (s *recorderSender) HasInterest(target []byte) bool {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return !s.r.deaf[string(target)]
}

// setDeaf makes target have no listener (or one again).
func (r *recorder) setDeaf(target string, deaf bool) {
	r.mu.Lock()
	r.deaf[target] = deaf
	r.mu.Unlock()
}

// nextEvent returns the next recorded event, waiting for it (bounded).
func (r *recorder) nextEvent(t testing.TB) event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		if r.read < len(r.events) {
			e := r.events[r.read]
			r.read++
			r.mu.Unlock()
			return e
		}
		r.mu.Unlock()
		select {
		case <-r.added:
		case <-deadline:
			t.Fatal("nothing sent")
		}
	}
}

// next returns the next event, which must be a delivery.
func (r *recorder) next(t testing.TB) Delivery {
	t.Helper()
	e := r.nextEvent(t)
	if e.delivery == nil {
		t.Fatalf("expected a delivery, got %v", e)
	}
	return *e.delivery
}

// nextStatus returns the next event, which must be a status.
func (r *recorder) nextStatus(t testing.TB) (string, Status) {
	t.Helper()
	e := r.nextEvent(t)
	if e.status == nil {
		t.Fatalf("expected a status, got %v", e)
	}
	return e.target, *e.status
}

// none asserts that nothing was sent that was not read yet.
func (r *recorder) none(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read < len(r.events) {
		t.Fatalf("unexpected: %v", r.events[r.read])
	}
}
