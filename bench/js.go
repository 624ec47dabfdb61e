package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoJetStream means the server does not answer the JetStream API.
var ErrNoJetStream = errors.New("the server has no JetStream (no responders on $JS.API.INFO)")

// HasJetStream asks the server for its JetStream account info: false when
// nobody answers, an error when the question itself fails.
func HasJetStream(nc *nats.Conn, timeout time.Duration) (bool, error) {
	_, err := nc.Request("$JS.API.INFO", nil, timeout)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, nats.ErrNoResponders):
		return false, nil
	default:
		return false, fmt.Errorf("asking for JetStream: %w", err)
	}
}

// jetStream returns nc's JetStream context, or ErrNoJetStream. The async
// publish window of nats.go is at least ours, so our window is the limit.
func (r *run) jetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	ok, err := HasJetStream(nc, r.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoJetStream
	}
	return jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(r.cfg.Window+1),
		jetstream.WithPublishAsyncTimeout(r.cfg.Timeout),
		jetstream.WithDefaultTimeout(r.cfg.Timeout))
}

// jetStreams connects n clients and returns their JetStream contexts.
func (r *run) jetStreams(role string, n int) ([]jetstream.JetStream, error) {
	ncs, err := r.connectN(role, n)
	if err != nil {
		return nil, err
	}
	jss := make([]jetstream.JetStream, n)
	for i, nc := range ncs {
		if jss[i], err = r.jetStream(nc); err != nil {
			return nil, err
		}
	}
	return jss, nil
}

func (r *run) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.ctx, r.cfg.Timeout)
}

func (r *run) storage() jetstream.StorageType {
	if r.cfg.Storage == "memory" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// freshStream makes the stream empty, with this run's subject and storage,
// so its message count afterwards is exactly what the run stored: an
// update and a purge when possible, else (e.g. the storage type differs) a
// delete and a create.
func (r *run) freshStream(js jetstream.JetStream) (jetstream.Stream, error) {
	ctx, cancel := r.opCtx()
	defer cancel()
	cfg := jetstream.StreamConfig{Name: r.cfg.Stream, Subjects: []string{r.cfg.Subject}, Storage: r.storage(), Replicas: r.cfg.Replicas}
	st, err := js.CreateOrUpdateStream(ctx, cfg)
	if err == nil {
		if err := st.Purge(ctx); err != nil {
			return nil, fmt.Errorf("purging stream %s: %w", r.cfg.Stream, err)
		}
		return st, nil
	}
	if err := js.DeleteStream(ctx, r.cfg.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("deleting stream %s: %w", r.cfg.Stream, err)
	}
	if st, err = js.CreateStream(ctx, cfg); err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", r.cfg.Stream, err)
	}
	return st, nil
}

// checkStored compares the stream's message count with what was acked.
func (r *run) checkStored(st jetstream.Stream, acked int64) {
	ctx, cancel := r.opCtx()
	defer cancel()
	info, err := st.Info(ctx)
	if err != nil {
		r.fail("stream info: %v", err)
		return
	}
	if info.State.Msgs != uint64(acked) {
		r.fail("stream %s holds %d messages, %d publishes were acknowledged", r.cfg.Stream, info.State.Msgs, acked)
	}
}

// adminStream connects the admin client and gives the scenario an empty
// stream to work on.
func (r *run) adminStream() (jetstream.JetStream, jetstream.Stream, error) {
	admin, err := r.connect("admin")
	if err != nil {
		return nil, nil, err
	}
	js, err := r.jetStream(admin)
	if err != nil {
		return nil, nil, err
	}
	st, err := r.freshStream(js)
	if err != nil {
		return nil, nil, err
	}
	return js, st, nil
}

func runJSPub(r *run) error {
	kind := "publish to ack (async)"
	if r.cfg.SyncPub {
		kind = "publish to ack (sync)"
	}
	pubs := r.meters("publishers", kind, r.cfg.Pubs)
	_, st, err := r.adminStream()
	if err != nil {
		return err
	}
	jss, err := r.jetStreams("pub", r.cfg.Pubs)
	if err != nil {
		return err
	}
	total := r.phaseTotal()
	r.samp.setPhase("publish", total, pubs)
	shares := perClient(r.cfg.Msgs, r.cfg.Pubs)
	failed := make([]int64, r.cfg.Pubs)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, js := range jss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			failed[i] = r.jsPublish(js, pubs[i], shares[i], r.cfg.Subject, r.cfg.SyncPub)
		}()
	}
	close(gate)
	wg.Wait()
	acked := sum(pubs)
	var lost int64
	for _, f := range failed {
		lost += f
	}
	r.account(acked+lost, acked)
	r.checkStored(st, acked)
	return nil
}

