package multiraft

import (
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// The commit path. A group's raft Ready travels:
//
//	worker (process)  ->  committer (persist, release)  ->  worker (finish)
//
// Invariants, in the order they are relied on:
//
//  1. Durable before visible. A Ready's entries, hard state (term, vote,
//     commit) and snapshot are on disk — written and covered by a
//     successful fsync of the log — before any of its messages leave the
//     host. So a vote, an append acknowledgement (MsgAppResp) or a
//     leader's append to followers is never sent for state that a crash
//     could take back. A leader persists its own entries before sending
//     them, so a quorum that acknowledges an entry always counts a durable
//     copy on every member of the quorum, the leader included.
//  2. Group commit. The committer takes every Ready that is waiting, writes
//     all their records with one write and makes them durable with one
//     fsync, then releases them all. Many groups' Readies share one fsync.
//  3. One Ready per group in flight. A group does not produce its next
//     Ready until the previous one is finished (raft's Advance), so a
//     group's records reach the log in raft's order. Records of different
//     groups interleave freely.
//  4. Ack means applied on a committed, durable majority. A proposal's
//     caller is answered only after its entry has come back from raft as
//     committed (a quorum has it durable, by 1) and this host's state
//     machine has applied it. Entries are applied in index order, each
//     once, and only committed entries are applied.
//  5. Failure is sticky. A failed write or fsync stops the whole host: the
//     Readies of the failed batch are never released or finished, nothing
//     more is written, and OnFatal is told. Reopening recovers from what
//     is really on disk (see recovery).
//  6. Snapshots before their log mark. An installed snapshot is recorded as
//     a snapshot mark in the log (in the same fsync as the Ready's other
//     records) and then written to the group's snapshot file (its own
//     fsyncs and rename). A crash between the two leaves a mark past the
//     snapshot file, which recovery reports as damage rather than guessing.
type job struct {
	g  *group
	rd raft.Ready
	// drop, when set, is a request to record a group's removal instead.
	drop     GroupID
	dropDone chan error
}

// persist makes a batch of Readies durable (invariants 1, 2, 6). It runs
// on the committer only.
func (h *Host) persist(jobs []*job) error {
	w := h.log
	mustSync := false
	for _, j := range jobs {
		if j.drop != 0 {
			w.addDrop(j.drop)
			mustSync = true
			continue
		}
		rd, g := &j.rd, j.g.id
		if !raft.IsEmptySnap(rd.Snapshot) {
			md := rd.Snapshot.GetMetadata()
			w.addSnapMark(g, md.GetIndex(), md.GetTerm())
			mustSync = true
		}
		w.addEntries(g, rd.Entries)
		if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
			w.addHardState(g, rd.HardState)
		}
		mustSync = mustSync || rd.MustSync
	}
	// A batch with only commit-index changes need not be synced on its own
	// (raft can relearn a commit index), but its bytes go out with the
	// next synced batch so that the log never holds unsynced records
	// behind synced ones.
	if mustSync {
		if err := w.flush(); err != nil {
			return err
		}
	}
	for _, j := range jobs {
		if j.drop != 0 || raft.IsEmptySnap(j.rd.Snapshot) {
			continue
		}
		if err := writeSnapshotFile(h.fs, h.snapDir, j.g.id, j.rd.Snapshot); err != nil {
			return err
		}
		j.g.snapIndex.Store(j.rd.Snapshot.GetMetadata().GetIndex())
	}
	return nil
}

// release sends the messages of a persisted batch, one frame per peer
// carrying the messages of every group in the batch, and hands each Ready
// back to its group to finish. It runs on the committer only.
func (h *Host) release(jobs []*job) {
	out := make(map[NodeID]*frameBuilder)
	var snapSent map[*group][]snapReport
	for _, j := range jobs {
		if j.drop != 0 {
			continue
		}
		for _, m := range j.rd.Messages {
			to := m.GetTo()
			b := out[to]
			if b == nil {
				b = &frameBuilder{}
				out[to] = b
			}
			if err := b.addRaft(j.g.id, m); err != nil {
				h.fail(err)
				return
			}
			if m.GetType() == pb.MsgSnap {
				if snapSent == nil {
					snapSent = make(map[*group][]snapReport)
				}
				snapSent[j.g] = append(snapSent[j.g], snapReport{to: to})
			}
		}
	}
	h.takeControl(out)
	peers := make([]NodeID, 0, len(out))
	for to := range out {
		peers = append(peers, to)
	}
	slices.Sort(peers)
	sent := make(map[NodeID]bool, len(peers))
	for _, to := range peers {
		sent[to] = h.send(to, out[to].frame(h.id))
	}
	for _, j := range jobs {
		if j.drop != 0 {
			j.dropDone <- nil
			continue
		}
		reps := snapSent[j.g]
		for i := range reps {
			reps[i].status = raft.SnapshotFailure
			if sent[reps[i].to] {
				reps[i].status = raft.SnapshotFinish
			}
		}
		j.g.push(func(in *inputs) {
			in.done = j
			in.snapRep = append(in.snapRep, reps...)
		})
	}
}

// finish completes a persisted Ready on the group's worker: the in-memory
// log catches up with the disk, committed entries are applied, reads whose
// index is applied are answered, and raft is told (Advance).
func (g *group) finish(j *job) {
	rd := j.rd
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := g.store.ApplySnapshot(rd.Snapshot); err != nil && err != raft.ErrSnapOutOfDate {
			g.stop(err)
			return
		}
		if err := g.sm.Restore(rd.Snapshot.GetData()); err != nil {
			g.stop(err)
			return
		}
		md := rd.Snapshot.GetMetadata()
		g.applied = md.GetIndex()
		g.confState = md.GetConfState()
		g.h.notePeers(g.confState)
	}
	if err := g.store.Append(rd.Entries); err != nil {
		g.stop(err)
		return
	}
	if rd.HardState != nil {
		g.term = rd.HardState.GetTerm()
	}
	if rd.SoftState != nil {
		g.onSoftState(rd.SoftState)
	}
	if len(rd.Entries) > 0 || len(rd.CommittedEntries) > 0 {
		g.idleTicks = 0
	}
	g.applyCommitted(rd.CommittedEntries)
	if g.stopped != nil {
		return
	}
	for _, rs := range rd.ReadStates {
		g.onReadState(rs)
	}
	g.rn.Advance(rd)
	g.inFlight = false
	g.answerReads()
	g.maybeSnapshot()
}
