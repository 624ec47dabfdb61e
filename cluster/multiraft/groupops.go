package multiraft

import (
	"encoding/binary"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// groupStorage is the raft Storage of a group: the in-memory log, except
// that a snapshot older than the group's last membership change is not
// handed out. A member added after the snapshot was taken would reject it
// (raft ignores a snapshot whose configuration lacks the recipient), and
// the leader would resend it forever; instead raft is told to retry, and
// the group takes a fresh snapshot on its next run.
type groupStorage struct {
	*raft.MemoryStorage
	g *group
}

func (s groupStorage) Snapshot() (*pb.Snapshot, error) {
	snap, err := s.MemoryStorage.Snapshot()
	if err != nil {
		return nil, err
	}
	if snap.GetMetadata().GetIndex() < s.g.confIndex {
		s.g.forceSnap = true
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return snap, nil
}

// onSoftState notes a leader change: reads waiting on a leadership this
// replica lost can no longer be answered, and leader watchers are woken.
func (g *group) onSoftState(ss *raft.SoftState) {
	isLeader := ss.RaftState == raft.StateLeader
	if ss.Lead != g.lead || isLeader != g.leading {
		g.lead, g.leading = ss.Lead, isLeader
		g.leaderMu.Lock()
		close(g.leaderChanged)
		g.leaderChanged = make(chan struct{})
		g.leaderMu.Unlock()
		if fn := g.h.cfg.OnLeaderChange; fn != nil {
			fn(g.id, ss.Lead, isLeader)
		}
	}
	if ss.RaftState != raft.StateLeader {
		err := g.notLeader()
		for id, r := range g.reads {
			r.err = err
			close(r.done)
			delete(g.reads, id)
		}
	}
}

// onReadState records the commit index a quorum confirmed for a read.
func (g *group) onReadState(rs raft.ReadState) {
	if len(rs.RequestCtx) != 8 {
		return
	}
	id := binary.LittleEndian.Uint64(rs.RequestCtx)
	r := g.reads[id]
	if r == nil {
		return
	}
	delete(g.reads, id)
	r.index = rs.Index
	g.readWaiting = append(g.readWaiting, r)
}

// answerReads releases the reads whose confirmed index has been applied.
func (g *group) answerReads() {
	kept := g.readWaiting[:0]
	for _, r := range g.readWaiting {
		if r.index <= g.applied {
			close(r.done)
		} else {
			kept = append(kept, r)
		}
	}
	clear(g.readWaiting[len(kept):])
	g.readWaiting = kept
}

// maybeSnapshot snapshots the state machine once enough entries have been
// applied since the last snapshot (or the log collector asked), writes it
// durably and compacts the in-memory log, keeping a tail for followers
// that are only a little behind.
func (g *group) maybeSnapshot() {
	snap := g.snapIndex.Load()
	if g.applied <= snap || (!g.forceSnap && g.applied-snap < g.h.cfg.SnapshotEntries) {
		return
	}
	g.forceSnap = false
	data, err := g.sm.Snapshot()
	if err != nil {
		g.stop(err)
		return
	}
	s, err := g.store.CreateSnapshot(g.applied, g.confState, data)
	if err != nil {
		return // an installed snapshot is already newer
	}
	if err := writeSnapshotFile(g.h.fs, g.h.snapDir, g.id, s); err != nil {
		g.h.fail(err)
		g.stop(err)
		return
	}
	g.snapIndex.Store(g.applied)
	keep := g.h.cfg.SnapshotEntries / 2
	if g.applied > keep {
		_ = g.store.Compact(g.applied - keep)
	}
}
