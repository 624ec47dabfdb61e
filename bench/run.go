package bench

import (
	"context"
	"fmt"
	"sort"
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
	r := &run{ctx: ctx, cfg: &cfg, sc: sc, errs: map[string]int{}, warned: map[string]bool{}}
	r.slowBefore = r.serverSlowConsumers()
	r.started = time.Now()
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
	warns   []string
	warned  map[string]bool
	roles   []roleMeters
	version string

	events     events
	slowBefore int64 // the server's slow-consumer total before the run, -1 if unknown
	closing    atomic.Bool
	expected   int64
	delivered  int64
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

// warn records something the reader of the report must know that does
// not make the run fail, once.
func (r *run) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	if !r.warned[msg] {
		r.warned[msg] = true
		r.warns = append(r.warns, msg)
	}
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

// connect opens a client connection that reports asynchronous errors,
// disconnects, reconnects and slow-consumer events into the run.
func (r *run) connect(name string) (*nats.Conn, error) {
	opts := append(r.cfg.natsOptions("midge-bench "+name), r.eventOptions(name)...)
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
		} else if time.Since(moved) > r.stallLimit() {
			return n
		}
		select {
		case <-r.ctx.Done():
			return sum(ms)
		case <-t.C:
		}
	}
}

// stallLimit is how long a phase may make no progress: the configured
// timeout, or half a second once a connection of the run was lost (its
// messages are not coming, and the report says why).
func (r *run) stallLimit() time.Duration {
	if r.events.any() {
		return min(r.cfg.Timeout, 500*time.Millisecond)
	}
	return r.cfg.Timeout
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
		Server:        r.cfg.serverLabel(),
		URL:           r.cfg.URL,
		ServerVersion: r.version,
		Started:       r.started,
		Params:        r.params(),
		Expected:      r.expected,
		Delivered:     r.delivered,
		Lost:          max(0, r.expected-r.delivered),
		Timeline:      r.samp.finish(),
	}
	r.accountEvents(rep)
	for _, rm := range r.roles {
		rep.Roles = append(rep.Roles, aggregate(rm.role, rm.kind, rm.meters))
	}
	if rep.Lost > 0 {
		r.fail("%d of %d messages lost", rep.Lost, rep.Expected)
	}
	r.warnIfShort(rep)
	r.mu.Lock()
	defer r.mu.Unlock()
	rep.Warnings = r.warns
	for msg, n := range r.errs {
		if n > 1 {
			msg = fmt.Sprintf("%s (%d times)", msg, n)
		}
		rep.Errors = append(rep.Errors, msg)
	}
	sort.Strings(rep.Errors)
	return rep
}

// MinMeaningfulSeconds is the shortest measurement whose rates mean much:
// below about a second, start-up, scheduling and the first garbage
// collections decide the figure (the ratio between two runs of the same
// server varied 0.69 to 1.22 at a quarter of a second).
const MinMeaningfulSeconds = 1.0

// warnIfShort warns when the longest measured role ran for less than
// MinMeaningfulSeconds.
func (r *run) warnIfShort(rep *Report) {
	longest := 0.0
	for _, rs := range rep.Roles {
		longest = max(longest, rs.Seconds)
	}
	if longest > 0 && longest < MinMeaningfulSeconds {
		r.warn("measured for less than %g s: rates from runs this short vary widely between runs; use --duration 5s (or more --msgs)",
			MinMeaningfulSeconds)
	}
}

// params are the settings as the report shows them. A duration-bounded run
// claims no message count, except the messages stored before the clock
// started for the scenarios that read them.
func (r *run) params() Params {
	c := r.cfg
	p := Params{Msgs: c.Msgs, Size: c.Size, Duration: c.Duration.Seconds(), Pubs: c.Pubs, Subs: c.Subs, Subject: c.Subject}
	if r.sc.Prefills {
		p.Prefilled = c.Msgs
	}
	if c.Duration > 0 {
		p.Msgs = 0
	}
	if r.sc.JetStream {
		p.Stream, p.Storage, p.Batch = c.Stream, c.Storage, c.Batch
		p.SyncPub = c.SyncPub
		if r.sc.Name == "js-pub" && !c.SyncPub {
			p.Window = c.Window
		}
	}
	return p
}
