package multiraft

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Proposals made one after the other with ProposeAsync, many in flight at
// once, are applied in the order they were made, and each gets its outcome.
func TestProposeAsyncKeepsOrder(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createGroup(1, 1, 2, 3)
	l := c.leader(1)
	gr := c.hosts[l].Group(1)
	const n = 200
	var props []*Proposal
	for i := 0; i < n; i++ {
		props = append(props, gr.ProposeAsync([]byte(fmt.Sprintf("put k%03d %d", i, i))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, p := range props {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
		if _, err := p.Result(); err != nil {
			t.Fatalf("Result after Wait: %v", err)
		}
	}
	_, log := c.sm(l, 1).appliedLog()
	var mine []string
	for _, e := range log {
		if len(e) > 5 && e[:5] == "put k" {
			mine = append(mine, e)
		}
	}
	if len(mine) != n {
		t.Fatalf("applied %d of %d proposals", len(mine), n)
	}
	for i, e := range mine {
		if want := fmt.Sprintf("put k%03d %d", i, i); e != want {
			t.Fatalf("entry %d is %q, want %q", i, e, want)
		}
	}
}

// OnLeaderChange tells each host of its group's leader and of its own
// election, also after the leader moves.
func TestOnLeaderChangeReportsElections(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	type event struct {
		host, leader NodeID
		isLeader     bool
	}
	var mu sync.Mutex
	var events []event
	hosts := map[NodeID]*Host{}
	for id := NodeID(1); id <= 3; id++ {
		h, err := Open(Config{
			ID: id, Dir: "/data", FS: NewMemFS(), Transport: net.Endpoint(id), TickInterval: 5 * time.Millisecond,
			OnLeaderChange: func(g GroupID, leader NodeID, isLeader bool) {
				mu.Lock()
				events = append(events, event{id, leader, isLeader})
				mu.Unlock()
			},
		}, func(GroupID) (StateMachine, error) { return newKV(), nil })
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		hosts[id] = h
		if _, err := h.CreateGroup(7, []NodeID{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	leaderOf := func() NodeID {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			seen := map[NodeID]NodeID{}
			var elected NodeID
			for _, e := range events {
				seen[e.host] = e.leader
				if e.isLeader {
					elected = e.host
				} else if e.host == elected {
					elected = 0
				}
			}
			mu.Unlock()
			if elected != 0 && seen[1] == elected && seen[2] == elected && seen[3] == elected {
				return elected
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("hosts never all reported one leader: %+v", events)
		return 0
	}
	first := leaderOf()
	next := first%3 + 1
	hosts[first].Group(7).TransferLeadership(next)
	deadline := time.Now().Add(10 * time.Second)
	for leaderOf() != next {
		if time.Now().After(deadline) {
			t.Fatalf("leadership never moved to %d", next)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
