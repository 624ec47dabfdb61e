package multiraft

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// Quiescence keeps idle groups from costing heartbeats.
//
// An active raft group's leader heartbeats every follower every few ticks,
// so heartbeat traffic grows with the number of groups. A host instead
// stops ticking a group that has been idle for two heartbeat periods and
// whose every live member has the whole log: the leader tells its
// followers (a quiesce item carrying term and commit index) and stops
// ticking; a follower that is in that term, follows that leader and has
// exactly that log stops too. A quiesced group sends nothing.
//
// Failure detection moves to the host: hosts exchange one small heartbeat
// frame per peer per heartbeat period whatever the number of groups, and a
// peer not heard from for an election timeout is down. When a peer's state
// changes every group is woken; a follower whose leader is down forgets the
// leader (so that, with PreVote and CheckQuorum, the others grant it a
// pre-vote at once) and campaigns after its election timeout.
//
// Quiescence only decides when raft is ticked; every message raft produces
// still goes out, so safety never depends on it. Any proposal, read,
// membership change, or message other than a leader's heartbeat and append
// acknowledgements wakes the group.

// maybeQuiesce quiesces an idle leader. It runs under g.mu after a run that
// produced no Ready.
func (g *group) maybeQuiesce() {
	if g.h.cfg.DisableQuiescence || g.quiesced.Load() || g.idleTicks < 2*g.h.cfg.HeartbeatTicks {
		return
	}
	if len(g.waiters) > 0 || len(g.byIndex) > 0 || len(g.reads) > 0 || len(g.readWaiting) > 0 {
		return
	}
	st := g.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || st.LeadTransferee != 0 {
		return
	}
	last, _ := g.store.LastIndex()
	commit := st.HardState.GetCommit()
	if commit != last || g.applied != last {
		return
	}
	caughtUp := true
	var peers []NodeID
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == g.h.id {
			return
		}
		if g.h.isLive(id) && pr.Match != last {
			caughtUp = false
		}
		peers = append(peers, id)
	})
	if !caughtUp {
		return
	}
	g.quiesced.Store(true)
	for _, p := range peers {
		g.h.queueQuiesce(p, g.id, st.HardState.GetTerm(), commit)
	}
}

// onQuiesce handles a leader's quiesce item on a follower.
func (g *group) onQuiesce(it frameItem) {
	st := g.rn.BasicStatus()
	if st.RaftState != raft.StateFollower || st.Lead == 0 || st.HardState.GetTerm() != it.term {
		return
	}
	if st.HardState.GetCommit() != it.commit {
		return
	}
	if last, _ := g.store.LastIndex(); last != it.commit || g.inFlight || g.rn.HasReady() {
		return
	}
	g.quiesced.Store(true)
}

// wake makes a quiesced group tick again.
func (g *group) wake() {
	g.quiesced.Store(false)
	g.idleTicks = 0
}

// onLivenessChange reacts to a peer going down or coming back: every group
// wakes (so that a leader re-checks its quorum and a returning follower is
// caught up), and a follower whose leader is down forgets it.
func (g *group) onLivenessChange() {
	if !g.quiesced.Load() {
		return
	}
	g.wake()
	st := g.rn.BasicStatus()
	if st.RaftState == raft.StateFollower && st.Lead != 0 && !g.h.isLive(st.Lead) {
		_ = g.rn.ForgetLeader()
	}
}
