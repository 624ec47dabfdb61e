package multiraft

import (
	"testing"
	"testing/cryptotest"
)

func (s *sim) itemsAndFrames() (items, frames uint64) {
	for _, n := range s.nodes {
		if n.up {
			st := n.host.Stats()
			items += st.ItemsReceived
			frames += st.FramesReceived
		}
	}
	return items, frames
}

func (s *sim) quiescedGroups() int {
	q := 0
	for _, n := range s.nodes {
		if n.up {
			q += n.host.Stats().Quiesced
		}
	}
	return q
}

// TestIdleGroupsQuiesceAndLeaderLossIsDetected checks that idle groups
// stop sending anything (only one heartbeat frame per peer per heartbeat
// period crosses the network, whatever the number of groups), and that
// when a leader's node dies its groups elect new leaders and take writes.
func TestIdleGroupsQuiesceAndLeaderLossIsDetected(t *testing.T) {
	const groups = 60
	cryptotest.SetGlobalRandom(t, 11)
	s := newSim(t, 11, 3, groups)
	s.drop, s.delay = 0, 1
	for range 1000 {
		s.step(false)
	}
	s.noClients = true
	for range 1000 {
		s.step(false)
	}
	if s.check.err != nil {
		s.fatalf("%v", s.check.err)
	}
	if q := s.quiescedGroups(); q != 3*groups {
		s.fatalf("%d of %d replicas quiesced after a long idle period", q, 3*groups)
	}
	items0, frames0 := s.itemsAndFrames()
	const window = 1000 // steps; a tick is 5 steps, a heartbeat period 2 ticks
	for range window {
		s.step(false)
	}
	items, frames := s.itemsAndFrames()
	if items != items0 {
		t.Fatalf("idle groups exchanged %d messages in %d steps", items-items0, window)
	}
	// 3 nodes, 2 peers each, one frame per heartbeat period (10 steps).
	if want := uint64(3 * 2 * window / 10); frames-frames0 > want+6 || frames-frames0 < want-6 {
		t.Fatalf("%d heartbeat frames in %d steps, want about %d", frames-frames0, window, want)
	}
	t.Logf("idle: %d groups x 3 replicas, %d frames and 0 group messages in %d ticks", groups, frames-frames0, window/5)

	// Kill node 1, which leads some of the quiesced groups: its followers
	// must notice through the node heartbeats, elect new leaders and take
	// writes again.
	victim := s.nodes[0]
	led := 0
	for _, g := range s.groups {
		if victim.host.Group(g).Status().IsLeader {
			led++
		}
	}
	if led == 0 {
		s.fatalf("node 1 leads no group; the test would prove nothing")
	}
	s.crash(victim)
	steps := 0
	for ; steps < 3000; steps++ {
		s.step(false)
		if s.allLed(s.nodes[1:]) {
			break
		}
	}
	if !s.allLed(s.nodes[1:]) {
		s.fatalf("groups without a leader 600 ticks after their leader's node died")
	}
	t.Logf("node 1 led %d groups; all had new leaders %d ticks after it died", led, steps/5)
	if steps/5 > 4*s.nodes[1].host.cfg.ElectionTicks {
		s.fatalf("re-election took %d ticks", steps/5)
	}
	s.noClients = false
	before := s.acked
	for range 1000 {
		s.step(false)
	}
	if s.acked <= before {
		s.fatalf("no proposal acknowledged after the node died")
	}
	s.settle()
}

func (s *sim) allLed(nodes []*simNode) bool {
	for _, g := range s.groups {
		led := false
		for _, n := range nodes {
			if n.host.Group(g).Status().IsLeader {
				led = true
			}
		}
		if !led {
			return false
		}
	}
	return true
}
