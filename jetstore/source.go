package jetstore

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/midgemq/midge/transform"
)

// Mirrors and sources. A stream that mirrors another, or sources from
// others, runs one feed per origin: an internal consumer that reads the
// origin stream from its position on, in order, and hands the messages to
// the stream's own ingest path, so they are applied, written, fsynced and
// acknowledged (to the feed) like any publish. The feed moves its position
// only past messages the stream has made durable, and the position is
// stored with them (source_state.go), so a restart resumes exactly where
// the last durable copy left off: no gaps, no duplicates.
//
//   - A mirror stores each message under its origin sequence with its
//     origin time; sequences the origin no longer has stay unused.
//   - A source stores its messages under the stream's own sequences, with
//     a header (Headers.Sourced) saying where each came from.
//
// Both follow the origin's live writes (woken by its commits) and find it
// again when it appears, is deleted or is re-created.

// Feed pacing.
const (
	feedBatchMsgs  = 1024
	feedBatchBytes = 4 << 20
	// feedRetry is how long a feed waits before trying again after its
	// origin was missing or the stream refused a copy.
	feedRetry = time.Second
)

// ResolveFunc finds the stream a mirror or source copies (Options.Resolve).
type ResolveFunc func(target *Stream, src *StreamSource) (*Stream, error)

// SourceInfo is the state of a mirror or source in the JetStream API's
// JSON shape.
type SourceInfo struct {
	Name              string                   `json:"name"`
	FilterSubject     string                   `json:"filter_subject,omitempty"`
	SubjectTransforms []SubjectTransformConfig `json:"subject_transforms,omitempty"`
	External          *ExternalStream          `json:"external,omitempty"`
	Lag               uint64                   `json:"lag"`
	Active            time.Duration            `json:"active"`
	Error             string                   `json:"-"`
}

// sourceFeed copies one origin into the stream.
type sourceFeed struct {
	st     *Stream
	src    StreamSource
	mirror bool
	key    string
	filter subjectFilter // used by the feed's goroutine only
	trs    []*transform.Transform

	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex
	lag    uint64
	active time.Time // last copy, or last sign the origin is there
	err    error     // why the feed is not copying, nil when it is
}

// sourcing is a stream's running feeds.
type sourcing struct {
	mu    sync.Mutex
	feeds []*sourceFeed
}

// startSources starts the feeds the configuration asks for.
func (st *Stream) startSources() {
	cfg := st.Config()
	var feeds []*sourceFeed
	if cfg.Mirror != nil {
		feeds = append(feeds, st.newFeed(*cfg.Mirror, true))
	}
	for _, s := range cfg.Sources {
		feeds = append(feeds, st.newFeed(*s, false))
	}
	st.sourcing.mu.Lock()
	st.sourcing.feeds = feeds
	st.sourcing.mu.Unlock()
	for _, f := range feeds {
		go f.run()
	}
}

// stopSources stops the feeds and waits for them.
func (st *Stream) stopSources() {
	st.sourcing.mu.Lock()
	feeds := st.sourcing.feeds
	st.sourcing.feeds = nil
	st.sourcing.mu.Unlock()
	for _, f := range feeds {
		close(f.quit)
	}
	for _, f := range feeds {
		<-f.done
	}
}

func (st *Stream) newFeed(src StreamSource, mirror bool) *sourceFeed {
	f := &sourceFeed{st: st, src: src, mirror: mirror, key: src.Key(), quit: make(chan struct{}), done: make(chan struct{})}
	f.filter = newSubjectFilter(src.filters())
	f.trs = src.transforms()
	return f
}

// SourcesInfo describes the stream's mirror (nil when it is none) and
// sources.
func (st *Stream) SourcesInfo() (mirror *SourceInfo, sources []*SourceInfo) {
	st.sourcing.mu.Lock()
	feeds := st.sourcing.feeds
	st.sourcing.mu.Unlock()
	now := st.store.now()
	for _, f := range feeds {
		info := f.info(now)
		if f.mirror {
			mirror = info
		} else {
			sources = append(sources, info)
		}
	}
	return mirror, sources
}

func (f *sourceFeed) info(now time.Time) *SourceInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := &SourceInfo{Name: f.src.Name, FilterSubject: f.src.FilterSubject, SubjectTransforms: f.src.SubjectTransforms,
		External: f.src.External, Lag: f.lag, Active: -1}
	if !f.active.IsZero() {
		info.Active = now.Sub(f.active)
	}
	if f.err != nil {
		info.Error = f.err.Error()
	}
	return info
}

