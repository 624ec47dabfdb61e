package multiraft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// changeMembership retries a membership change on the current leader.
func (c *testCluster) changeMembership(t *testing.T, g GroupID, ch ...MemberChange) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l := c.leader(g)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.hosts[l].Group(g).ChangeMembership(ctx, ch...)
		cancel()
		if err == nil {
			return
		}
		t.Logf("membership change %v: %v (retrying)", ch, err)
		time.Sleep(10 * c.tick)
	}
	t.Fatalf("membership change %v never applied", ch)
}

func (c *testCluster) fill(g GroupID, from, n int) {
	for i := from; i < from+n; i++ {
		c.propose(g, encodeOp(kvOp{Op: 'p', Key: fmt.Sprintf("k%d", i), Value: fmt.Sprintf("v%d", i)}))
	}
}

func (c *testCluster) expectKV(t *testing.T, id NodeID, g GroupID, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s := c.sm(id, g); s != nil && s.get(fmt.Sprintf("k%d", n-1)) == fmt.Sprintf("v%d", n-1) {
			for i := range n {
				if got := s.get(fmt.Sprintf("k%d", i)); got != fmt.Sprintf("v%d", i) {
					t.Fatalf("node %d: k%d = %q", id, i, got)
				}
			}
			return
		}
		time.Sleep(c.tick)
	}
	t.Fatalf("node %d never caught up to %d entries", id, n)
}

func TestMembershipAddLearnerPromoteRemove(t *testing.T) {
	c := newTestCluster(t, 4)
	c.createGroup(1, 1, 2, 3)
	c.fill(1, 0, 150) // past SnapshotEntries: the learner needs a snapshot
	if _, err := c.hosts[4].JoinGroup(1); err != nil {
		t.Fatal(err)
	}
	c.changeMembership(t, 1, MemberChange{Op: AddLearner, Node: 4})
	c.expectKV(t, 4, 1, 150)
	if st := c.hosts[4].Group(1).Status(); !slices.Contains(st.Learners, 4) || slices.Contains(st.Voters, 4) {
		t.Fatalf("learner status: %+v", st)
	}
	c.changeMembership(t, 1, MemberChange{Op: AddVoter, Node: 4})
	// Remove the leader itself: it steps down and the others go on.
	old := c.leader(1)
	c.changeMembership(t, 1, MemberChange{Op: RemoveMember, Node: old})
	c.fill(1, 150, 10)
	if l := c.leader(1); l == old {
		t.Fatalf("removed node %d still leads", l)
	}
	for _, id := range []NodeID{1, 2, 3, 4} {
		if id != old {
			c.expectKV(t, id, 1, 160)
		}
	}
	if err := c.hosts[old].DropGroup(1); err != nil {
		t.Fatalf("drop removed replica: %v", err)
	}
	if c.hosts[old].Group(1) != nil {
		t.Fatal("dropped group still present")
	}
}

func TestLeaderTransferAndFollowerRefusals(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createGroup(1, 1, 2, 3)
	c.fill(1, 0, 5)
	l := c.leader(1)
	to := NodeID(1 + int(l)%3)
	c.hosts[l].Group(1).TransferLeadership(to)
	deadline := time.Now().Add(20 * time.Second)
	for c.leader(1) != to {
		if time.Now().After(deadline) {
			t.Fatalf("leadership never moved from %d to %d", l, to)
		}
		time.Sleep(c.tick)
	}
	// The old leader now refuses writes and reads, naming the new leader.
	_, err := c.hosts[l].Group(1).Propose(ctxT(t), []byte("x"))
	var nl *NotLeaderError
	if !errors.As(err, &nl) {
		t.Fatalf("proposal on a follower: %v, want NotLeaderError", err)
	}
	if err := c.hosts[l].Group(1).ReadBarrier(ctxT(t)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("read on a follower: %v, want ErrNotLeader", err)
	}
	if err := c.hosts[to].Group(1).ReadBarrier(ctxT(t)); err != nil {
		t.Fatalf("read on the leader: %v", err)
	}
}

