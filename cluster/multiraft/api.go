package multiraft

import (
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// Group is a handle on this host's replica of one raft group.
type Group struct{ g *group }

// Group returns the handle of a group this host carries, or nil.
func (h *Host) Group(id GroupID) *Group {
	if g := h.lookup(id); g != nil {
		return &Group{g: g}
	}
	return nil
}

// ID returns the group's ID.
func (gr *Group) ID() GroupID { return gr.g.id }

func (h *Host) nextID() uint64 { return h.propSeq.Add(1) }

// Propose replicates data and returns once the entry is committed — a
// quorum of the group has it durable on disk — and applied by this host's
// state machine, with the Result the state machine set for it. Only the
// leader accepts proposals (a *NotLeaderError names the leader it knows).
// A proposal lost to a leader change fails with ErrDropped; one whose
// context ends first may still be applied later.
func (gr *Group) Propose(ctx context.Context, data []byte) (any, error) {
	g := gr.g
	p := &proposal{id: g.h.nextID(), done: make(chan struct{})}
	p.data = make([]byte, proposalHeader+len(data))
	binary.LittleEndian.PutUint64(p.data, p.id)
	copy(p.data[proposalHeader:], data)
	g.push(func(in *inputs) { in.props = append(in.props, p) })
	return p.wait(ctx)
}

func (p *proposal) wait(ctx context.Context) (any, error) {
	select {
	case <-p.done:
		return p.result, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ReadBarrier returns once this host's state machine has applied every
// entry committed before the call, as confirmed by a quorum of the group
// still accepting this host as leader (raft's ReadIndex, in its safe
// mode: no clock assumption, one heartbeat round per batch of reads).
// A read of the state machine made after it returns is linearizable. Only
// the leader serves reads.
func (gr *Group) ReadBarrier(ctx context.Context) error {
	g := gr.g
	r := &readRequest{id: g.h.nextID(), done: make(chan struct{})}
	g.push(func(in *inputs) { in.reads = append(in.reads, r) })
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MemberChange is one change of a group's membership.
type MemberChange struct {
	Op   MemberOp
	Node NodeID
}

// MemberOp is the kind of a MemberChange.
type MemberOp int

const (
	// AddVoter adds a voter, or promotes a learner.
	AddVoter MemberOp = iota + 1
	// AddLearner adds a non-voting member that receives the log; a voter
	// made a learner stops voting.
	AddLearner
	// RemoveMember removes a voter or learner.
	RemoveMember
)

// ChangeMembership proposes membership changes (one change, or several
// applied together through a joint configuration that raft leaves on its
// own) and returns the new configuration once it is committed and applied
// here. Only the leader accepts it.
func (gr *Group) ChangeMembership(ctx context.Context, changes ...MemberChange) (*pb.ConfState, error) {
	g := gr.g
	cc := &pb.ConfChangeV2{}
	for _, c := range changes {
		var t pb.ConfChangeType
		switch c.Op {
		case AddVoter:
			t = pb.ConfChangeAddNode
		case AddLearner:
			t = pb.ConfChangeAddLearnerNode
		case RemoveMember:
			t = pb.ConfChangeRemoveNode
		default:
			return nil, fmt.Errorf("multiraft: unknown member op %d", c.Op)
		}
		cc.Changes = append(cc.Changes, &pb.ConfChangeSingle{Type: t.Enum(), NodeId: new(c.Node)})
	}
	p := &proposal{id: g.h.nextID(), done: make(chan struct{})}
	cc.Context = binary.LittleEndian.AppendUint64(nil, p.id)
	g.push(func(in *inputs) {
		in.ops = append(in.ops, func(g *group) {
			if err := g.rn.ProposeConfChange(cc); err != nil {
				if g.rn.BasicStatus().RaftState != raft.StateLeader {
					err = g.notLeader()
				}
				p.finish(nil, fmt.Errorf("multiraft: group %d: membership change: %w", g.id, err))
				return
			}
			g.waiters[p.id] = p
		})
	})
	res, err := p.wait(ctx)
	if err != nil {
		return nil, err
	}
	return res.(*pb.ConfState), nil
}

// TransferLeadership asks the leader to hand leadership to node to (a
// step-down). It returns at once; watch Status or WaitLeader to see it
// happen. On a follower it does nothing.
func (gr *Group) TransferLeadership(to NodeID) {
	gr.g.push(func(in *inputs) {
		in.ops = append(in.ops, func(g *group) { g.rn.TransferLeader(to) })
	})
}

// Campaign makes this replica start an election now instead of waiting
// out its election timeout (with PreVote it first checks it could win).
func (gr *Group) Campaign() {
	gr.g.push(func(in *inputs) {
		in.ops = append(in.ops, func(g *group) { _ = g.rn.Campaign() })
	})
}

// WaitLeader waits until the replica knows a leader and returns it.
func (gr *Group) WaitLeader(ctx context.Context) (NodeID, error) {
	g := gr.g
	for {
		g.leaderMu.Lock()
		ch := g.leaderChanged
		g.leaderMu.Unlock()
		if st := gr.Status(); st.Leader != 0 {
			return st.Leader, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Status is a replica's view of its group.
type Status struct {
	Group    GroupID
	Leader   NodeID
	Term     uint64
	Commit   uint64
	Applied  uint64
	IsLeader bool
	Quiesced bool
	Stopped  error
	Voters   []NodeID
	Learners []NodeID
	// Replicas is filled on the leader: how far each member's log matches.
	Replicas []ReplicaStatus
}

// ReplicaStatus is the leader's view of one member.
type ReplicaStatus struct {
	Node    NodeID
	Match   uint64
	Lag     uint64 // entries behind the leader's last index
	Learner bool
	Active  bool // heard from within the last election timeout
}

// Status returns the replica's current view.
func (gr *Group) Status() Status {
	g := gr.g
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.rn.BasicStatus()
	out := Status{
		Group: g.id, Leader: st.Lead, Term: st.HardState.GetTerm(), Commit: st.HardState.GetCommit(),
		Applied: g.applied, IsLeader: st.RaftState == raft.StateLeader, Quiesced: g.quiesced.Load(),
		Stopped: g.stopped, Voters: g.confState.GetVoters(), Learners: g.confState.GetLearners(),
	}
	if out.IsLeader {
		last, _ := g.store.LastIndex()
		g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			rs := ReplicaStatus{Node: id, Match: pr.Match, Learner: pr.IsLearner, Active: pr.RecentActive || id == g.h.id}
			if last > pr.Match {
				rs.Lag = last - pr.Match
			}
			out.Replicas = append(out.Replicas, rs)
		})
	}
	return out
}
