package bench

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The JetStream read scenarios fill the stream with Msgs messages first
// (untimed), then time the consumers reading them back. Fetch and Consume
// share one durable consumer with explicit acks, so the clients split the
// messages; every ordered consumer reads the whole stream.

type jsMode int

const (
	jsFetch jsMode = iota
	jsConsume
	jsOrdered
)

const durableName = "midge-bench"

func runJSConsumer(r *run, mode jsMode) error {
	kind := ""
	if mode == jsFetch {
		kind = "fetch batch"
	}
	subs := r.meters("consumers", kind, r.cfg.Subs)
	js, st, err := r.adminStream()
	if err != nil {
		return err
	}
	if err := r.fill(js, r.cfg.Msgs, func(int) string { return r.cfg.Subject }); err != nil {
		return err
	}
	if mode != jsOrdered {
		if err := r.freshDurable(st); err != nil {
			return err
		}
	}
	jss, err := r.jetStreams("consumer", r.cfg.Subs)
	if err != nil {
		return err
	}
	shares := perClient(r.cfg.Msgs, r.cfg.Subs)
	want := int64(r.cfg.Msgs)
	if mode == jsOrdered {
		for i := range shares {
			shares[i] = r.cfg.Msgs
		}
		want *= int64(r.cfg.Subs)
	}
	r.samp.setPhase("consume", want, subs)
	if mode == jsFetch {
		r.fetchAll(jss, subs, shares)
	} else if err := r.consumeAll(jss, subs, shares, want, mode); err != nil {
		return err
	}
	got := sum(subs)
	if r.cfg.Duration > 0 {
		want = min(want, got) // a duration-bounded read may stop early
	}
	r.account(want, got)
	return nil
}

// freshDurable replaces the durable consumer so it starts at the first
// message of the freshly filled stream.
func (r *run) freshDurable(st jetstream.Stream) error {
	ctx, cancel := r.opCtx()
	defer cancel()
	if err := st.DeleteConsumer(ctx, durableName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("deleting consumer %s: %w", durableName, err)
	}
	_, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   durableName,
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		return fmt.Errorf("creating consumer %s: %w", durableName, err)
	}
	return nil
}

// phaseTotal is how many messages a phase expects: -1 (unknown) for a
// duration-bounded run.
func (r *run) phaseTotal() int64 {
	if r.cfg.Duration > 0 {
		return -1
	}
	return int64(r.cfg.Msgs)
}

func (r *run) deadline() time.Time {
	if r.cfg.Duration > 0 {
		return time.Now().Add(r.cfg.Duration)
	}
	return time.Time{}
}

// fetchAll runs one fetching client per meter until each has its share.
func (r *run) fetchAll(jss []jetstream.JetStream, ms []*meter, shares []int) {
	deadline := r.deadline()
	var wg sync.WaitGroup
	for i, js := range jss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.fetch(js, ms[i], shares[i], deadline); err != nil {
				r.fail("%s-%d: %v", ms[i].role, i+1, err)
			}
		}()
	}
	wg.Wait()
}

// fetch pulls batches of up to Batch messages, acking each message, and
// times each batch from the request to its last message.
func (r *run) fetch(js jetstream.JetStream, m *meter, share int, deadline time.Time) error {
	ctx, cancel := r.opCtx()
	cons, err := js.Consumer(ctx, r.cfg.Stream, durableName)
	cancel()
	if err != nil {
		return err
	}
	for got := 0; got < share && !r.stopping(deadline); {
		t0 := time.Now()
		batch, err := cons.Fetch(min(r.cfg.Batch, share-got), jetstream.FetchMaxWait(r.cfg.Timeout))
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			if err := msg.Ack(); err != nil {
				return fmt.Errorf("ack: %w", err)
			}
			m.received(time.Now(), len(msg.Data()), -1)
			n++
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("fetch returned no messages after %d", got)
		}
		m.observe(time.Since(t0))
		got += n
	}
	return nil
}

// consumeAll starts one Consume (durable) or ordered consumer per meter,
// waits until all messages arrived, the duration is over or progress
// stalls, then stops them.
func (r *run) consumeAll(jss []jetstream.JetStream, ms []*meter, shares []int, want int64, mode jsMode) error {
	var ccs []jetstream.ConsumeContext
	defer func() {
		for _, cc := range ccs {
			cc.Stop()
			<-cc.Closed()
		}
	}()
	for i, js := range jss {
		cons, err := r.consumer(js, mode)
		if err != nil {
			return err
		}
		m := ms[i]
		cc, err := cons.Consume(func(msg jetstream.Msg) {
			if mode != jsOrdered {
				if err := msg.Ack(); err != nil {
					r.fail("%s-%d: ack: %v", m.role, m.id, err)
				}
			}
			m.received(time.Now(), len(msg.Data()), -1)
		},
			jetstream.PullMaxMessages(r.cfg.Batch),
			jetstream.PullHeartbeat(consumeHeartbeat),
			jetstream.StopAfter(shares[i]),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if errors.Is(err, jetstream.ErrNoHeartbeat) {
					// nats.go pulls again (an ordered consumer is
					// recreated) and goes on: a stall worth reporting, not
					// a failure; the delivery count says whether anything
					// was lost.
					r.warn("%s-%d: consume: %v (the client pulled again)", m.role, m.id, err)
					return
				}
				r.fail("%s-%d: consume: %v", m.role, m.id, err)
			}))
		if err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		ccs = append(ccs, cc)
	}
	if r.cfg.Duration > 0 {
		r.waitDuration(ms, want, r.cfg.Duration)
	} else {
		r.waitFor(ms, want)
	}
	return nil
}

// consumeHeartbeat is the idle heartbeat a Consume asks for: nats.go
// notices a pull the server lost after two of them and pulls again (an
// ordered consumer is recreated). With the default (the pull expiry's
// half) that took longer than the run's stall limit, so one lost pull
// failed a run that would have gone on.
const consumeHeartbeat = time.Second

func (r *run) consumer(js jetstream.JetStream, mode jsMode) (jetstream.Consumer, error) {
	ctx, cancel := r.opCtx()
	defer cancel()
	if mode == jsOrdered {
		return js.OrderedConsumer(ctx, r.cfg.Stream, jetstream.OrderedConsumerConfig{})
	}
	return js.Consumer(ctx, r.cfg.Stream, durableName)
}