func (f *sourceFeed) setState(err error, lag uint64, active bool) {
	f.mu.Lock()
	f.err, f.lag = err, lag
	if active {
		f.active = f.st.store.now()
	}
	f.mu.Unlock()
}

// run is the feed's goroutine.
func (f *sourceFeed) run() {
	defer close(f.done)
	for {
		origin, err := f.resolve()
		if err != nil {
			f.setState(err, 0, false)
			if !f.sleep(feedRetry) {
				return
			}
			continue
		}
		if !f.follow(origin) {
			return
		}
	}
}

// Sibling returns another stream of the same store (what a mirror or
// source names when it has no external API prefix). A ResolveFunc may call
// it while the store is still being opened.
func (st *Stream) Sibling(name string) (*Stream, error) { return st.store.Stream(name) }

func (f *sourceFeed) resolve() (*Stream, error) {
	if fn := f.st.store.opts.Resolve; fn != nil {
		return fn(f.st, &f.src)
	}
	return f.st.store.Stream(f.src.Name)
}

// sleep waits d; false means the feed must stop.
func (f *sourceFeed) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.quit:
		return false
	case <-t.C:
		return true
	}
}

// errOriginGone: the origin was deleted (or replaced) while being copied.
var errOriginGone = errors.New("stream source is gone")

// follow copies origin until it goes away (true: look for it again) or the
// feed stops (false).
func (f *sourceFeed) follow(origin *Stream) bool {
	wake, stopWatch := origin.Watch()
	defer stopWatch()
	check := time.NewTicker(feedRetry)
	defer check.Stop()
	next := f.startSeq(origin)
	for {
		msgs, scanned, lag := f.read(origin, next)
		f.setState(nil, lag, len(msgs) > 0)
		if len(msgs) > 0 {
			stored, ok := f.store(msgs)
			if !ok {
				return false
			}
			if stored < len(msgs) {
				// Refused (a full queue, a limit): try again from there.
				next = msgs[stored].Origin.Seq
				if !f.sleep(feedRetry) {
					return false
				}
				continue
			}
		}
		if scanned >= next {
			next = scanned + 1
		}
		if scanned < origin.lastSeq() {
			continue // more to read at once
		}
		select {
		case <-f.quit:
			return false
		case <-wake:
		case <-check.C:
			if cur, err := f.resolve(); err != nil || cur != origin {
				f.setState(errOriginGone, 0, false)
				return true
			}
		}
	}
}

// startSeq is the origin sequence to read from: past the stored position,
// or where the configuration asks a new mirror or source to start.
func (f *sourceFeed) startSeq(origin *Stream) uint64 {
	st := f.st
	st.mu.RLock()
	var pos uint64
	if f.mirror {
		pos = st.state.last
	} else if p := st.features.sources[f.key]; p.ident == "" || p.ident == origin.Identity() {
		pos = p.seq // else the origin was re-created: copy it from the start
	}
	st.mu.RUnlock()
	if pos > 0 {
		return pos + 1
	}
	switch {
	case f.src.OptStartSeq > 0:
		return f.src.OptStartSeq
	case f.src.OptStartTime != nil:
		origin.mu.RLock()
		defer origin.mu.RUnlock()
		return origin.firstAtOrAfterLocked(f.src.OptStartTime.UnixNano())
	}
	return 1
}

func (st *Stream) lastSeq() uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.committed
}

// read takes the next batch of matching messages at or after from, as
// copies ready for the stream's ingest path; scanned is the last origin
// sequence looked at, lag how many origin messages are left after it.
func (f *sourceFeed) read(origin *Stream, from uint64) (msgs []*InMsg, scanned uint64, lag uint64) {
	origin.mu.RLock()
	defer origin.mu.RUnlock()
	scanned = from - 1
	bytes := 0
	for len(msgs) < feedBatchMsgs && bytes < feedBatchBytes {
		seq, err := origin.nextLocked(scanned+1, "")
		if err != nil {
			// Nothing up to the committed sequence: it is looked at too,
			// even when no message carries it (reserved before a crash).
			scanned = max(scanned, origin.committed)
			break
		}
		scanned = seq
		m, err := origin.getLocked(seq)
		if err != nil || !f.filter.matches(m.Subject) {
			continue
		}
		in := f.copyOf(origin, &m)
		bytes += in.size()
		msgs = append(msgs, in)
	}
	if scanned < origin.committed {
		lag = origin.committed - scanned
	}
	return msgs, scanned, lag
}