// jsPublish publishes n messages to subject (or as many as fit in the
// duration) and returns how many were not acknowledged. The meter counts
// acknowledged messages and records each one's send-to-ack latency.
func (r *run) jsPublish(js jetstream.JetStream, m *meter, n int, subject string, sync bool) (failed int64) {
	payload := make([]byte, r.cfg.Size)
	start := time.Now()
	deadline := r.deadline()
	if !deadline.IsZero() {
		n = math.MaxInt
	}
	if sync {
		failed = r.jsPublishSync(js, m, n, subject, payload, deadline)
	} else {
		failed = r.jsPublishAsync(js, m, n, subject, payload, deadline)
	}
	m.sent(start, time.Now(), m.count(), r.cfg.Size)
	return failed
}

func (r *run) jsPublishSync(js jetstream.JetStream, m *meter, n int, subject string, payload []byte, deadline time.Time) int64 {
	for i := 0; i < n; i++ {
		if i&63 == 63 && r.stopping(deadline) {
			break
		}
		t0 := time.Now()
		if _, err := js.Publish(r.ctx, subject, payload); err != nil {
			r.fail("%s: publish: %v", m.role, err)
			return 1
		}
		m.observe(time.Since(t0))
		m.n.Add(1)
	}
	return 0
}

// jsPublishAsync publishes with at most Window acks outstanding and records
// each message's send-to-ack latency.
func (r *run) jsPublishAsync(js jetstream.JetStream, m *meter, n int, subject string, payload []byte, deadline time.Time) int64 {
	var failed int64
	err := r.publishWindowed(js, n, func(int) string { return subject }, payload, deadline,
		func(sent time.Time, err error) {
			if err != nil {
				r.fail("%s: publish ack: %v", m.role, err)
				failed++
				return
			}
			m.observe(time.Since(sent))
			m.n.Add(1)
		})
	if err != nil {
		r.fail("%s: publish: %v", m.role, err)
	}
	return failed
}

// publishWindowed keeps at most Window publishes awaiting their ack: a slot
// is taken before each publish and given back when its ack (or error) has
// been seen. One collector goroutine takes the acks in publish order, the
// order the server sends them for one stream, and calls onAck for each
// before publishWindowed returns.
func (r *run) publishWindowed(js jetstream.JetStream, n int, subjectOf func(int) string, payload []byte,
	deadline time.Time, onAck func(sent time.Time, err error)) error {
	type inFlight struct {
		f    jetstream.PubAckFuture
		sent time.Time
	}
	slots := make(chan struct{}, r.cfg.Window)
	queue := make(chan inFlight, r.cfg.Window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range queue {
			select {
			case <-p.f.Ok():
				onAck(p.sent, nil)
			case err := <-p.f.Err():
				onAck(p.sent, err)
			}
			<-slots
		}
	}()
	defer func() { close(queue); <-done }()
	for i := 0; i < n; i++ {
		if i&63 == 63 && r.stopping(deadline) {
			return nil
		}
		slots <- struct{}{}
		t0 := time.Now()
		f, err := js.PublishAsync(subjectOf(i), payload)
		if err != nil {
			<-slots
			return err
		}
		queue <- inFlight{f, t0}
	}
	return nil
}

// fill stores n messages of the configured size before a read scenario,
// untimed, publishing to subjectOf(i). It fails unless every one is acked.
func (r *run) fill(js jetstream.JetStream, n int, subjectOf func(i int) string) error {
	m := newMeter("fill", 1, false)
	r.samp.setPhase("fill", int64(n), []*meter{m})
	var first error
	err := r.publishWindowed(js, n, subjectOf, make([]byte, r.cfg.Size), time.Time{},
		func(_ time.Time, err error) {
			if err != nil && first == nil {
				first = err
			}
			if err == nil {
				m.n.Add(1)
			}
		})
	if err == nil {
		err = first
	}
	if err != nil {
		return fmt.Errorf("filling: %w", err)
	}
	if got := m.count(); got != int64(n) {
		return fmt.Errorf("filling: %d of %d messages stored", got, n)
	}
	return nil
}
