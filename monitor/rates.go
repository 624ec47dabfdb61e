package monitor

import (
	"net/http"
	"sync"
	"time"
)

// The dashboard's rate history. A page that computed rates only from its
// own polls would show an empty chart for its first seconds and nothing of
// what happened before it was opened; so while monitoring is on, the
// server samples its message and byte totals once a second and keeps the
// rates of the last few minutes, which /ratez serves. This endpoint is
// midge's own (the reference server has none); the figures are those of
// /varz, differenced.

// RatezPath serves the recent message and byte rates, oldest first, as
// {"interval_ms": 1000, "samples": [{"t": unix ms, "in_msgs": per second,
// "out_msgs", "in_bytes", "out_bytes"}, ...]}. ?since=T (unix ms) returns
// only the samples after T.
const RatezPath = "/ratez"

const (
	rateEvery      = time.Second
	rateHistoryLen = 300 // five minutes at one sample a second
)

// RateSample is the server's rates over the interval that ended at T.
type RateSample struct {
	T        int64   `json:"t"` // unix milliseconds
	InMsgs   float64 `json:"in_msgs"`
	OutMsgs  float64 `json:"out_msgs"`
	InBytes  float64 `json:"in_bytes"`
	OutBytes float64 `json:"out_bytes"`
}

// Ratez is the body of /ratez.
type Ratez struct {
	IntervalMS int64        `json:"interval_ms"`
	Samples    []RateSample `json:"samples"`
}

// rateTotals are the cumulative counters the rates are computed from.
type rateTotals struct {
	inMsgs, outMsgs, inBytes, outBytes int64
}

// rateHistory is a ring of the last rateHistoryLen samples.
type rateHistory struct {
	mu      sync.Mutex
	ring    [rateHistoryLen]RateSample
	n, next int
	last    rateTotals
	lastAt  time.Time

	stop chan struct{}
	done chan struct{}
}

// record turns the totals at a moment into one sample (from the second
// call on) and keeps it.
func (h *rateHistory) record(at time.Time, tot rateTotals) {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, prevAt := h.last, h.lastAt
	h.last, h.lastAt = tot, at
	dt := at.Sub(prevAt).Seconds()
	if prevAt.IsZero() || dt <= 0 {
		return
	}
	// Counters only grow; max keeps a restart of one from showing as a
	// negative rate.
	per := func(now, before int64) float64 { return float64(max(now-before, 0)) / dt }
	h.ring[h.next] = RateSample{
		T:        at.UnixMilli(),
		InMsgs:   per(tot.inMsgs, prev.inMsgs),
		OutMsgs:  per(tot.outMsgs, prev.outMsgs),
		InBytes:  per(tot.inBytes, prev.inBytes),
		OutBytes: per(tot.outBytes, prev.outBytes),
	}
	h.next = (h.next + 1) % rateHistoryLen
	h.n = min(h.n+1, rateHistoryLen)
}

// since returns the kept samples after unix millisecond t, oldest first.
func (h *rateHistory) since(t int64) []RateSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]RateSample, 0, h.n)
	for i := 0; i < h.n; i++ {
		s := h.ring[(h.next-h.n+i+rateHistoryLen)%rateHistoryLen]
		if s.T > t {
			out = append(out, s)
		}
	}
	return out
}

// startRates samples the server's totals every rateEvery until stopRates.
func (s *Server) startRates() {
	h := &s.rates
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	h.record(time.Now(), s.rateTotals())
	go func() {
		defer close(h.done)
		t := time.NewTicker(rateEvery)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case now := <-t.C:
				h.record(now, s.rateTotals())
			}
		}
	}()
}

// stopRates ends the sampling; calling it again does nothing.
func (s *Server) stopRates() {
	if h := &s.rates; h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
}

// rateTotals are the broker's message and byte totals.
func (s *Server) rateTotals() rateTotals {
	st := s.broker.Stats()
	return rateTotals{inMsgs: st.InMsgs, outMsgs: st.OutMsgs, inBytes: st.InBytes, outBytes: st.OutBytes}
}

func (s *Server) handleRatez(w http.ResponseWriter, r *http.Request) {
	q := &query{r: r}
	since := q.uint64("since")
	if q.err != nil {
		badRequest(w, q.err)
		return
	}
	writeJSON(w, http.StatusOK, Ratez{IntervalMS: rateEvery.Milliseconds(), Samples: s.rates.since(int64(min(since, 1<<62)))})
}
