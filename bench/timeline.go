package bench

import (
	"sync"
	"time"
)

// Timeline is the throughput over time of each measured role, sampled from
// the clients' message counters at a fixed interval.
type Timeline struct {
	IntervalSeconds float64  `json:"interval_seconds"`
	Series          []Series `json:"series"`
}

// Series is one role's rate per interval; T is the end of the interval in
// seconds since the run started.
type Series struct {
	Role   string      `json:"role"`
	Points []TimePoint `json:"points"`
}

// TimePoint is the rate measured over the interval ending at T.
type TimePoint struct {
	T    float64 `json:"t"`
	Rate float64 `json:"rate"`
}

const (
	sampleEvery    = 50 * time.Millisecond
	maxChartPoints = 300 // longer timelines are averaged down to this
)

// sampler polls the meters: it builds the timeline of the tracked roles and
// feeds the progress display of the current phase. All Progress calls are
// made from its goroutine.
type sampler struct {
	prog  Progress
	start time.Time
	stop  chan struct{}
	done  chan struct{}

	mu     sync.Mutex
	tracks []*track
	phase  *phase // current phase, nil between phases
	shown  *phase // phase the progress display shows
}

type track struct {
	role   string
	meters []*meter
	last   int64
	points []TimePoint
}

type phase struct {
	name   string
	total  int64 // <= 0: unknown
	meters []*meter
}

func startSampler(prog Progress) *sampler {
	s := &sampler{prog: prog, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

// track adds a role to the timeline.
func (s *sampler) track(role string, ms []*meter) {
	s.mu.Lock()
	s.tracks = append(s.tracks, &track{role: role, meters: ms})
	s.mu.Unlock()
}

// setPhase makes the progress display follow ms towards total.
func (s *sampler) setPhase(name string, total int64, ms []*meter) {
	s.mu.Lock()
	s.phase = &phase{name: name, total: total, meters: ms}
	s.mu.Unlock()
}

func (s *sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	prev := s.start
	for {
		select {
		case <-s.stop:
			s.sample(&prev, time.Now())
			s.showProgress(true)
			return
		case now := <-t.C:
			s.sample(&prev, now)
			s.showProgress(false)
		}
	}
}

func (s *sampler) sample(prev *time.Time, now time.Time) {
	dt := now.Sub(*prev).Seconds()
	if dt <= 0 {
		return
	}
	*prev = now
	s.mu.Lock()
	defer s.mu.Unlock()
	at := now.Sub(s.start).Seconds()
	for _, tr := range s.tracks {
		n := sum(tr.meters)
		tr.points = append(tr.points, TimePoint{T: at, Rate: float64(n-tr.last) / dt})
		tr.last = n
	}
}

func (s *sampler) showProgress(final bool) {
	s.mu.Lock()
	cur := s.phase
	s.mu.Unlock()
	if s.shown != nil && s.shown != cur {
		s.prog.Update(sum(s.shown.meters))
		s.prog.Finish()
		s.shown = nil
	}
	if cur != nil && s.shown == nil && !final {
		s.prog.Start(cur.name, cur.total)
		s.shown = cur
	}
	if s.shown != nil {
		s.prog.Update(sum(s.shown.meters))
		if final {
			s.prog.Finish()
			s.shown = nil
		}
	}
}

// finish stops sampling and returns the timeline.
func (s *sampler) finish() Timeline {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	tl := Timeline{IntervalSeconds: sampleEvery.Seconds()}
	for _, tr := range s.tracks {
		pts, k := downsample(tr.points)
		tl.Series = append(tl.Series, Series{Role: tr.role, Points: pts})
		tl.IntervalSeconds = sampleEvery.Seconds() * float64(k)
	}
	return tl
}

// downsample averages groups of k adjacent points so at most maxChartPoints
// remain; it returns the points and k.
func downsample(pts []TimePoint) ([]TimePoint, int) {
	k := (len(pts) + maxChartPoints - 1) / maxChartPoints
	if k <= 1 {
		return pts, 1
	}
	out := make([]TimePoint, 0, maxChartPoints)
	for i := 0; i < len(pts); i += k {
		j := min(i+k, len(pts))
		var r float64
		for _, p := range pts[i:j] {
			r += p.Rate
		}
		out = append(out, TimePoint{T: pts[j-1].T, Rate: r / float64(j-i)})
	}
	return out, k
}
