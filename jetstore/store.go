package jetstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Logger is the store's view of logging; the server adapts its own.
type Logger interface {
	Info(msg string, keysAndValues ...any)
	Warn(msg string, keysAndValues ...any)
	Error(msg string, keysAndValues ...any)
}

type nopLogger struct{}

func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}

// DefaultBlockSize is the size at which a stream starts a new block file.
const DefaultBlockSize = 4 << 20

// Options configure a Store.
type Options struct {
	FS  FS     // default OSFS
	Log Logger // default: discard
	// SyncInterval 0 means sync policy "always": every acknowledged
	// message was fsynced first. A positive interval acknowledges once the
	// OS has the bytes and fsyncs at least every interval, so a power loss
	// (not a process crash) can lose up to one interval of acknowledged
	// messages.
	SyncInterval time.Duration
	BlockSize    int64   // default DefaultBlockSize
	Ack          AckFunc // receives publish outcomes
	// Now is the store's clock (default time.Now): message timestamps, max
	// age, the pacing of recovery after a failure, and every consumer
	// deadline (ack waits, backoff, pull expiry, heartbeats, inactivity).
	// Timers are armed for the distance the clock gives, so a clock that
	// jumps ahead takes effect at a consumer's next pass.
	Now func() time.Time

	// NewSender gives each consumer its way to clients.
	NewSender func(stream, consumer string) Sender
	// ConsumerAdded and ConsumerRemoved tell the server about consumers
	// appearing (created or loaded) and going (deleted, inactive, or their
	// stream deleted), e.g. to manage pull request subscriptions.
	ConsumerAdded   func(*Stream, *Consumer)
	ConsumerRemoved func(*Stream, *Consumer)

	// Observer, when set, is told about every committed publish batch
	// (monitoring: fsync latency and group-commit batch sizes).
	Observer CommitObserver

	// Limits bound this store's streams and consumers; Pool, when set, is
	// shared with the other stores of the server (limits.go).
	Limits Limits
	Pool   *Pool

	// ReservedSubjects (wildcards allowed) may be captured by a stream only
	// with NoAck set: acknowledgements published on them would be taken for
	// something else (the server's own API subjects, for instance).
	ReservedSubjects []string

	// MessageID reads a stored message's deduplication id (what its
	// publisher passed as PublishOptions.MsgID) back from the header it was
	// stored with, so that recovery can rebuild the duplicate windows; it
	// returns nil when the message had none. Without it, duplicate windows
	// start empty after a restart. The store keeps headers as opaque bytes;
	// only the protocol that wrote them knows how to read them.
	MessageID func(header []byte) []byte

	// Headers reads the stored headers the stream features act on (TTLs,
	// sources) and writes delete markers.
	Headers Headers
	// Resolve finds the stream a mirror or source copies; without it, the
	// stream of that name in this store (an external source then fails).
	Resolve ResolveFunc
}

// CommitObserver receives one call per group commit, on the stream's
// committer goroutine before the batch's acks go out, so it must be quick.
// batch is the number of messages committed together; write is the time
// spent writing them; sync the time spent in fsync, zero when the batch
// was not fsynced (sync policy interval, or a memory stream).
type CommitObserver interface {
	Commit(batch int, write, sync time.Duration)
}

// Store holds the streams of one account under one directory.
type Store struct {
	dir  string
	opts Options
	fs   FS
	log  Logger

	mu      sync.Mutex
	streams map[string]*Stream
	closed  bool

	usage usage // bytes held and reserved (limits.go)

	stopSync chan struct{}
	syncDone chan struct{}
}

// Open opens (creating if needed) the store in dir and recovers every
// stream found there.
func Open(dir string, opts Options) (*Store, error) {
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if opts.Log == nil {
		opts.Log = nopLogger{}
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{dir: dir, opts: opts, fs: opts.FS, log: opts.Log, streams: make(map[string]*Stream)}
	if err := s.fs.MkdirAll(s.streamsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("jetstore: creating %s: %w", s.streamsDir(), err)
	}
	entries, err := s.fs.ReadDir(s.streamsDir())
	if err != nil {
		return nil, fmt.Errorf("jetstore: listing streams: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		st, err := s.openStream(e.Name())
		if err != nil {
			// Never delete a stream on our own: report and leave it on disk.
			s.log.Error("cannot open stream; leaving it untouched", "stream", e.Name(), "error", err)
			continue
		}
		s.mu.Lock()
		s.streams[st.name] = st
		cfg := st.Config()
		s.reserveStored(&cfg) // stored streams load whatever the limits say now
		s.mu.Unlock()
	}
	// Copying starts once every stream is there to be found.
	for _, st := range s.Streams() {
		st.startSources()
	}
	if opts.SyncInterval > 0 {
		s.stopSync, s.syncDone = make(chan struct{}), make(chan struct{})
		go s.syncLoop()
	}
	return s, nil
}

func (s *Store) now() time.Time     { return s.opts.Now() }
func (s *Store) streamsDir() string { return filepath.Join(s.dir, "streams") }

// Stream returns the named stream or ErrStreamNotFound.
func (s *Store) Stream(name string) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.streams[name]; ok {
		return st, nil
	}
	return nil, ErrStreamNotFound
}

// Streams returns all streams sorted by name.
func (s *Store) Streams() []*Stream {
	s.mu.Lock()
	out := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, st)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Stream) int { return strings.Compare(a.name, b.name) })
	return out
}

