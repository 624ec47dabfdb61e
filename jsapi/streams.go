package jsapi

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/sublist"
)

// Typed access to one account's streams for the other protocol adapters
// (the Kafka listener): the same stream life cycle as the $JS.API (a
// created stream is attached, so its subjects are captured; an updated one
// is subscribed again; a deleted one detached first), reads of the
// streams, and a publish that behaves like a NATS client's with a typed
// outcome instead of an ack on a reply subject.
//
// A typed publish goes through the broker like any publisher's, so core
// subscribers, routes and the stream's capture subscription all see it.
// The capture subscription recognises the message as the one its stream's
// typed publisher is delivering (by the identity of the subject bytes the
// publisher handed the broker: internal subscriptions receive the
// publisher's own slices) and queues the caller's jetstore.InMsg, whose
// Done reports the outcome on the committer, instead of a copy with a
// reply subject.

// Errors of the typed API.
var (
	// ErrNoJetStream: the account has no JetStream (not enabled, or being
	// closed).
	ErrNoJetStream = errors.New("jsapi: the account has no JetStream")
	// ErrNotCaptured: a typed publish was not taken by the stream it
	// named: its subject is not one of the stream's, or the stream was
	// detached while the message was being delivered.
	ErrNotCaptured = errors.New("jsapi: message not captured by the stream")
)

// AccountStreams is one account's streams as other adapters use them. It
// resolves the account's JetStream on every call, so it stays valid when
// JetStream is enabled again after a reload.
type AccountStreams struct {
	js  *JetStream
	acc *broker.Account
}

// AccountStreams returns the typed access to acc's streams.
func (j *JetStream) AccountStreams(acc *broker.Account) *AccountStreams {
	return &AccountStreams{js: j, acc: acc}
}

func (s *AccountStreams) account() (*jsAccount, error) {
	ja := s.js.of(s.acc)
	if ja == nil {
		return nil, fmt.Errorf("%w (account %s)", ErrNoJetStream, s.acc.Name())
	}
	return ja, nil
}

// CreateStream creates a stream and attaches it, as STREAM.CREATE does.
// An existing stream with the same configuration is returned with created
// false; one with another configuration is jetstore.ErrStreamNameInUse.
func (s *AccountStreams) CreateStream(cfg jetstore.StreamConfig) (st *jetstore.Stream, created bool, err error) {
	ja, err := s.account()
	if err != nil {
		return nil, false, err
	}
	st, created, err = ja.store.AddStream(cfg)
	if err != nil || !created {
		return st, false, err
	}
	if err := ja.attach(st); err != nil {
		_ = ja.store.DeleteStream(cfg.Name)
		return nil, false, err
	}
	return st, true, nil
}

// UpdateStream changes a stream's configuration and subscribes its
// subjects again, as STREAM.UPDATE does.
func (s *AccountStreams) UpdateStream(cfg jetstore.StreamConfig) (*jetstore.Stream, error) {
	ja, err := s.account()
	if err != nil {
		return nil, err
	}
	st, err := ja.store.UpdateStream(cfg)
	if err != nil {
		return nil, err
	}
	return st, ja.resubscribe(cfg.Name)
}

// DeleteStream detaches a stream and deletes it with its messages, as
// STREAM.DELETE does.
func (s *AccountStreams) DeleteStream(name string) error {
	ja, err := s.account()
	if err != nil {
		return err
	}
	ja.detach(name)
	return ja.store.DeleteStream(name)
}

// Stream returns a stream for reading (jetstore.ErrStreamNotFound when
// there is none). Writes go through Publish and the calls above, so that
// every protocol sees them.
func (s *AccountStreams) Stream(name string) (*jetstore.Stream, error) {
	ja, err := s.account()
	if err != nil {
		return nil, err
	}
	return ja.store.Stream(name)
}

// Streams returns every stream of the account, sorted by name, for
// reading.
func (s *AccountStreams) Streams() []*jetstore.Stream {
	ja, err := s.account()
	if err != nil {
		return nil
	}
	return ja.store.Streams()
}