// copyOf builds the message the stream stores for an origin message.
func (f *sourceFeed) copyOf(origin *Stream, m *StoredMsg) *InMsg {
	subject := m.Subject
	for _, tr := range f.trs {
		if s, ok := tr.Match(subject); ok {
			subject = s
			break
		}
	}
	header := m.Header
	var opts *PublishOptions
	if h := f.st.store.opts.Headers; h != nil {
		if !f.mirror {
			header, opts = h.Sourced(m.Header, f.key, m.Seq, m.Subject, origin.Identity())
		} else if ttl, ok := h.MessageTTL(m.Header); ok {
			opts = &PublishOptions{HasTTL: true, TTL: ttl}
		}
	}
	in := NewInMsg([]byte(subject), nil, header, m.Data)
	in.Options = opts
	in.Origin = &Origin{Mirror: f.mirror, Seq: m.Seq, Time: m.Time.UnixNano()}
	if !f.mirror {
		in.Origin.Source, in.Origin.Ident = f.key, origin.Identity()
	}
	return in
}

// store hands the batch to the stream and waits until it is durable; it
// returns how many were stored (or skipped as copied before) before the
// first refusal, and false when the feed must stop.
func (f *sourceFeed) store(msgs []*InMsg) (int, bool) {
	results := make([]PublishResult, len(msgs))
	var wg sync.WaitGroup
	queued := 0
	for i, m := range msgs {
		wg.Add(1)
		m.Done = func(r PublishResult) { results[i] = r; wg.Done() }
		if err := f.st.Publish(m); err != nil {
			wg.Done()
			results[i] = PublishResult{Err: err}
			break
		}
		queued++
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-f.quit:
		// The stream is stopping: its committer answers what it took.
		<-done
		return 0, false
	}
	for i := 0; i < len(msgs); i++ {
		if i >= queued || results[i].Err != nil {
			if i < len(results) && results[i].Err != nil {
				f.setState(results[i].Err, 0, false)
			}
			return i, true
		}
	}
	return len(msgs), true
}

// sourcesChanged reports whether an update changes what is copied.
func sourcesChanged(old, cfg *StreamConfig) bool {
	key := func(c *StreamConfig) string {
		k := ""
		if c.Mirror != nil {
			k = "mirror:" + c.Mirror.Key()
		}
		for _, s := range c.Sources {
			k += "\n" + s.Key() + "@" + fmtStart(s)
		}
		return k
	}
	return key(old) != key(cfg)
}

func fmtStart(s *StreamSource) string {
	t := ""
	if s.OptStartTime != nil {
		t = s.OptStartTime.String()
	}
	return strconv.FormatUint(s.OptStartSeq, 10) + "/" + t
}

// ErrMirrorDirectPublish: a mirror stores only what it copies.
var ErrMirrorDirectPublish = errors.New("stream mirrors can not be published to directly")

// checkOriginLocked refuses what a stream may not store: anything but
// copies on a mirror, copies of a mirror or source it no longer has.
func (st *Stream) checkOriginLocked(m *InMsg) error {
	o := m.Origin
	if st.cfg.Mirror != nil && !m.internal && (o == nil || !o.Mirror) {
		return ErrMirrorDirectPublish
	}
	if o != nil && o.Mirror && st.cfg.Mirror == nil {
		return errOriginGone
	}
	return nil
}

// copiedBeforeLocked reports a copy the stream already holds (a feed that
// started over from an older position); dup is what its ack says.
func (st *Stream) copiedBeforeLocked(m *InMsg) (dup uint64, ok bool) {
	o := m.Origin
	switch {
	case o == nil:
		return 0, false
	case o.Mirror:
		return o.Seq, o.Seq <= st.state.last
	case o.Source != "":
		p, ok := st.features.sources[o.Source]
		return o.Seq, ok && (p.ident == "" || p.ident == o.Ident) && o.Seq <= p.seq
	}
	return 0, false
}

// Identity names this incarnation of the stream: a hash of its creation
// time, so that a stream deleted and created again under the same name is
// told apart by those copying it.
func (st *Stream) Identity() string { return hashName(st.created.UTC().Format(time.RFC3339Nano)) }
