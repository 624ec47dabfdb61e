package multiraft

import (
	"fmt"
	"os"
	"path/filepath"

	pb "go.etcd.io/raft/v3/raftpb"
)

// segment is one log file and the entries it holds that may still be needed.
type segment struct {
	seq  uint64
	name string
	// pins is the highest entry index each group has in this segment; the
	// segment may be deleted once every such group has a durable snapshot
	// at or past its pin (or is gone).
	pins map[GroupID]uint64
}

func segmentName(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x.log", seq))
}

// logWriter appends records for all groups of a host to the current segment
// and rolls segments. It is used by one goroutine at a time (the committer).
//
// Records are encoded into buf by the add* methods and reach the file only
// in flush, as one write followed by one fsync: everything in the file
// before the last successful fsync is durable, and only the bytes of the
// batch being flushed can be torn by a crash. A failed write or fsync is
// sticky (err): the file's state is unknown, so nothing more is written and
// the host must be reopened, which recovers from what is really on disk.
type logWriter struct {
	fs       FS
	dir      string
	segBytes int64
	noSync   bool

	f      File
	cur    *segment
	size   int64
	sealed []*segment // oldest first
	buf    []byte

	// lastHS is the latest hard state written per group, rewritten at the
	// head of each new segment so that old segments never hold the only
	// copy of a group's term and vote.
	lastHS map[GroupID]*pb.HardState
	err    error
}

// openLogWriter continues the log after recovery: the last recovered
// segment is cut at its last good record and sealed, and a new segment is
// started, so that every segment but the newest ends with a seal record.
func openLogWriter(fsys FS, dir string, segBytes int64, rec *recovery) (*logWriter, error) {
	w := &logWriter{fs: fsys, dir: dir, segBytes: segBytes, lastHS: make(map[GroupID]*pb.HardState)}
	for g, gr := range rec.groups {
		if gr.hs != nil {
			w.lastHS[g] = gr.hs
		}
	}
	w.sealed = rec.segments
	if n := len(rec.segments); n > 0 && !rec.lastSealed {
		last := rec.segments[n-1]
		f, err := fsys.OpenFile(last.name, os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("multiraft: reopen log segment: %w", err)
		}
		if err := f.Truncate(rec.lastGoodSize); err != nil {
			f.Close()
			return nil, fmt.Errorf("multiraft: cut torn log tail: %w", err)
		}
		if _, err := f.Write(appendBareRecord(nil, kindSeal, 0)); err != nil {
			f.Close()
			return nil, fmt.Errorf("multiraft: seal log segment: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("multiraft: seal log segment: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	if err := w.startSegment(rec.lastSeq + 1); err != nil {
		return nil, err
	}
	return w, nil
}

// startSegment creates segment seq, writes its header and the hard-state
// checkpoint, and makes both the file and its directory entry durable.
func (w *logWriter) startSegment(seq uint64) error {
	name := segmentName(w.dir, seq)
	f, err := w.fs.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("multiraft: create log segment: %w", err)
	}
	b := appendSegmentHeader(nil, seq)
	for g, hs := range w.lastHS {
		b = appendHardStateRecord(b, g, hs)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("multiraft: write log segment header: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("multiraft: sync log segment: %w", err)
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		f.Close()
		return fmt.Errorf("multiraft: sync log directory: %w", err)
	}
	w.f, w.size = f, int64(len(b))
	w.cur = &segment{seq: seq, name: name, pins: make(map[GroupID]uint64)}
	return nil
}

func (w *logWriter) addEntries(g GroupID, ents []*pb.Entry) {
	for _, e := range ents {
		w.buf = appendEntryRecord(w.buf, g, e)
	}
	if n := len(ents); n > 0 {
		if last := ents[n-1].GetIndex(); last > w.cur.pins[g] {
			w.cur.pins[g] = last
		}
	}
}

func (w *logWriter) addHardState(g GroupID, hs *pb.HardState) {
	w.buf = appendHardStateRecord(w.buf, g, hs)
	w.lastHS[g] = hs
}

func (w *logWriter) addSnapMark(g GroupID, index, term uint64) {
	w.buf = appendSnapMarkRecord(w.buf, g, index, term)
}

// addDrop records that g's replica is gone: recovery discards g's earlier
// records, so a later replica with the same ID starts clean.
func (w *logWriter) addDrop(g GroupID) {
	w.buf = appendBareRecord(w.buf, kindDrop, g)
	delete(w.lastHS, g)
	for _, s := range w.sealed {
		delete(s.pins, g)
	}
	delete(w.cur.pins, g)
}

// flush writes the buffered records with one write and one fsync, then rolls
// the segment if it is full.
func (w *logWriter) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.f.Write(w.buf); err != nil {
		w.err = fmt.Errorf("multiraft: write log: %w", err)
		return w.err
	}
	w.size += int64(len(w.buf))
	w.buf = w.buf[:0]
	if w.noSync {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("multiraft: fsync log: %w", err)
		return w.err
	}
	if w.size >= w.segBytes {
		if err := w.roll(); err != nil {
			w.err = err
		}
	}
	return w.err
}

func (w *logWriter) roll() error {
	if _, err := w.f.Write(appendBareRecord(nil, kindSeal, 0)); err != nil {
		return fmt.Errorf("multiraft: seal log segment: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("multiraft: seal log segment: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	w.sealed = append(w.sealed, w.cur)
	return w.startSegment(w.cur.seq + 1)
}

// collect deletes the oldest sealed segments whose every pin is covered by
// a durable snapshot. snapIndex reports a group's durable snapshot index
// and whether the group still exists. It returns the groups that pin the
// oldest remaining sealed segment, so the caller can snapshot them.
func (w *logWriter) collect(snapIndex func(GroupID) (uint64, bool)) ([]GroupID, error) {
	for len(w.sealed) > 0 {
		s := w.sealed[0]
		var pinned []GroupID
		for g, pin := range s.pins {
			if idx, ok := snapIndex(g); ok && idx < pin {
				pinned = append(pinned, g)
			}
		}
		if len(pinned) > 0 {
			return pinned, nil
		}
		if err := w.fs.Remove(s.name); err != nil {
			return nil, fmt.Errorf("multiraft: remove log segment: %w", err)
		}
		w.sealed = w.sealed[1:]
	}
	return nil, nil
}

func (w *logWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
