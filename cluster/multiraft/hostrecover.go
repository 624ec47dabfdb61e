package multiraft

import (
	"fmt"
	"path/filepath"

	pb "go.etcd.io/raft/v3/raftpb"
)

// recover rebuilds every replica from its snapshot file and the log, and
// decides which replicas are damaged. A replica is damaged when:
//   - the log failed verification anywhere but in its unsynced tail (every
//     replica is then suspect: a lost record could belong to any of them);
//   - its snapshot file fails its checksum;
//   - its entries do not follow on from its snapshot (a hole);
//   - its hard state's commit index is past its last entry (a suffix that
//     had been written, synced and acknowledged is gone);
//   - an earlier open found it damaged and it was not dropped since.
//
// Damaged replicas are not started, so they neither vote nor acknowledge.
// The corrupt segment is renamed aside (never deleted) so that later
// opens read the rest of the log.
func (h *Host) recover() error {
	damaged, err := readDamaged(h.fs, h.cfg.Dir)
	if err != nil {
		return fmt.Errorf("multiraft: read damaged list: %w", err)
	}
	ids, err := listSnapshotGroups(h.fs, h.snapDir)
	if err != nil {
		return fmt.Errorf("multiraft: list groups: %w", err)
	}
	h.damaged = make(map[GroupID]error)
	for g := range damaged {
		h.damaged[g] = fmt.Errorf("%w: found damaged at an earlier open", ErrDamaged)
	}
	var rec *recovery
	for {
		if rec, err = recoverLog(h.fs, h.logDir); err != nil {
			return err
		}
		if rec.corrupt == nil {
			break
		}
		for _, g := range ids {
			if h.damaged[g] == nil {
				h.damaged[g] = fmt.Errorf("%w: log %v", ErrDamaged, rec.corrupt)
			}
		}
		// Set the bad segment aside and read the rest again, so that the
		// segments after it are recovered (and sealed) as usual.
		if err := h.fs.Rename(rec.corruptSegment, rec.corruptSegment+".corrupt"); err != nil {
			return fmt.Errorf("multiraft: set aside corrupt segment: %w", err)
		}
		if err := h.fs.SyncDir(h.logDir); err != nil {
			return fmt.Errorf("multiraft: set aside corrupt segment: %w", err)
		}
	}
	for _, g := range ids {
		if h.damaged[g] != nil {
			continue
		}
		if err := h.recoverGroup(g, rec.groups[g]); err != nil {
			h.damaged[g] = fmt.Errorf("%w: group %d: %v", ErrDamaged, g, err)
		}
	}
	if len(h.damaged) != len(damaged) {
		set := make(map[GroupID]bool, len(h.damaged))
		for g := range h.damaged {
			set[g] = true
		}
		if err := writeDamaged(h.fs, h.cfg.Dir, set); err != nil {
			return fmt.Errorf("multiraft: write damaged list: %w", err)
		}
	}
	w, err := openLogWriter(h.fs, h.logDir, h.cfg.SegmentBytes, rec)
	if err != nil {
		return err
	}
	w.noSync = h.cfg.unsafeNoSync
	h.log = w
	h.report = RecoveryReport{Damaged: make(map[GroupID]error, len(h.damaged)), TornBytes: rec.tornBytes}
	for g, err := range h.damaged {
		h.report.Damaged[g] = err
	}
	for _, g := range h.order {
		h.report.Groups = append(h.report.Groups, g.id)
	}
	return nil
}

func (h *Host) recoverGroup(g GroupID, gr *groupReplay) error {
	b, err := h.fs.ReadFile(snapName(h.snapDir, g))
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	snap, err := decodeSnapshot(b)
	if err != nil {
		return fmt.Errorf("snapshot file %s: %w", filepath.Base(snapName(h.snapDir, g)), err)
	}
	snapIdx := snap.GetMetadata().GetIndex()
	var ents []*pb.Entry
	var hs *pb.HardState
	if gr != nil {
		hs = gr.hs
		for i, e := range gr.ents {
			if e.GetIndex() > snapIdx {
				ents = gr.ents[i:]
				break
			}
		}
	}
	if len(ents) > 0 && ents[0].GetIndex() != snapIdx+1 {
		return fmt.Errorf("log hole: snapshot ends at %d, entries resume at %d", snapIdx, ents[0].GetIndex())
	}
	last := snapIdx
	if len(ents) > 0 {
		last = ents[len(ents)-1].GetIndex()
	}
	if hs != nil {
		if hs.GetCommit() > last {
			return fmt.Errorf("lost log suffix: commit index %d is past the last entry %d", hs.GetCommit(), last)
		}
		if hs.GetCommit() < snapIdx {
			hs = &pb.HardState{Term: new(hs.GetTerm()), Vote: new(hs.GetVote()), Commit: new(snapIdx)}
		}
	}
	_, err = h.startGroup(g, snap, ents, hs)
	return err
}
