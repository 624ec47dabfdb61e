package jetstore

import (
	"fmt"
	"time"
)

// A stream's life inside its store: made new or opened from disk, its
// goroutines started, its configuration updated, and stopped.

func newStream(s *Store, cfg StreamConfig, sto storage, created time.Time) *Stream {
	st := &Stream{
		store:   s,
		storage: sto,
		name:    cfg.Name,
		cfg:     cfg,
		created: created,
		subj:    newSubjectIndex(),
		nextID:  1,
		ingest:  ingestQueue{wake: make(chan struct{}, 1)},
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	st.features.configure(&cfg)
	return st
}

// createStream records a new stream and makes its first block. The
// caller checked that the stream has no directory yet: everything a failed
// create leaves behind is its own, and goes.
func (s *Store) createStream(cfg StreamConfig) (*Stream, error) {
	var sto storage = memStorage{}
	if cfg.Storage == StorageFile {
		sto = s.fileStorage(cfg.Name)
	}
	st := newStream(s, cfg, sto, s.now().UTC())
	if err := sto.create(streamMeta{Config: cfg, Created: st.created}); err != nil {
		_ = sto.remove()
		return nil, err
	}
	st.mu.Lock()
	_, err := st.newBlockLocked()
	if err == nil && cfg.FirstSeq > 1 {
		// Make the starting sequence durable: an empty stream has no other
		// record to carry it.
		st.state.last = cfg.FirstSeq - 1
		st.state.first = cfg.FirstSeq
		st.committed = st.state.last
		st.blocks[0].appendRecords(appendFloorRecord(nil, cfg.FirstSeq), s.opts.BlockSize)
	}
	st.mu.Unlock()
	if err == nil {
		err = st.persist()
	}
	if err != nil {
		st.closeFiles()
		_ = sto.remove()
		return nil, err
	}
	st.start()
	return st, nil
}

// openStream recovers an existing file stream from its directory.
func (s *Store) openStream(name string) (*Stream, error) {
	files := s.fileStorage(name)
	meta, err := files.readMeta()
	if err != nil {
		return nil, err
	}
	if meta.Config.Name != name {
		return nil, fmt.Errorf("meta names stream %q, directory is %q", meta.Config.Name, name)
	}
	st := newStream(s, meta.Config, files, meta.Created)
	if err := s.fs.MkdirAll(files.blockDir(), 0o755); err != nil {
		return nil, err
	}
	st.mu.Lock()
	err = files.load(st)
	if err == nil {
		st.raiseLastToHighWaterLocked(files)
		st.showLocked()
	}
	st.mu.Unlock()
	if err != nil {
		st.closeFiles()
		return nil, err
	}
	st.start()
	st.loadConsumers()
	return st, nil
}

func (st *Stream) start() {
	go st.run()
	st.mu.Lock()
	st.scheduleExpiryLocked()
	st.mu.Unlock()
}

// stop ends the committer (after it commits what is queued), makes the
// data durable and closes the files.
func (st *Stream) stop() error {
	select {
	case <-st.quit:
		return nil
	default:
	}
	st.stopSources() // before the committer stops: they wait for its answers
	close(st.quit)
	<-st.done
	st.mu.Lock()
	if st.expiry != nil {
		st.expiry.Stop()
	}
	st.mu.Unlock()
	err := st.persist()
	if err == nil && !st.syncAlways() {
		err = st.syncWritten()
	}
	st.mu.Lock()
	clean := err == nil && st.failed == nil
	if clean {
		if ierr := st.storage.saveIndex(st); ierr != nil {
			st.store.log.Warn("cannot write index file; next start rebuilds from blocks", "stream", st.name, "error", ierr)
		}
		st.saveSourcesLocked()
	}
	// After a clean stop the next start continues right after the last
	// sequence; otherwise the reserved mark stays.
	if herr := st.storage.closeHighWater(st.state.last, clean); herr != nil {
		st.store.log.Warn("cannot record the last sequence; the next start leaves a gap", "stream", st.name, "error", herr)
	}
	st.mu.Unlock()
	st.closeFiles()
	return err
}

func (st *Stream) closeFiles() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, b := range st.blocks {
		if b.file != nil {
			b.file.Close()
		}
	}
}

// syncWritten fsyncs whatever was written but not yet synced.
func (st *Stream) syncWritten() error {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	st.mu.RLock()
	var todo []*block
	for _, b := range st.blocks {
		if b.file != nil && b.synced < b.written {
			todo = append(todo, b)
		}
	}
	st.mu.RUnlock()
	for _, b := range todo {
		if err := b.file.Sync(); err != nil {
			st.mu.Lock()
			st.failLocked(err)
			st.mu.Unlock()
			return err
		}
		st.mu.Lock()
		b.synced = b.written
		st.mu.Unlock()
	}
	return nil
}

// update applies a new configuration.
func (st *Stream) update(cfg StreamConfig) error {
	st.mu.Lock()
	if err := st.cfg.CheckUpdate(cfg); err != nil {
		st.mu.Unlock()
		return err
	}
	if cfg.FirstSeq == 0 {
		cfg.FirstSeq = st.cfg.FirstSeq
	}
	if err := st.storage.saveMeta(streamMeta{Config: cfg, Created: st.created}); err != nil {
		st.mu.Unlock()
		return st.store.storageFailed("cannot save stream configuration", st.name, err)
	}
	old := st.cfg
	st.cfg = cfg
	st.features.configure(&cfg)
	st.enforceAllLimitsLocked()
	st.scheduleExpiryLocked()
	st.mu.Unlock()
	if err := st.persist(); err != nil {
		return errStorage(err)
	}
	if sourcesChanged(&old, &cfg) {
		st.stopSources()
		st.startSources()
	}
	st.listeners.notify()
	return nil
}

// enforceAllLimitsLocked applies the limits to the whole stream (after an
// update tightened them).
func (st *Stream) enforceAllLimitsLocked() {
	if st.cfg.MaxMsgsPerSubject > 0 {
		var subjects []string
		for _, info := range st.subj.infos {
			if int64(info.msgs()) > st.cfg.MaxMsgsPerSubject {
				subjects = append(subjects, info.name)
			}
		}
		for _, subject := range subjects {
			st.enforceLimitsLocked(subject)
		}
	}
	saved := st.cfg.Discard
	st.cfg.Discard = DiscardOld // tightened limits trim old messages either way
	st.enforceLimitsLocked("")
	st.cfg.Discard = saved
}
