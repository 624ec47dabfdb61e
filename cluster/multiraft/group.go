package multiraft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// group is one raft replica hosted by a Host. Its raft state (rn, store,
// sm and the fields below mu) is touched only by whoever holds mu: one
// worker at a time. Callers and the transport hand it work through the
// inputs queue (inMu), so they never wait for an apply in progress.
type group struct {
	h  *Host
	id GroupID

	scheduled atomic.Bool
	quiesced  atomic.Bool   // read by the ticker; written under mu
	snapIndex atomic.Uint64 // durable snapshot index, read by log GC

	inMu sync.Mutex
	in   inputs

	mu        sync.Mutex
	rn        *raft.RawNode
	store     *raft.MemoryStorage
	sm        StateMachine
	confState *pb.ConfState
	applied   uint64
	inFlight  bool // a Ready is with the committer
	stopped   error
	lead      NodeID
	leading   bool // this replica is the leader, as last reported
	term      uint64
	idleTicks int
	epoch     uint64 // host liveness epoch last seen
	forceSnap bool
	confIndex uint64 // index of the last membership change applied

	waiters     map[uint64]*proposal // by proposal ID, not yet seen in the log
	byIndex     map[uint64]*proposal // by log index, seen and not yet applied
	reads       map[uint64]*readRequest
	readWaiting []*readRequest // index known, waiting for apply
	applyBuf    []Entry
	applyProps  []*proposal

	leaderMu      sync.Mutex
	leaderChanged chan struct{} // closed and replaced on each leader change
}

// inputs is the work handed to a group between two runs.
type inputs struct {
	done    *job // a persisted Ready to finish
	ticks   int
	msgs    []frameItem
	props   []*proposal
	reads   []*readRequest
	ops     []func(*group) // membership changes, transfers, campaigns
	snapRep []snapReport
}

type snapReport struct {
	to     NodeID
	status raft.SnapshotStatus
}

// proposal is a caller waiting for its entry to be committed and applied.
type proposal struct {
	id     uint64
	data   []byte // ID header + payload, or nil for a conf change
	index  uint64
	term   uint64
	result any
	err    error
	done   chan struct{}
}

func (p *proposal) finish(result any, err error) {
	p.result, p.err = result, err
	close(p.done)
}

type readRequest struct {
	id    uint64
	index uint64
	err   error
	done  chan struct{}
}

const proposalHeader = 8

func (g *group) push(f func(*inputs)) {
	g.inMu.Lock()
	f(&g.in)
	g.inMu.Unlock()
	g.h.schedule(g)
}

func (g *group) takeInputs() inputs {
	g.inMu.Lock()
	in := g.in
	g.in = inputs{}
	g.inMu.Unlock()
	return in
}

// process runs the group once: it finishes a persisted Ready, feeds raft
// the queued inputs and, unless a Ready is already being persisted, returns
// the next one as a job for the committer.
//
// Raft panics when it finds its log inconsistent with the leader's (a
// commit index past its last entry: a suffix this replica acknowledged is
// gone). The panic is contained to the group: it stops, and the host marks
// the replica damaged, so it no longer votes and can be rebuilt.
func (g *group) process() (j *job) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("%w: group %d: %v", ErrDamaged, g.id, r)
			g.stop(err)
			g.h.markDamaged(g.id, err)
			j = nil
		}
	}()
	in := g.takeInputs()
	if g.stopped != nil {
		g.failInputs(in, g.stopped)
		return nil
	}
	if in.done != nil {
		g.finish(in.done)
		if g.stopped != nil {
			g.failInputs(in, g.stopped)
			return nil
		}
	}
	g.step(in)
	if g.inFlight {
		return nil
	}
	if g.forceSnap {
		g.maybeSnapshot()
	}
	if !g.rn.HasReady() {
		g.maybeQuiesce()
		return nil
	}
	rd := g.rn.Ready()
	g.inFlight = true
	g.bindProposals(rd.Entries)
	return &job{g: g, rd: rd}
}

func (g *group) step(in inputs) {
	if in.snapRep != nil {
		for _, r := range in.snapRep {
			g.rn.ReportSnapshot(r.to, r.status)
		}
	}
	active := len(in.props) > 0 || len(in.reads) > 0 || len(in.ops) > 0
	for _, it := range in.msgs {
		if it.quiesce {
			continue
		}
		if wakes(it.msg, g.rn.BasicStatus().RaftState) {
			active = true
		}
	}
	if epoch := g.h.livenessEpoch.Load(); epoch != g.epoch {
		g.epoch = epoch
		g.onLivenessChange()
	}
	if active {
		g.wake()
	}
	if !g.quiesced.Load() {
		for range in.ticks {
			g.rn.Tick()
		}
		g.idleTicks += in.ticks
	}
	for _, it := range in.msgs {
		if it.quiesce {
			g.onQuiesce(it)
			continue
		}
		// Step rejects only messages raft does not expect (a local type
		// from a peer, a response from an unknown node); dropping them is
		// what raft would do.
		_ = g.rn.Step(it.msg)
	}
	for _, p := range in.props {
		if err := g.rn.Propose(p.data); err != nil {
			p.finish(nil, g.notLeader())
			continue
		}
		g.waiters[p.id] = p
	}
	for _, r := range in.reads {
		if g.rn.BasicStatus().RaftState != raft.StateLeader {
			r.err = g.notLeader()
			close(r.done)
			continue
		}
		var ctx [8]byte
		binary.LittleEndian.PutUint64(ctx[:], r.id)
		g.rn.ReadIndex(ctx[:])
		g.reads[r.id] = r
	}
	for _, op := range in.ops {
		op(g)
	}
}

func (g *group) notLeader() error {
	return &NotLeaderError{Group: g.id, Leader: g.rn.BasicStatus().Lead}
}

