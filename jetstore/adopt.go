package jetstore

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"
)

// A stream's directory can outlive its meta files: with both copies
// damaged the store leaves the stream unopened at start (it never deletes a
// stream on its own judgement), and a client may then create the stream
// again. Such a create must not destroy what the directory holds. It adopts
// the stored blocks under the new configuration when that configuration
// holds them as they are (the reference server recovers whatever blocks it
// finds in the directory of a stream it creates), and refuses otherwise,
// leaving every file in place. A directory whose meta is readable holds a
// stream that failed to open for another reason; the create opens it again
// and treats it as the existing stream.

// ExistingDataError refuses to create a stream over data stored under its
// name that the requested configuration cannot hold; nothing was changed.
type ExistingDataError struct {
	Stream string
	Reason string // what does not fit, without server paths
}

func (e *ExistingDataError) Error() string {
	return fmt.Sprintf("stream %s already has stored data that %s; the data was kept: "+
		"create the stream with a configuration that holds it", e.Stream, e.Reason)
}

// Adopted reports whether the stream was created over blocks found on disk
// (see ExistingDataError). An adopted stream's data predates its creation,
// so undoing the create must not delete it (Store.Detach).
func (st *Stream) Adopted() bool { return st.adopted }

// exists reports whether the stream's directory is on disk.
func (f *fileStorage) exists() (bool, error) {
	_, err := f.fs.Stat(f.dir)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// storedStream handles a create whose name has a directory on disk but no
// open stream: it adopts the blocks, or opens the stored stream again when
// its meta is readable (the caller compares the configurations then).
func (s *Store) storedStream(cfg StreamConfig) (*Stream, error) {
	files := s.fileStorage(cfg.Name)
	if _, merr := files.readMeta(); merr == nil {
		st, err := s.openStream(cfg.Name)
		if err != nil {
			s.log.Error("create found a stored stream that still cannot be opened; leaving it untouched",
				"stream", cfg.Name, "error", err)
			return nil, &ExistingDataError{Stream: cfg.Name, Reason: "cannot be opened (see the server log)"}
		}
		st.adopted = true
		return st, nil
	}
	if cfg.Storage != StorageFile {
		return nil, &ExistingDataError{Stream: cfg.Name, Reason: "is a file stream, and a memory stream cannot take it over"}
	}
	return s.adoptStream(files, cfg)
}

// adoptStream creates a stream over the blocks in its directory.
func (s *Store) adoptStream(files *fileStorage, cfg StreamConfig) (*Stream, error) {
	st := newStream(s, cfg, files, s.now().UTC())
	st.adopted = true
	if err := s.fs.MkdirAll(files.blockDir(), 0o755); err != nil {
		return nil, err
	}
	st.mu.Lock()
	err := files.load(st)
	if err == nil {
		err = st.holdsStoredLocked()
	}
	if err == nil {
		st.raiseLastToHighWaterLocked(files)
		st.showLocked()
	}
	st.mu.Unlock()
	if err != nil {
		st.closeFiles()
		return nil, err
	}
	err = files.setAsideMeta(s.now())
	if err == nil {
		err = files.saveMeta(streamMeta{Config: cfg, Created: st.created})
	}
	if err == nil {
		err = st.persist()
	}
	if err != nil {
		st.uncount()
		st.closeFiles()
		return nil, err
	}
	state := st.State("", false)
	s.log.Warn("adopted the stored data of a stream whose meta files were damaged",
		"stream", cfg.Name, "messages", state.Msgs, "first_seq", state.FirstSeq, "last_seq", state.LastSeq)
	st.start()
	st.loadConsumers()
	return st, nil
}

// holdsStoredLocked checks that the stream's configuration holds the
// messages just loaded as they are: no limit would discard any of them and
// every subject is one the stream captures.
func (st *Stream) holdsStoredLocked() error {
	c, n := &st.cfg, st.state
	refuse := func(format string, args ...any) error {
		return &ExistingDataError{Stream: st.name, Reason: fmt.Sprintf(format, args...)}
	}
	if c.FirstSeq > 1 && n.last > 0 && c.FirstSeq != n.first {
		return refuse("starts at sequence %d, not at first_seq %d", n.first, c.FirstSeq)
	}
	if c.MaxMsgs > 0 && n.msgs > uint64(c.MaxMsgs) {
		return refuse("has %d messages, more than max_msgs %d", n.msgs, c.MaxMsgs)
	}
	if c.MaxBytes > 0 && n.bytes > uint64(c.MaxBytes) {
		return refuse("has %d bytes, more than max_bytes %d", n.bytes, c.MaxBytes)
	}
	for i := range st.subj.infos {
		info := &st.subj.infos[i]
		if info.msgs() == 0 {
			continue
		}
		if !c.capturesSubject(info.name) {
			return refuse("holds messages on subject %q, which the subjects %v do not capture", info.name, c.Subjects)
		}
		if c.MaxMsgsPerSubject > 0 && int64(info.msgs()) > c.MaxMsgsPerSubject {
			return refuse("has %d messages on subject %q, more than max_msgs_per_subject %d",
				info.msgs(), info.name, c.MaxMsgsPerSubject)
		}
	}
	if c.MaxAge > 0 && n.msgs > 0 {
		if m, err := st.getLocked(n.first); err == nil && st.store.now().Sub(m.Time) > c.MaxAge {
			return refuse("holds messages from %s, older than max_age %v", m.Time.Format(time.RFC3339), c.MaxAge)
		}
	}
	if c.FirstSeq > 1 && n.last == 0 {
		// Nothing stored yet: start where the configuration asks, as a
		// fresh create does.
		st.state.last, st.state.first, st.committed = c.FirstSeq-1, c.FirstSeq, c.FirstSeq-1
		st.blocks[0].first = c.FirstSeq
		st.blocks[0].appendRecords(appendFloorRecord(nil, c.FirstSeq), st.store.opts.BlockSize)
	}
	return nil
}

// setAsideMeta renames damaged meta files out of the way instead of
// overwriting them, so that whatever they still hold can be looked at.
func (f *fileStorage) setAsideMeta(now time.Time) error {
	suffix := ".damaged-" + now.UTC().Format("20060102T150405")
	for _, name := range []string{metaFile, metaBackupFile} {
		path := filepath.Join(f.dir, name)
		if _, err := f.fs.Stat(path); err != nil {
			continue
		}
		if err := f.fs.Rename(path, path+suffix); err != nil {
			return err
		}
	}
	return nil
}