// TestDamagedReplicaIsRebuiltFromPeers walks the rebuild a caller does
// for a replica whose disk flipped a bit: it comes back damaged and not
// voting, is removed, dropped, re-added as a learner, caught up from its
// peers and promoted.
func TestDamagedReplicaIsRebuiltFromPeers(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createGroup(1, 1, 2, 3)
	c.fill(1, 0, 100)
	c.expectKV(t, 3, 1, 100)
	c.crash(3)
	names, _ := c.fs[3].ReadDir("/data/log")
	if err := c.fs[3].CorruptDurable("/data/log/"+names[0], segmentHeaderLen+recordHeaderLen+1); err != nil {
		t.Fatal(err)
	}
	h := c.start(3)
	if !errors.Is(h.Report().Damaged[1], ErrDamaged) || h.Group(1) != nil {
		t.Fatalf("replica with a flipped bit: report %+v", h.Report())
	}
	c.fill(1, 100, 10) // two voters of three still make progress
	c.changeMembership(t, 1, MemberChange{Op: RemoveMember, Node: 3})
	if err := h.DropGroup(1); err != nil {
		t.Fatal(err)
	}
	if _, err := h.JoinGroup(1); err != nil {
		t.Fatal(err)
	}
	c.changeMembership(t, 1, MemberChange{Op: AddLearner, Node: 3})
	c.expectKV(t, 3, 1, 110)
	c.changeMembership(t, 1, MemberChange{Op: AddVoter, Node: 3})
	if st := c.hosts[c.leader(1)].Group(1).Status(); !slices.Contains(st.Voters, 3) {
		t.Fatalf("rebuilt replica not a voter: %+v", st)
	}
}

// TestConcurrentMembershipChangesAnswerPromptly proposes two membership
// changes at once. Raft keeps one pending change at a time and turns a
// second into an empty entry; its caller must get ErrDropped, not wait.
func TestConcurrentMembershipChangesAnswerPromptly(t *testing.T) {
	c := newTestCluster(t, 5)
	c.createGroup(1, 1, 2, 3)
	c.fill(1, 0, 3)
	gr := c.hosts[c.leader(1)].Group(1)
	errs := make(chan error, 2)
	for _, n := range []NodeID{4, 5} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := gr.ChangeMembership(ctx, MemberChange{Op: AddLearner, Node: n})
			errs <- err
		}()
	}
	ok := 0
	for range 2 {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrDropped):
			t.Log("one change was dropped")
		default:
			t.Fatalf("membership change: %v, want success or ErrDropped", err)
		}
	}
	if ok == 0 {
		t.Fatal("neither membership change was applied")
	}
}

// A member that joins a group whose log is short (never compacted) learns
// the group's founding voters: they are in the group's first snapshot, not
// in any log entry, so the joiner must get that snapshot rather than the
// log from its start (which would leave it with a configuration of only
// the later changes: no voters).
func TestLearnerJoinsGroupWithShortLog(t *testing.T) {
	c := newTestCluster(t, 4)
	c.createGroup(1, 1, 2, 3)
	c.fill(1, 0, 5)
	if _, err := c.hosts[4].JoinGroup(1); err != nil {
		t.Fatal(err)
	}
	c.changeMembership(t, 1, MemberChange{Op: AddLearner, Node: 4})
	c.expectKV(t, 4, 1, 5)
	st := c.hosts[4].Group(1).Status()
	if !slices.Equal(st.Voters, []NodeID{1, 2, 3}) || !slices.Equal(st.Learners, []NodeID{4}) {
		t.Fatalf("joiner's configuration: voters %v learners %v, want [1 2 3] and [4]", st.Voters, st.Learners)
	}
	c.changeMembership(t, 1, MemberChange{Op: AddVoter, Node: 4})
	old := c.leader(1)
	c.changeMembership(t, 1, MemberChange{Op: RemoveMember, Node: old})
	c.fill(1, 5, 5)
	for _, id := range []NodeID{1, 2, 3, 4} {
		if id != old {
			c.expectKV(t, id, 1, 10)
		}
	}
}