// AddStream creates a stream, or returns the existing one when its
// configuration is identical (created is false then).
func (s *Store) AddStream(cfg StreamConfig) (st *Stream, created bool, err error) {
	cfg, err = cfg.normalize(s.opts.ReservedSubjects)
	if err != nil {
		return nil, false, err
	}
	if cfg.Sealed {
		return nil, false, errStreamConfig("stream configuration for create can not be sealed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, errStoreClosed
	}
	if old, ok := s.streams[cfg.Name]; ok {
		if old.Config().Equal(cfg) {
			return old, false, nil
		}
		return nil, false, ErrStreamNameInUse
	}
	for _, other := range s.streams {
		if ocfg := other.Config(); other.name != cfg.Name && cfg.overlaps(&ocfg) {
			return nil, false, ErrSubjectsOverlap
		}
	}
	if err := s.checkStreamLimits(&cfg, len(s.streams)); err != nil {
		return nil, false, err
	}
	if err := s.reserveFor(&cfg, 0); err != nil {
		return nil, false, err
	}
	st, created, err = s.addLocked(cfg)
	if err != nil {
		s.release(&cfg)
	}
	return st, created, err
}

// addLocked creates the stream, over stored data when its directory exists.
func (s *Store) addLocked(cfg StreamConfig) (*Stream, bool, error) {
	if stored, err := s.fileStorage(cfg.Name).exists(); err != nil {
		return nil, false, s.storageFailed("cannot create stream", cfg.Name, err)
	} else if stored {
		return s.addStoredLocked(cfg)
	}
	st, err := s.createStream(cfg)
	if err != nil {
		return nil, false, s.storageFailed("cannot create stream", cfg.Name, err)
	}
	s.streams[cfg.Name] = st
	st.startSources()
	return st, true, nil
}

// addStoredLocked creates a stream whose name has a directory on disk that
// is not an open stream (see adopt.go).
func (s *Store) addStoredLocked(cfg StreamConfig) (*Stream, bool, error) {
	st, err := s.storedStream(cfg)
	if err != nil {
		var ed *ExistingDataError
		if errors.As(err, &ed) {
			return nil, false, err
		}
		return nil, false, s.storageFailed("cannot create stream over stored data", cfg.Name, err)
	}
	if !st.Config().Equal(cfg) {
		// A stored stream that opened again, under its own configuration:
		// leave it as it was found.
		st.stopConsumers(0, false)
		_ = st.stop()
		st.uncount()
		return nil, false, ErrStreamNameInUse
	}
	s.streams[cfg.Name] = st
	st.startSources()
	return st, true, nil
}

// Detach stops a stream and forgets it without removing its data: the
// undoing of a create that adopted stored blocks. The next Open finds the
// stream again.
func (s *Store) Detach(name string) error {
	s.mu.Lock()
	st, ok := s.streams[name]
	if ok {
		delete(s.streams, name)
	}
	s.mu.Unlock()
	if !ok {
		return ErrStreamNotFound
	}
	st.stopConsumers(0, false)
	err := st.stop()
	cfg := st.Config()
	s.release(&cfg)
	st.uncount()
	return err
}

// UpdateStream changes a stream's configuration within what CheckUpdate
// allows and applies tightened limits at once.
func (s *Store) UpdateStream(cfg StreamConfig) (*Stream, error) {
	cfg, err := cfg.normalize(s.opts.ReservedSubjects)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	st, ok := s.streams[cfg.Name]
	if !ok {
		s.mu.Unlock()
		return nil, ErrStreamNotFound
	}
	for _, other := range s.streams {
		if ocfg := other.Config(); other != st && cfg.overlaps(&ocfg) {
			s.mu.Unlock()
			return nil, ErrSubjectsOverlap
		}
	}
	old := st.Config()
	err = s.checkStreamLimits(&cfg, -1)
	if err == nil && old.Storage == cfg.Storage {
		err = s.reserveFor(&cfg, reservation(&old))
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := st.update(cfg); err != nil {
		if old.Storage == cfg.Storage {
			s.mu.Lock()
			s.reserveStored(&old)
			s.release(&cfg)
			s.mu.Unlock()
		}
		return nil, err
	}
	return st, nil
}

// DeleteStream stops the stream and removes its data.
func (s *Store) DeleteStream(name string) error {
	s.mu.Lock()
	st, ok := s.streams[name]
	if ok {
		delete(s.streams, name)
	}
	s.mu.Unlock()
	if !ok {
		return ErrStreamNotFound
	}
	st.stopConsumers(StatusConsumerDeleted, true)
	st.stop()
	cfg := st.Config()
	s.release(&cfg)
	st.uncount()
	if err := st.storage.remove(); err != nil {
		return s.storageFailed("cannot remove deleted stream", name, err)
	}
	return nil
}

// storageFailed logs an I/O failure with everything it says (paths
// included) and returns it as a StorageError, whose text the API layer
// passes on to clients without the paths.
func (s *Store) storageFailed(what, stream string, err error) error {
	s.log.Error(what, "stream", stream, "error", err)
	return errStorage(err)
}

// Close stops every stream after making what they hold durable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	streams := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	if s.stopSync != nil {
		close(s.stopSync)
		<-s.syncDone
	}
	var errs []error
	for _, st := range streams {
		st.stopConsumers(0, false)
		errs = append(errs, st.stop())
	}
	return errors.Join(errs...)
}

// Usage returns the bytes held by memory and by file streams.
func (s *Store) Usage() (memory, file uint64) {
	for _, st := range s.Streams() {
		st.mu.RLock()
		if st.storage.persistent() {
			file += st.shown.bytes
		} else {
			memory += st.shown.bytes
		}
		st.mu.RUnlock()
	}
	return memory, file
}

// syncLoop fsyncs written data every SyncInterval (sync policy interval).
func (s *Store) syncLoop() {
	defer close(s.syncDone)
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopSync:
			return
		case <-t.C:
			for _, st := range s.Streams() {
				st.syncWritten()
			}
		}
	}
}
