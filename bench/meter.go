package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// A meter measures one client. n is read by the sampler while the client
// runs; the other fields belong to the client's goroutine until it is done,
// except for subscribers, whose callbacks update them under mu (nats.go runs
// a subscription's callbacks on a goroutine it owns, so mu is what orders
// the last callback before the final read).
type meter struct {
	role string
	id   int
	n    atomic.Int64 // messages so far

	mu    sync.Mutex
	bytes int64
	start time.Time // first message (receivers) or start of sending
	end   time.Time // last message, or end of sending
	hist  *hdrhistogram.Histogram
}

func newMeter(role string, id int, latency bool) *meter {
	m := &meter{role: role, id: id}
	if latency {
		m.hist = newHistogram()
	}
	return m
}

// received is a receiver's per-message bookkeeping. lat < 0 means the
// message carried no timestamp.
func (m *meter) received(now time.Time, size int, lat time.Duration) {
	m.mu.Lock()
	if m.start.IsZero() {
		m.start = now
	}
	m.end = now
	m.bytes += int64(size)
	if lat >= 0 && m.hist != nil {
		recordLatency(m.hist, lat)
	}
	m.mu.Unlock()
	m.n.Add(1)
}

// sent is the sender side's bookkeeping, called once when it is done.
func (m *meter) sent(start, end time.Time, msgs int64, size int) {
	m.mu.Lock()
	m.start, m.end = start, end
	m.bytes = msgs * int64(size)
	m.mu.Unlock()
}

// observe records one latency sample from the client's own goroutine.
func (m *meter) observe(d time.Duration) {
	m.mu.Lock()
	recordLatency(m.hist, d)
	m.mu.Unlock()
}

// count is the number of messages so far.
func (m *meter) count() int64 { return m.n.Load() }

func sum(ms []*meter) int64 {
	var t int64
	for _, m := range ms {
		t += m.count()
	}
	return t
}

// stats freezes the meter into its report form.
func (m *meter) stats(kind string) ClientStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := ClientStats{ID: m.id, Msgs: m.n.Load(), Bytes: m.bytes, start: m.start, end: m.end}
	if !m.start.IsZero() {
		cs.Seconds = m.end.Sub(m.start).Seconds()
	}
	cs.MsgsPerSec, cs.MBPerSec = rates(cs.Msgs, cs.Bytes, cs.Seconds)
	cs.Latency = summarize(kind, m.hist, false)
	return cs
}

func rates(msgs, bytes int64, secs float64) (msgsPerSec, mbPerSec float64) {
	if secs <= 0 {
		return 0, 0
	}
	return float64(msgs) / secs, float64(bytes) / secs / 1e6
}
