package multiraft

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
)

// CreateGroup founds a group whose initial voters are voters; every founding
// member calls it with the same list. The replica's existence is durable
// when it returns.
func (h *Host) CreateGroup(id GroupID, voters []NodeID) (*Group, error) {
	if len(voters) == 0 || !slices.Contains(voters, h.id) {
		return nil, fmt.Errorf("multiraft: group %d: voters %v must include this node %d", id, voters, h.id)
	}
	return h.addGroup(id, &pb.ConfState{Voters: slices.Clone(voters)}, foundingIndex)
}

// foundingIndex is the index (and term) of a founded group's first
// snapshot, which holds its founding voters; its log starts after it. At
// index 0 a member joining later would be sent the log from its first
// entry instead of a snapshot and never learn the founding voters (they
// are in no entry): its configuration would hold only the later changes.
// At index 1 the leader has no entry 1 to send, so a joiner gets a
// snapshot, configuration included.
const foundingIndex = 1

// JoinGroup creates an empty replica of an existing group, to be added by
// the group's leader as a learner (or voter); it receives the log or a
// snapshot from the leader.
func (h *Host) JoinGroup(id GroupID) (*Group, error) {
	return h.addGroup(id, &pb.ConfState{}, 0)
}

func (h *Host) addGroup(id GroupID, cs *pb.ConfState, index uint64) (*Group, error) {
	if id == 0 {
		return nil, errors.New("multiraft: group ID 0 is reserved")
	}
	if err := h.fatal(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	_, exists := h.groups[id]
	damaged := h.damaged[id]
	h.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("%w: %d", ErrGroupExists, id)
	}
	if damaged != nil {
		return nil, fmt.Errorf("multiraft: group %d is damaged; drop it first: %w", id, damaged)
	}
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(index), Term: new(index), ConfState: cs}}
	if err := writeSnapshotFile(h.fs, h.snapDir, id, snap); err != nil {
		return nil, err
	}
	g, err := h.startGroup(id, snap, nil, nil)
	if err != nil {
		return nil, err
	}
	h.schedule(g)
	return &Group{g: g}, nil
}

// DropGroup removes this host's replica of a group: it stops, its log
// records are marked discarded and its snapshot file is deleted. The data
// is deleted only on this explicit call (after the caller has removed the
// replica from the group's membership, or to rebuild a damaged replica).
func (h *Host) DropGroup(id GroupID) error {
	h.mu.Lock()
	g := h.groups[id]
	_, damaged := h.damaged[id]
	h.mu.Unlock()
	if g == nil && !damaged {
		return fmt.Errorf("%w: %d", ErrNoGroup, id)
	}
	if g != nil {
		g.mu.Lock()
		g.stop(errGroupDropped)
		g.mu.Unlock()
		h.mu.Lock()
		delete(h.groups, id)
		i := slices.Index(h.order, g)
		h.order = slices.Delete(slices.Clone(h.order), i, i+1)
		h.mu.Unlock()
	}
	// The drop record is durable before the snapshot file goes, so a crash
	// in between cannot let a later replica with this ID inherit records.
	done := make(chan error, 1)
	h.drv.submit(&job{drop: id, dropDone: done})
	if err := h.waitDrop(done); err != nil {
		return err
	}
	if err := h.fs.Remove(snapName(h.snapDir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("multiraft: group %d: remove snapshot: %w", id, err)
	}
	if err := h.fs.SyncDir(h.snapDir); err != nil {
		return fmt.Errorf("multiraft: group %d: %w", id, err)
	}
	if damaged {
		h.mu.Lock()
		delete(h.damaged, id)
		set := make(map[GroupID]bool, len(h.damaged))
		for d := range h.damaged {
			set[d] = true
		}
		h.mu.Unlock()
		if err := writeDamaged(h.fs, h.cfg.Dir, set); err != nil {
			return fmt.Errorf("multiraft: write damaged list: %w", err)
		}
	}
	return nil
}

// waitDrop waits for the committer to make a drop record durable.
func (h *Host) waitDrop(done chan error) error {
	if m, ok := h.drv.(*Manual); ok {
		m.Run()
	}
	return <-done
}

// failDrops answers the drop requests of a batch that will not be written.
func failDrops(jobs []*job, err error) {
	for _, j := range jobs {
		if j.drop != 0 {
			j.dropDone <- err
		}
	}
}

// markDamaged records a replica as damaged, durably, and tells the caller.
func (h *Host) markDamaged(id GroupID, err error) {
	h.mu.Lock()
	h.damaged[id] = err
	set := make(map[GroupID]bool, len(h.damaged))
	for d := range h.damaged {
		set[d] = true
	}
	h.mu.Unlock()
	if werr := writeDamaged(h.fs, h.cfg.Dir, set); werr != nil {
		h.fail(fmt.Errorf("multiraft: write damaged list: %w", werr))
	}
	if h.cfg.OnDamaged != nil {
		h.cfg.OnDamaged(id, err)
	}
}

// Damaged returns the replicas found damaged, at open or since, and not
// dropped since.
func (h *Host) Damaged() map[GroupID]error {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[GroupID]error, len(h.damaged))
	for g, err := range h.damaged {
		out[g] = err
	}
	return out
}