// Publish publishes msgs in order into the account, as a NATS client
// publishing them would: core subscribers (and routes) receive them, and
// the stream named, which must capture each subject, stores them. Each
// message's Done (when set) receives its outcome on the stream's
// committer once it is durable or refused. Each message's Options are the
// stream's instructions as given: its header is not read for them, as a
// client's Nats-* headers are. Messages are published by one
// typed publisher per stream at a time, so those of one call are queued
// next to each other (a NATS client may still publish in between).
//
// A full ingest queue is waited on for up to wait. Publish stops at the
// first message the stream refuses at once and returns how many were
// queued before it and why; that message and the rest get no Done call.
// A refused message may still have reached core subscribers, as a NATS
// publisher's refused JetStream publish does.
func (s *AccountStreams) Publish(stream string, msgs []*jetstore.InMsg, wait time.Duration) (queued int, err error) {
	ja, err := s.account()
	if err != nil {
		return 0, err
	}
	js := ja.lookup(stream)
	if js == nil {
		return 0, jetstore.ErrStreamNotFound
	}
	subjects := js.stream.Config().Subjects
	for _, m := range msgs {
		if !capturedBy(subjects, m.Subject) {
			return 0, fmt.Errorf("%w: %q is not a subject of stream %s", ErrNotCaptured, m.Subject, stream)
		}
	}
	tp := &js.typed
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.pub == nil {
		tp.pub = ja.acc.NewPublisher()
	}
	defer tp.pub.Flush()
	tp.wait = wait
	for i, m := range msgs {
		if err := tp.deliver(m); err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

// capturedBy reports whether a literal subject is one of a stream's.
func capturedBy(subjects []string, subject string) bool {
	if !sublist.ValidLiteralSubject(subject) {
		return false
	}
	for _, s := range subjects {
		if sublist.MatchLiteral(subject, s) {
			return true
		}
	}
	return false
}

// typedPublisher is a stream's publisher for typed publishes. Its fields
// other than mark belong to the goroutine holding mu: the capture handler
// that finds mark equal to its subject runs inside that goroutine's
// Stage call.
type typedPublisher struct {
	mu      sync.Mutex
	pub     *broker.Publisher
	subject []byte // the subject bytes handed to the broker, reused
	// mark is &subject[0] while a message is being delivered: no other
	// publisher's subject can live at that address.
	mark  atomic.Pointer[byte]
	cur   *jetstore.InMsg
	wait  time.Duration
	taken bool
	err   error
}

// deliver publishes one message and reports whether its stream queued it.
func (tp *typedPublisher) deliver(m *jetstore.InMsg) error {
	tp.subject = append(tp.subject[:0], m.Subject...)
	tp.cur, tp.taken, tp.err = m, false, nil
	tp.mark.Store(&tp.subject[0])
	tp.pub.Stage(tp.subject, nil, m.Header, m.Data)
	tp.mark.Store(nil)
	tp.cur = nil
	switch {
	case !tp.taken:
		return fmt.Errorf("%w: no capture of %q took it", ErrNotCaptured, m.Subject)
	case tp.err != nil:
		return tp.err
	}
	return nil
}

// claims reports whether a captured message is the typed publisher's
// message in flight (called by the capture handler of every publish).
func (tp *typedPublisher) claims(subject []byte) bool {
	p := tp.mark.Load()
	return p != nil && len(subject) > 0 && &subject[0] == p
}

// take queues the message in flight into the stream, waiting for room in
// its ingest queue for up to the publisher's wait. It runs in the capture
// handler, on the typed publisher's goroutine.
func (tp *typedPublisher) take(st *jetstore.Stream) {
	tp.taken = true
	var deadline time.Time
	for {
		err := st.Publish(tp.cur)
		if err == nil || !errors.Is(err, jetstore.ErrIngestQueueFull) {
			tp.err = err
			return
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(tp.wait)
		}
		if !time.Now().Before(deadline) {
			tp.err = err
			return
		}
		time.Sleep(time.Millisecond)
	}
}
