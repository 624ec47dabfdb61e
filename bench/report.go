package bench

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the outcome of one run: what was asked, what each group of
// clients achieved, and whether every message arrived.
type Report struct {
	Label    string `json:"label,omitempty"` // "A" or "B" in a comparison
	Run      int    `json:"run,omitempty"`   // 1, 2, ... per label in a comparison
	Scenario string `json:"scenario"`
	Summary  string `json:"summary"`
	// Server names the server as the reader knows it: its URL, or
	// "embedded midge" for the in-process server; URL is where it listened.
	Server        string    `json:"server"`
	URL           string    `json:"url"`
	ServerVersion string    `json:"server_version,omitempty"`
	Started       time.Time `json:"started"`
	Params        Params    `json:"params"`

	Roles []RoleStats `json:"roles"`

	// Expected is how many deliveries the receivers should have seen (0 when
	// unknown, e.g. a duration-bounded sub run), Delivered how many they saw
	// and Lost the shortfall. Any loss or error makes the run fail.
	Expected  int64 `json:"expected"`
	Delivered int64 `json:"delivered"`
	Lost      int64 `json:"lost"`
	// SlowConsumers counts this run's slow-consumer events: connections the
	// server closed as slow consumers and subscriptions that dropped
	// messages in the client. ServerSlowConsumers is how much the server's
	// own count grew during the run (-1: the run could not ask).
	SlowConsumers       int64 `json:"slow_consumers"`
	ServerSlowConsumers int64 `json:"server_slow_consumers"`
	// Disconnects and Reconnects count the connections lost and regained;
	// Connections has the details of every connection that had an event.
	Disconnects int64              `json:"disconnects"`
	Reconnects  int64              `json:"reconnects"`
	Connections []ConnectionEvents `json:"connection_events,omitempty"`
	Errors      []string           `json:"errors,omitempty"`
	// Warnings do not fail the run but qualify its figures (a run too short
	// to mean much, say).
	Warnings []string `json:"warnings,omitempty"`

	Timeline Timeline `json:"timeline"`
}

// Params are the normalized settings of the run.
type Params struct {
	Msgs int `json:"msgs"` // 0 in a duration-bounded run
	Size int `json:"size"`
	// Prefilled is how many messages the read scenarios stored before the
	// clock started.
	Prefilled int     `json:"prefilled,omitempty"`
	Duration  float64 `json:"duration_seconds,omitempty"`
	Pubs      int     `json:"pubs"`
	Subs      int     `json:"subs"`
	Subject   string  `json:"subject"`
	Stream    string  `json:"stream,omitempty"`
	Storage   string  `json:"storage,omitempty"`
	SyncPub   bool    `json:"sync_pub,omitempty"`
	Window    int     `json:"window,omitempty"`
	Batch     int     `json:"batch,omitempty"`
}

// OK reports whether the run lost nothing and saw no errors.
func (r *Report) OK() bool { return r.Lost == 0 && len(r.Errors) == 0 }

// Role returns the statistics of the named role, or nil.
func (r *Report) Role(name string) *RoleStats {
	for i := range r.Roles {
		if r.Roles[i].Role == name {
			return &r.Roles[i]
		}
	}
	return nil
}

// RoleStats aggregate the clients of one role ("publishers", "subscribers",
// "requesters", ...). The aggregate rate is all messages over the time from
// the earliest client start to the latest client end, as `nats bench` does;
// RateMin..RateStdDev describe the spread of the per-client rates.
type RoleStats struct {
	Role       string        `json:"role"`
	Clients    []ClientStats `json:"clients"`
	Msgs       int64         `json:"msgs"`
	Bytes      int64         `json:"bytes"`
	Seconds    float64       `json:"seconds"`
	MsgsPerSec float64       `json:"msgs_per_sec"`
	MBPerSec   float64       `json:"mb_per_sec"` // 10^6 payload bytes per second
	RateMin    float64       `json:"rate_min"`
	RateAvg    float64       `json:"rate_avg"`
	RateMax    float64       `json:"rate_max"`
	RateStdDev float64       `json:"rate_stddev"`
	Latency    *LatencyStats `json:"latency,omitempty"`
}

// ClientStats are one connection's figures.
type ClientStats struct {
	ID         int           `json:"id"`
	Msgs       int64         `json:"msgs"`
	Bytes      int64         `json:"bytes"`
	Seconds    float64       `json:"seconds"`
	MsgsPerSec float64       `json:"msgs_per_sec"`
	MBPerSec   float64       `json:"mb_per_sec"`
	Latency    *LatencyStats `json:"latency,omitempty"`

	start, end time.Time
}

// aggregate builds a role's statistics from its meters; kind names the
// latency the meters recorded ("" when none).
func aggregate(role, kind string, ms []*meter) RoleStats {
	rs := RoleStats{Role: role}
	var first, last time.Time
	var merged *hdrhistogram.Histogram
	for _, m := range ms {
		cs := m.stats(kind)
		rs.Clients = append(rs.Clients, cs)
		rs.Msgs += cs.Msgs
		rs.Bytes += cs.Bytes
		if !cs.start.IsZero() {
			if first.IsZero() || cs.start.Before(first) {
				first = cs.start
			}
			if cs.end.After(last) {
				last = cs.end
			}
		}
		if m.hist != nil {
			if merged == nil {
				merged = newHistogram()
			}
			m.mu.Lock()
			merged.Merge(m.hist)
			m.mu.Unlock()
		}
	}
	if !first.IsZero() {
		rs.Seconds = last.Sub(first).Seconds()
	}
	rs.MsgsPerSec, rs.MBPerSec = rates(rs.Msgs, rs.Bytes, rs.Seconds)
	rs.RateMin, rs.RateAvg, rs.RateMax, rs.RateStdDev = spread(rs.Clients)
	rs.Latency = summarize(kind, merged, true)
	return rs
}

// spread is min, mean, max and population standard deviation of the
// clients' message rates.
func spread(cs []ClientStats) (lo, avg, hi, sd float64) {
	if len(cs) == 0 {
		return 0, 0, 0, 0
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, c := range cs {
		lo, hi = math.Min(lo, c.MsgsPerSec), math.Max(hi, c.MsgsPerSec)
		avg += c.MsgsPerSec
	}
	avg /= float64(len(cs))
	for _, c := range cs {
		sd += (c.MsgsPerSec - avg) * (c.MsgsPerSec - avg)
	}
	return lo, avg, hi, math.Sqrt(sd / float64(len(cs)))
}
