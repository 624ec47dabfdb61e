package multiraft

import (
	"encoding/binary"
	"fmt"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
)

func putID(b []byte, id uint64) { binary.LittleEndian.PutUint64(b, id) }

type committedEntry struct {
	term uint64
	data string
}

type ackRecord struct {
	group GroupID
	index uint64
	data  string
}

// safetyChecker holds what the simulation has observed and fails on the
// first violation of:
//   - agreement: every replica applies the same entry at a given index,
//     so a committed entry is never lost or changed;
//   - order: each replica applies entries in strictly increasing index
//     order, and no entry is committed at two indexes;
//   - one leader per term: no two nodes lead (or acknowledge proposals as
//     leader) in the same term of a group;
//   - durability of acks: every acknowledged proposal is, after healing,
//     applied at its index on every replica.
type safetyChecker struct {
	err       error
	committed map[GroupID]map[uint64]committedEntry
	dataAt    map[GroupID]map[string]uint64
	leaderOf  map[GroupID]map[uint64]NodeID
	ackedBy   map[GroupID]map[uint64]NodeID
	acks      []ackRecord
	proposals int
	unknowns  int
}

func newSafetyChecker() *safetyChecker {
	return &safetyChecker{committed: map[GroupID]map[uint64]committedEntry{}, dataAt: map[GroupID]map[string]uint64{},
		leaderOf: map[GroupID]map[uint64]NodeID{}, ackedBy: map[GroupID]map[uint64]NodeID{}}
}

func (c *safetyChecker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func inner[K comparable, V any](m map[GroupID]map[K]V, g GroupID) map[K]V {
	if m[g] == nil {
		m[g] = map[K]V{}
	}
	return m[g]
}

func (c *safetyChecker) proposed(GroupID, string) { c.proposals++ }
func (c *safetyChecker) unknown(GroupID, string)  { c.unknowns++ }

func (c *safetyChecker) applied(node NodeID, g GroupID, last uint64, e Entry) {
	if e.Index <= last {
		c.fail("group %d node %d applied index %d after %d", g, node, e.Index, last)
	}
	data := string(e.Data)
	com := inner(c.committed, g)
	if prev, ok := com[e.Index]; ok {
		if prev.term != e.Term || prev.data != data {
			c.fail("group %d index %d: node %d applied (term %d, %q), another replica applied (term %d, %q)",
				g, e.Index, node, e.Term, data, prev.term, prev.data)
		}
		return
	}
	com[e.Index] = committedEntry{term: e.Term, data: data}
	at := inner(c.dataAt, g)
	if idx, ok := at[data]; ok && idx != e.Index {
		c.fail("group %d: %q committed at both %d and %d", g, data, idx, e.Index)
	}
	at[data] = e.Index
}

func (c *safetyChecker) acked(node NodeID, g GroupID, index, term uint64, data string) {
	if got, ok := inner(c.committed, g)[index]; !ok || got.data != data {
		c.fail("group %d node %d acknowledged %q at %d before applying it there", g, node, data, index)
	}
	by := inner(c.ackedBy, g)
	if other, ok := by[term]; ok && other != node {
		c.fail("group %d term %d: both node %d and node %d acknowledged proposals", g, term, other, node)
	}
	by[term] = node
	c.acks = append(c.acks, ackRecord{group: g, index: index, data: data})
}

func (c *safetyChecker) leaders(s *sim) {
	for _, n := range s.nodes {
		if !n.up {
			continue
		}
		for _, g := range s.groups {
			gr := n.host.Group(g)
			if gr == nil {
				continue
			}
			st := gr.Status()
			if !st.IsLeader {
				continue
			}
			lo := inner(c.leaderOf, g)
			if other, ok := lo[st.Term]; ok && other != n.id {
				c.fail("group %d term %d: nodes %d and %d both leaders", g, st.Term, other, n.id)
			}
			lo[st.Term] = n.id
		}
	}
}

func (c *safetyChecker) final(s *sim) {
	for _, a := range c.acks {
		for _, n := range s.nodes {
			if n.host.Damaged()[a.group] != nil {
				continue // stopped on purpose; the other replicas must have it
			}
			idx, log := n.sms[a.group].appliedLog()
			i, ok := slices.BinarySearch(idx, a.index)
			if !ok || log[i] != a.data {
				c.fail("group %d: acknowledged %q at %d is missing on node %d", a.group, a.data, a.index, n.id)
				return
			}
		}
	}
}

func entry(term, index uint64, data string) *pb.Entry {
	return &pb.Entry{Term: new(term), Index: new(index), Type: pb.EntryNormal.Enum(), Data: []byte(data)}
}

func hardState(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}
