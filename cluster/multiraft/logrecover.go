package multiraft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"
)

// groupReplay is what the log holds for one group after recovery: the
// entries still on record (contiguous, later records overwriting earlier
// ones at the same index, as raft overwrites a conflicting suffix) and the
// latest hard state.
type groupReplay struct {
	ents []*pb.Entry
	hs   *pb.HardState
}

// recovery is the result of reading a host's log back.
type recovery struct {
	groups   map[GroupID]*groupReplay
	segments []*segment
	lastSeq  uint64
	// lastSealed tells whether the newest segment ends with a seal record;
	// if not, lastGoodSize is where its trusted records end.
	lastSealed   bool
	lastGoodSize int64
	// tornBytes counts bytes cut from the tail of the newest segment: an
	// unfinished batch whose fsync never returned, so nothing depended on it.
	tornBytes int64
	// corrupt is set when trusted data failed verification: a bad record
	// with valid records after it, a bad record in a sealed segment, or a
	// sealed segment that lost its end. Every group is then suspect.
	corrupt error
	// corruptSegment is the segment where corruption was found.
	corruptSegment string
}

// recoverLog reads every segment in dir, oldest first, and rebuilds each
// group's entries and hard state. It never modifies the files.
func recoverLog(fsys FS, dir string) (*recovery, error) {
	rec := &recovery{groups: make(map[GroupID]*groupReplay), lastSealed: true}
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("multiraft: list log: %w", err)
	}
	var seqs []uint64
	for _, n := range names {
		if !strings.HasSuffix(n, ".log") {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(n, ".log"), 16, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	// ReadDir sorts names, and fixed-width hex names sort by number.
	for i, seq := range seqs {
		name := segmentName(dir, seq)
		data, err := fsys.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("multiraft: read log segment %s: %w", filepath.Base(name), err)
		}
		seg := &segment{seq: seq, name: name, pins: make(map[GroupID]uint64)}
		rec.segments = append(rec.segments, seg)
		rec.lastSeq = seq
		last := i == len(seqs)-1
		if err := rec.replaySegment(seg, data, last); err != nil {
			rec.corrupt = fmt.Errorf("segment %s: %w", filepath.Base(name), err)
			rec.corruptSegment = name
			return rec, nil
		}
	}
	return rec, nil
}

func (rec *recovery) replaySegment(seg *segment, data []byte, last bool) error {
	if len(data) < segmentHeaderLen || !bytes.Equal(data[:8], []byte(segmentMagic)) ||
		binary.LittleEndian.Uint64(data[8:]) != seg.seq {
		if last && len(data) < segmentHeaderLen {
			// Created but its header never reached the disk.
			rec.lastSealed, rec.lastGoodSize, rec.tornBytes = false, 0, int64(len(data))
			return nil
		}
		return errors.New("bad segment header")
	}
	off := segmentHeaderLen
	sealed := false
	for off < len(data) {
		r, n, err := decodeRecord(data[off:])
		if err != nil {
			if !last {
				return fmt.Errorf("offset %d: %w", off, err)
			}
			if next := findValidRecord(data, off+1); next >= 0 {
				return fmt.Errorf("offset %d: %w, with valid records after it at %d", off, err, next)
			}
			rec.tornBytes = int64(len(data) - off)
			break
		}
		if r.kind == kindSeal {
			if off+n != len(data) {
				return fmt.Errorf("offset %d: data after the seal record", off)
			}
			sealed = true
		}
		rec.apply(seg, r)
		off += n
	}
	if !sealed && !last {
		return errors.New("sealed segment lost its end (no seal record)")
	}
	if last {
		rec.lastSealed = sealed
		rec.lastGoodSize = int64(off)
	}
	return nil
}

// findValidRecord returns the first offset at or after from where a record
// decodes with a good checksum, or -1.
func findValidRecord(data []byte, from int) int {
	for off := from; off+recordHeaderLen <= len(data); off++ {
		if _, _, err := decodeRecord(data[off:]); err == nil {
			return off
		}
	}
	return -1
}

func (rec *recovery) group(g GroupID) *groupReplay {
	gr := rec.groups[g]
	if gr == nil {
		gr = &groupReplay{}
		rec.groups[g] = gr
	}
	return gr
}

func (rec *recovery) apply(seg *segment, r record) {
	switch r.kind {
	case kindEntry:
		gr := rec.group(r.group)
		e := &pb.Entry{Term: new(r.term), Index: new(r.index), Type: r.etype.Enum(), Data: bytes.Clone(r.data)}
		gr.appendEntry(e)
		if r.index > seg.pins[r.group] {
			seg.pins[r.group] = r.index
		}
	case kindHardState:
		rec.group(r.group).hs = &pb.HardState{Term: new(r.term), Vote: new(r.vote), Commit: new(r.commit)}
	case kindSnapMark:
		gr := rec.group(r.group)
		gr.ents = nil
	case kindDrop:
		delete(rec.groups, r.group)
		for _, s := range rec.segments {
			delete(s.pins, r.group)
		}
	}
}

func (gr *groupReplay) appendEntry(e *pb.Entry) {
	idx := e.GetIndex()
	if len(gr.ents) == 0 {
		gr.ents = append(gr.ents, e)
		return
	}
	first := gr.ents[0].GetIndex()
	last := gr.ents[len(gr.ents)-1].GetIndex()
	switch {
	case idx == last+1:
		gr.ents = append(gr.ents, e)
	case idx > last+1:
		// A hole: keep only what follows it; the host then finds that the
		// entries do not follow on from the snapshot and reports damage.
		gr.ents = []*pb.Entry{e}
	case idx < first:
		gr.ents = []*pb.Entry{e}
	default:
		gr.ents = append(gr.ents[:idx-first], e)
	}
}
