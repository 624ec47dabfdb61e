package multiraft

import (
	"sync"
	"time"
)

// goDriver drives a host with goroutines: Workers goroutines run scheduled
// groups, one committer persists batches, one ticker ticks the host. No
// goroutine exists per group, so idle groups cost only memory.
type goDriver struct {
	h *Host

	mu      sync.Mutex
	runq    []*group
	jobs    []*job
	closed  bool
	wakeRun *sync.Cond
	wakeJob *sync.Cond

	quit chan struct{}
	wg   sync.WaitGroup
}

func newRuntime(h *Host) *goDriver {
	r := &goDriver{h: h, quit: make(chan struct{})}
	r.wakeRun = sync.NewCond(&r.mu)
	r.wakeJob = sync.NewCond(&r.mu)
	return r
}

func (r *goDriver) start() {
	h := r.h
	for range h.cfg.Workers {
		r.wg.Add(1)
		go r.worker()
	}
	r.wg.Add(2)
	go r.committer()
	go r.ticker()
}

func (r *goDriver) schedule(g *group) {
	r.mu.Lock()
	r.runq = append(r.runq, g)
	r.mu.Unlock()
	r.wakeRun.Signal()
}

func (r *goDriver) submit(j *job) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		failDrops([]*job{j}, ErrStopped)
		return
	}
	r.jobs = append(r.jobs, j)
	r.mu.Unlock()
	r.wakeJob.Signal()
}

func (r *goDriver) worker() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		for len(r.runq) == 0 && !r.closed {
			r.wakeRun.Wait()
		}
		if r.closed {
			r.mu.Unlock()
			return
		}
		g := r.runq[0]
		r.runq[0] = nil
		r.runq = r.runq[1:]
		r.mu.Unlock()
		r.h.runGroup(g)
	}
}

// committer takes every job waiting and commits them as one batch: the
// longer the previous fsync took, the more Readies share the next one.
func (r *goDriver) committer() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		for len(r.jobs) == 0 && !r.closed {
			r.wakeJob.Wait()
		}
		if r.closed {
			jobs := r.jobs
			r.jobs = nil
			r.mu.Unlock()
			failDrops(jobs, ErrStopped)
			return
		}
		jobs := r.jobs
		r.jobs = nil
		r.mu.Unlock()
		r.h.commitBatch(jobs)
	}
}

func (r *goDriver) ticker() {
	defer r.wg.Done()
	t := time.NewTicker(r.h.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.h.Tick()
		case <-r.quit:
			return
		}
	}
}

func (r *goDriver) stop() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	close(r.quit)
	r.wakeRun.Broadcast()
	r.wakeJob.Broadcast()
	r.wg.Wait()
}

// Manual drives a host from the caller's goroutine, for deterministic
// simulation: nothing runs until Run, which runs scheduled groups in the
// order Order chooses and commits their Readies until no work is left.
type Manual struct {
	h     *Host
	runq  []*group
	jobs  []*job
	Order func(n int, swap func(i, j int)) // shuffles a run's groups; nil keeps ID order
}

// OpenManual opens a host like Open but without goroutines: the caller
// delivers frames with Receive, advances time with Tick and does the
// work with Run.
func OpenManual(cfg Config, newSM func(GroupID) (StateMachine, error)) (*Host, *Manual, error) {
	h, err := open(cfg, newSM)
	if err != nil {
		return nil, nil, err
	}
	m := &Manual{h: h}
	h.drv = m
	for _, g := range h.order {
		h.schedule(g)
	}
	return h, m, nil
}

func (m *Manual) schedule(g *group) { m.runq = append(m.runq, g) }
func (m *Manual) submit(j *job)     { m.jobs = append(m.jobs, j) }
func (m *Manual) stop()             {}

// Receive hands the host a frame, as a transport would.
func (m *Manual) Receive(frame []byte) { m.h.receive(frame) }

// Run processes scheduled groups and commits their Readies, repeatedly,
// until nothing is scheduled or the host has failed.
func (m *Manual) Run() {
	for len(m.runq) > 0 || len(m.jobs) > 0 {
		if len(m.runq) > 0 {
			run := m.runq
			m.runq = nil
			slicesSortByID(run)
			if m.Order != nil {
				m.Order(len(run), func(i, j int) { run[i], run[j] = run[j], run[i] })
			}
			for _, g := range run {
				m.h.runGroup(g)
			}
		}
		if len(m.jobs) > 0 {
			jobs := m.jobs
			m.jobs = nil
			m.h.commitBatch(jobs)
		}
		if m.h.fatal() != nil {
			m.runq, m.jobs = nil, nil
			return
		}
	}
}