// bindProposals records the log position of this host's proposals as they
// enter the log, so that apply can tell whether the entry at that position
// is still theirs. A Ready carries every entry appended since the last
// one, so a proposal accepted since then that is not among them was cut
// from the log before it was ever persisted (its leader stepped down, or
// raft replaced a second pending membership change with an empty entry):
// it can never be applied, and fails with ErrDropped.
func (g *group) bindProposals(ents []*pb.Entry) {
	if len(g.waiters) == 0 {
		return
	}
	for _, e := range ents {
		id, ok := proposalID(e)
		if !ok {
			continue
		}
		if p := g.waiters[id]; p != nil {
			delete(g.waiters, id)
			p.index, p.term = e.GetIndex(), e.GetTerm()
			if old := g.byIndex[p.index]; old != nil {
				old.finish(nil, ErrDropped)
			}
			g.byIndex[p.index] = p
		}
	}
	for id, p := range g.waiters {
		delete(g.waiters, id)
		p.finish(nil, ErrDropped)
	}
}

func proposalID(e *pb.Entry) (uint64, bool) {
	switch e.GetType() {
	case pb.EntryNormal:
		if len(e.GetData()) < proposalHeader {
			return 0, false
		}
		return binary.LittleEndian.Uint64(e.GetData()), true
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if proto.Unmarshal(e.GetData(), &cc) != nil || len(cc.GetContext()) != 8 {
			return 0, false
		}
		return binary.LittleEndian.Uint64(cc.GetContext()), true
	}
	return 0, false
}

// stop fails every waiter and makes the group inert; err says why.
func (g *group) stop(err error) {
	if g.stopped != nil {
		return
	}
	g.stopped = err
	for _, p := range g.waiters {
		p.finish(nil, err)
	}
	for _, p := range g.byIndex {
		p.finish(nil, err)
	}
	for _, r := range g.reads {
		r.err = err
		close(r.done)
	}
	for _, r := range g.readWaiting {
		r.err = err
		close(r.done)
	}
	g.waiters, g.byIndex, g.reads, g.readWaiting = map[uint64]*proposal{}, map[uint64]*proposal{}, map[uint64]*readRequest{}, nil
	g.failInputs(g.takeInputs(), err)
}

func (g *group) failInputs(in inputs, err error) {
	for _, p := range in.props {
		p.finish(nil, err)
	}
	for _, r := range in.reads {
		r.err = err
		close(r.done)
	}
}

// applyCommitted hands committed entries to the state machine in order and
// answers the proposals of this host among them.
func (g *group) applyCommitted(ents []*pb.Entry) {
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= g.applied {
			continue // covered by a snapshot already restored
		}
		switch e.GetType() {
		case pb.EntryNormal:
			if len(e.GetData()) >= proposalHeader {
				g.applyBuf = append(g.applyBuf, Entry{Index: idx, Term: e.GetTerm(), Data: e.GetData()[proposalHeader:]})
				g.applyProps = append(g.applyProps, g.takeProposal(idx, e.GetTerm()))
			}
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			if !g.flushApply() {
				return
			}
			g.applyConfChange(e)
		}
		g.applied = idx
	}
	g.flushApply()
}

// takeProposal returns this host's proposal waiting at idx if the entry
// there is still its own (same term); a proposal whose position was taken
// by another leader's entry fails with ErrDropped.
func (g *group) takeProposal(idx, term uint64) *proposal {
	p := g.byIndex[idx]
	if p == nil {
		return nil
	}
	delete(g.byIndex, idx)
	if p.term != term {
		p.finish(nil, ErrDropped)
		return nil
	}
	return p
}

func (g *group) flushApply() bool {
	if len(g.applyBuf) == 0 {
		return true
	}
	err := g.sm.Apply(g.applyBuf)
	for i, p := range g.applyProps {
		if p != nil {
			if err != nil {
				p.finish(nil, err)
			} else {
				p.finish(g.applyBuf[i].Result, nil)
			}
		}
	}
	clear(g.applyBuf)
	clear(g.applyProps)
	g.applyBuf, g.applyProps = g.applyBuf[:0], g.applyProps[:0]
	if err != nil {
		g.stop(fmt.Errorf("multiraft: group %d: state machine apply: %w", g.id, err))
		return false
	}
	return true
}

func (g *group) applyConfChange(e *pb.Entry) {
	var cc pb.ConfChangeI
	if e.GetType() == pb.EntryConfChange {
		var v1 pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &v1); err != nil {
			g.stop(fmt.Errorf("multiraft: group %d: decode conf change at %d: %w", g.id, e.GetIndex(), err))
			return
		}
		cc = &v1
	} else {
		var v2 pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &v2); err != nil {
			g.stop(fmt.Errorf("multiraft: group %d: decode conf change at %d: %w", g.id, e.GetIndex(), err))
			return
		}
		cc = &v2
	}
	g.confState = g.rn.ApplyConfChange(cc)
	g.confIndex = e.GetIndex()
	g.h.notePeers(g.confState)
	if p := g.takeProposal(e.GetIndex(), e.GetTerm()); p != nil {
		p.finish(proto.Clone(g.confState), nil)
	}
}

// wakes tells whether a message to a quiesced replica means the group is
// busy again. A leader's quiesce must survive the replies to its last
// heartbeats and appends; anything else (a vote, a rejection, any message
// to a follower) wakes the group.
func wakes(m *pb.Message, state raft.StateType) bool {
	if state != raft.StateLeader {
		return true
	}
	switch m.GetType() {
	case pb.MsgHeartbeatResp:
		return false
	case pb.MsgAppResp:
		return m.GetReject()
	}
	return true
}

var errGroupDropped = errors.New("multiraft: group dropped")
