package bench

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
)

// embedded starts an in-process midge for the test and returns its URL.
func embedded(t *testing.T) string {
	t.Helper()
	return embeddedWith(t, config.Options{}).URL
}

// embeddedWith starts an in-process midge with options of the test's own.
func embeddedWith(t *testing.T, opts config.Options) *Embedded {
	t.Helper()
	e, err := startEmbedded(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

// mustRun runs cfg and fails the test on a setup error; the report is
// checked for internal consistency either way.
func mustRun(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("%s: %v", cfg.Scenario, err)
	}
	checkConsistent(t, rep)
	return rep
}

// mustSucceed is mustRun for runs that must lose nothing.
func mustSucceed(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep := mustRun(t, cfg)
	if !rep.OK() {
		t.Fatalf("%s failed: lost %d, errors %q", cfg.Scenario, rep.Lost, rep.Errors)
	}
	return rep
}

// checkConsistent asserts that a report's figures agree with each other.
func checkConsistent(t *testing.T, r *Report) {
	t.Helper()
	if want := max(0, r.Expected-r.Delivered); r.Lost != want {
		t.Errorf("lost %d, expected-delivered %d", r.Lost, want)
	}
	if r.Lost > 0 && r.OK() {
		t.Errorf("a run that lost %d messages reports OK", r.Lost)
	}
	for _, rs := range r.Roles {
		var msgs, bytes int64
		for _, c := range rs.Clients {
			msgs += c.Msgs
			bytes += c.Bytes
			if c.Msgs > 1 && c.Seconds > 0 && !near(c.MsgsPerSec, float64(c.Msgs)/c.Seconds) {
				t.Errorf("%s #%d: %.0f msgs/s but %d msgs in %.6fs", rs.Role, c.ID, c.MsgsPerSec, c.Msgs, c.Seconds)
			}
			if c.Seconds > rs.Seconds+1e-9 {
				t.Errorf("%s #%d ran %.6fs, longer than its role's %.6fs", rs.Role, c.ID, c.Seconds, rs.Seconds)
			}
		}
		if msgs != rs.Msgs || bytes != rs.Bytes {
			t.Errorf("%s: clients add up to %d msgs %d bytes, role says %d, %d", rs.Role, msgs, bytes, rs.Msgs, rs.Bytes)
		}
		if rs.Seconds > 0 && !near(rs.MsgsPerSec, float64(rs.Msgs)/rs.Seconds) {
			t.Errorf("%s: %.0f msgs/s but %d msgs in %.6fs", rs.Role, rs.MsgsPerSec, rs.Msgs, rs.Seconds)
		}
		if !(rs.RateMin <= rs.RateAvg+1e-6 && rs.RateAvg <= rs.RateMax+1e-6) {
			t.Errorf("%s: client rates min %.0f avg %.0f max %.0f out of order", rs.Role, rs.RateMin, rs.RateAvg, rs.RateMax)
		}
		if l := rs.Latency; l != nil {
			checkLatency(t, rs.Role, l)
		}
		checkTimeline(t, r, rs)
	}
}

func checkLatency(t *testing.T, role string, l *LatencyStats) {
	t.Helper()
	seq := []float64{l.MinUS, l.P50US, l.P90US, l.P99US, l.P999US, l.MaxUS}
	for i := 1; i < len(seq); i++ {
		if seq[i] < seq[i-1] {
			t.Errorf("%s latency not monotone: %v", role, seq)
		}
	}
	if l.Count <= 0 || l.MeanUS < l.MinUS || l.MeanUS > l.MaxUS {
		t.Errorf("%s latency: count %d mean %.2f outside [%.2f, %.2f]", role, l.Count, l.MeanUS, l.MinUS, l.MaxUS)
	}
	d := l.Distribution
	if len(d) < 2 || d[0].Percentile != 0 || d[len(d)-1].Percentile != 100 || d[len(d)-1].US != l.MaxUS {
		t.Errorf("%s latency distribution malformed: %v", role, d)
	}
}

// checkTimeline: the timeline's rates integrated over time give the role's
// message count back (the samples telescope).
func checkTimeline(t *testing.T, r *Report, rs RoleStats) {
	t.Helper()
	for _, s := range r.Timeline.Series {
		if s.Role != rs.Role {
			continue
		}
		var total, prev float64
		for _, p := range s.Points {
			total += p.Rate * (p.T - prev)
			prev = p.T
		}
		if r.Timeline.IntervalSeconds == sampleEvery.Seconds() && math.Abs(total-float64(rs.Msgs)) > 0.01*float64(rs.Msgs)+1 {
			t.Errorf("%s: timeline integrates to %.0f msgs, role has %d", rs.Role, total, rs.Msgs)
		}
		return
	}
	t.Errorf("%s: no timeline series", rs.Role)
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }
