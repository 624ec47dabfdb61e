package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Run executes one benchmark. An error means the run could not be set up
// (bad configuration, no server, no JetStream); problems during the
// measurement — lost messages, slow consumers, failed publishes — are in
// the report, and Report.OK is false.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	sc, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	r := &run{ctx: ctx, cfg: &cfg, sc: sc, started: time.Now(), errs: map[string]int{}}
	r.samp = startSampler(cfg.Progress)
	defer r.closeAll()
	if err := sc.run(r); err != nil {
		r.samp.finish()
		return nil, err
	}
	return r.report(), nil
}

// run is the state of one benchmark run shared by its clients.
type run struct {
	ctx     context.Context
	cfg     *Config
	sc      *Scenario
	started time.Time
	samp    *sampler

	mu      sync.Mutex
	conns   []*nats.Conn
	subs    []*nats.Subscription
	errs    map[string]int // message -> occurrences
	roles   []roleMeters
	version string

	closing   atomic.Bool
	slow      atomic.Int64
	expected  int64
	delivered int64
}

type roleMeters struct {
	role, kind string
	meters     []*meter
}

// fail records a problem that makes the run unsuccessful. Repeats of the
// same message are counted rather than listed.
func (r *run) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.errs[msg]++
	r.mu.Unlock()
}

// meters creates n meters for a measured role and adds it to the report and
// the timeline; kind names the latency they record ("" for none).
func (r *run) meters(role, kind string, n int) []*meter {
	ms := make([]*meter, n)
	for i := range ms {
		ms[i] = newMeter(role, i+1, kind != "")
	}
	r.mu.Lock()
	r.roles = append(r.roles, roleMeters{role: role, kind: kind, meters: ms})
	r.mu.Unlock()
	r.samp.track(role, ms)
	return ms
}

// connect opens a client connection that reports asynchronous errors and
// slow-consumer events into the run.
func (r *run) connect(name string) (*nats.Conn, error) {
	opts := append(r.cfg.natsOptions("midge-bench "+name),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if err == nats.ErrSlowConsumer {
				r.slow.Add(1)
			}
			r.fail("%s: %v", name, err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil || r.closing.Load() {
				return
			}
			if strings.Contains(strings.ToLower(err.Error()), "slow consumer") {
				r.slow.Add(1)
			}
			r.fail("%s disconnected: %v", name, err)
		}))
	nc, err := nats.Connect(r.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting %s to %s: %w", name, r.cfg.URL, err)
	}
	r.mu.Lock()
	r.conns = append(r.conns, nc)
	if r.version == "" {
		r.version = nc.ConnectedServerVersion()
	}
	r.mu.Unlock()
	return nc, nil
}

// connectN opens n connections named role-1 .. role-n.
func (r *run) connectN(role string, n int) ([]*nats.Conn, error) {
	ncs := make([]*nats.Conn, n)
	for i := range ncs {
		nc, err := r.connect(fmt.Sprintf("%s-%d", role, i+1))
		if err != nil {
			return nil, err
		}
		ncs[i] = nc
	}
	return ncs, nil
}

// watchSub remembers a subscription so messages it dropped as a slow
// consumer are reported at the end.
func (r *run) watchSub(s *nats.Subscription) {
	r.mu.Lock()
	r.subs = append(r.subs, s)
	r.mu.Unlock()
}

// waitFor polls until the meters' total reaches want, the context ends, or
// the total has not moved for the configured timeout. It returns the total.
func (r *run) waitFor(ms []*meter, want int64) int64 {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	last, moved := sum(ms), time.Now()
	for {
		n := sum(ms)
		if n >= want {
			return n
		}
		if n != last {
			last, moved = n, time.Now()
		} else if time.Since(moved) > r.cfg.Timeout {
			return n
		}
		select {
		case <-r.ctx.Done():
			return sum(ms)
		case <-t.C:
		}
	}
}

// account records the delivery totals of the run.
func (r *run) account(expected, delivered int64) {
	r.expected += expected
	r.delivered += delivered
}

func (r *run) closeAll() {
	r.closing.Store(true)
	r.mu.Lock()
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	for _, nc := range conns {
		nc.Close()
	}
}

func (r *run) report() *Report {
	for i, s := range r.subs {
		if d, err := s.Dropped(); err == nil && d > 0 {
			r.fail("subscription %d dropped %d messages (slow consumer)", i+1, d)
		}
	}
	rep := &Report{
		Scenario:      r.sc.Name,
		Summary:       r.sc.Summary,
		Server:        r.cfg.URL,
		ServerVersion: r.version,
		Started:       r.started,
		Params:        r.params(),
		Expected:      r.expected,
		Delivered:     r.delivered,
		Lost:          max(0, r.expected-r.delivered),
		SlowConsumers: r.slow.Load(),
		Timeline:      r.samp.finish(),
	}
	for _, rm := range r.roles {
		rep.Roles = append(rep.Roles, aggregate(rm.role, rm.kind, rm.meters))
	}
	if rep.Lost > 0 {
		r.fail("%d of %d messages lost", rep.Lost, rep.Expected)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for msg, n := range r.errs {
		if n > 1 {
			msg = fmt.Sprintf("%s (%d times)", msg, n)
		}
		rep.Errors = append(rep.Errors, msg)
	}
	sort.Strings(rep.Errors)
	return rep
}

func (r *run) params() Params {
	c := r.cfg
	p := Params{Msgs: c.Msgs, Size: c.Size, Duration: c.Duration.Seconds(), Pubs: c.Pubs, Subs: c.Subs, Subject: c.Subject}
	if r.sc.JetStream {
		p.Stream, p.Storage, p.Batch = c.Stream, c.Storage, c.Batch
		p.SyncPub = c.SyncPub
		if r.sc.Name == "js-pub" && !c.SyncPub {
			p.Window = c.Window
		}
	}
	return p
}
