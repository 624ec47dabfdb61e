package multiraft

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"testing/cryptotest"
)

// The deterministic simulation runs hosts in one goroutine on a fake
// network and fake disks, all driven by one seeded random source (raft's
// own election jitter included, through the process's test randomness),
// so a failing seed replays exactly: go test -run TestSimulation -sim.seed=N.

type simFrame struct {
	at       int
	seq      int
	from, to NodeID
	frame    []byte
}

type simNode struct {
	id     NodeID
	fs     *MemFS
	host   *Host
	drv    *Manual
	up     bool
	sms    map[GroupID]*simSM
	pend   []*simCall // proposals in flight from this node
	opened int
	downAt int
}

type simCall struct {
	p     *proposal
	group GroupID
	data  string
}

type sim struct {
	t         testing.TB
	seed      uint64
	rng       *rand.Rand
	now       int
	seq       int
	nodes     []*simNode
	groups    []GroupID
	frames    []simFrame
	blocked   map[[2]NodeID]bool
	drop      float64 // probability of dropping a frame
	delay     int     // maximum delivery delay in steps
	check     *safetyChecker
	acked     int
	trace     []string
	noSync    bool // mutation: the log skips fsync, which the checks must catch
	noClients bool
}

// simSM is the state machine used in the simulation: it reports every
// applied entry to the safety checker.
type simSM struct {
	kv
	s     *sim
	node  NodeID
	group GroupID
	last  uint64
}

func (m *simSM) Apply(ents []Entry) error {
	for _, e := range ents {
		m.s.check.applied(m.node, m.group, m.last, e)
		m.last = e.Index
	}
	return m.kv.Apply(ents)
}

func (m *simSM) Restore(b []byte) error {
	if err := m.kv.Restore(b); err != nil {
		return err
	}
	if n := len(m.kv.applied); n > 0 {
		m.last = m.kv.applied[n-1]
	}
	return nil
}

type simTransport struct {
	s  *sim
	id NodeID
}

func (tr simTransport) SetHandler(func([]byte)) {}

func (tr simTransport) Send(to NodeID, frame []byte) bool {
	s := tr.s
	if s.blocked[[2]NodeID{tr.id, to}] || s.rng.Float64() < s.drop {
		return true // lost on the wire: the sender cannot tell
	}
	s.seq++
	s.frames = append(s.frames, simFrame{at: s.now + 1 + s.rng.IntN(s.delay+1), seq: s.seq, from: tr.id, to: to, frame: frame})
	return true
}

func newSim(t testing.TB, seed uint64, nodes, groups int) *sim {
	s := &sim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		blocked: map[[2]NodeID]bool{}, drop: 0.02, delay: 3, check: newSafetyChecker()}
	for i := 1; i <= nodes; i++ {
		n := &simNode{id: NodeID(i), fs: NewMemFS()}
		s.nodes = append(s.nodes, n)
		s.open(n)
	}
	var members []NodeID
	for _, n := range s.nodes {
		members = append(members, n.id)
	}
	for g := 1; g <= groups; g++ {
		s.groups = append(s.groups, GroupID(g))
		for _, n := range s.nodes {
			if _, err := n.host.CreateGroup(GroupID(g), members); err != nil {
				t.Fatalf("seed %d: create group: %v", seed, err)
			}
		}
	}
	return s
}

func (s *sim) open(n *simNode) {
	n.sms = map[GroupID]*simSM{}
	n.opened++
	h, drv, err := OpenManual(Config{
		ID: n.id, Dir: "/d", FS: n.fs, Transport: simTransport{s, n.id},
		HeartbeatTicks: 2, ElectionTicks: 10, SnapshotEntries: 16, SegmentBytes: 4 << 10,
		MaxSizePerMsg: 4 << 10, MaxInflightMsgs: 16, unsafeNoSync: s.noSync,
	}, func(g GroupID) (StateMachine, error) {
		sm := &simSM{kv: kv{data: map[string]string{}, keepLog: true}, s: s, node: n.id, group: g}
		n.sms[g] = sm
		return sm, nil
	})
	if err != nil {
		s.t.Fatalf("seed %d: open node %d: %v", s.seed, n.id, err)
	}
	if len(h.Report().Damaged) > 0 && !s.noSync {
		s.t.Fatalf("seed %d: node %d: a crash that only loses unsynced writes damaged replicas: %v", s.seed, n.id, h.Report().Damaged)
	}
	drv.Order = func(k int, swap func(i, j int)) { s.rng.Shuffle(k, swap) }
	n.host, n.drv, n.up = h, drv, true
}

// crash cuts a node's power: the host is abandoned mid-flight, and its
// disk keeps only what was synced.
func (s *sim) crash(n *simNode) {
	s.logf("crash %d", n.id)
	for _, c := range n.pend {
		s.check.unknown(c.group, c.data)
	}
	n.pend = nil
	n.host, n.drv, n.up, n.downAt = nil, nil, false, s.now
	n.fs.SetFaults(nil, nil)
	n.fs.Crash()
}

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%5d ", s.now)+fmt.Sprintf(format, args...))
	if len(s.trace) > 200 {
		s.trace = s.trace[len(s.trace)-200:]
	}
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	for _, l := range s.trace {
		s.t.Log(l)
	}
	s.t.Fatalf("seed %d at step %d: %s", s.seed, s.now, fmt.Sprintf(format, args...))
}

// step advances the simulation by one unit of time.
func (s *sim) step(faults bool) {
	s.now++
	s.deliver()
	for _, n := range s.nodes {
		if n.up && (s.now+int(n.id))%5 == 0 {
			n.host.Tick()
		}
	}
	if faults {
		s.injectFault()
	}
	if !s.noClients && s.rng.IntN(3) == 0 {
		s.propose()
	}
	for _, n := range s.nodes {
		if n.up {
			n.drv.Run()
			if err := n.host.fatal(); err != nil {
				s.logf("node %d failed: %v", n.id, err)
				s.crash(n)
			}
		}
	}
	s.collect()
	s.check.leaders(s)
	for _, n := range s.nodes {
		if n.up && len(n.host.Damaged()) > 0 && s.check.err == nil && !s.noSync {
			s.check.fail("node %d: replicas damaged without disk corruption: %v", n.id, n.host.Damaged())
		}
	}
}

func (s *sim) deliver() {
	slices.SortFunc(s.frames, func(a, b simFrame) int {
		if a.at != b.at {
			return a.at - b.at
		}
		return a.seq - b.seq
	})
	i := 0
	for ; i < len(s.frames) && s.frames[i].at <= s.now; i++ {
		f := s.frames[i]
		if n := s.nodes[f.to-1]; n.up && !s.blocked[[2]NodeID{f.from, f.to}] {
			n.drv.Receive(f.frame)
		}
	}
	s.frames = append(s.frames[:0], s.frames[i:]...)
}

func (s *sim) injectFault() {
	// A crashed node stays down for a bounded time, so that schedules do
	// not spend most of their steps without a majority.
	for _, n := range s.nodes {
		if !n.up && s.now-n.downAt > 1000 {
			s.logf("restart %d", n.id)
			s.open(n)
		}
	}
	if s.rng.Float64() >= 0.004 {
		return
	}
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	switch r := s.rng.IntN(100); {
	case r < 20:
		if n.up {
			s.crash(n)
		}
	case r < 45:
		if !n.up {
			s.logf("restart %d", n.id)
			s.open(n)
		}
	case r < 55:
		// Partition one node from the rest, both ways.
		s.logf("isolate %d", n.id)
		for _, o := range s.nodes {
			if o != n {
				s.blocked[[2]NodeID{n.id, o.id}] = true
				s.blocked[[2]NodeID{o.id, n.id}] = true
			}
		}
	case r < 65:
		// One way: o can no longer reach n, n still reaches o.
		o := s.nodes[s.rng.IntN(len(s.nodes))]
		if o != n {
			s.logf("block %d->%d", o.id, n.id)
			s.blocked[[2]NodeID{o.id, n.id}] = true
		}
	case r < 88:
		s.logf("heal")
		clear(s.blocked)
	case r < 91:
		if n.up {
			// The disk starts failing fsync: the host must stop, not go on.
			s.logf("fsync fails on %d", n.id)
			n.fs.SetFaults(nil, fmt.Errorf("injected fsync failure"))
		}
	default:
		s.drop = []float64{0, 0.02, 0.2}[s.rng.IntN(3)]
		s.delay = []int{0, 3, 20}[s.rng.IntN(3)]
		s.logf("network drop=%.2f delay=%d", s.drop, s.delay)
	}
}

func (s *sim) propose() {
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	if !n.up || len(n.pend) > 20 {
		return
	}
	g := s.groups[s.rng.IntN(len(s.groups))]
	gr := n.host.lookup(g)
	if gr == nil {
		return
	}
	s.seq++
	data := "v" + strconv.Itoa(s.seq)
	p := &proposal{id: n.host.nextID(), done: make(chan struct{})}
	p.data = append(make([]byte, proposalHeader), data...)
	putID(p.data, p.id)
	gr.push(func(in *inputs) { in.props = append(in.props, p) })
	n.pend = append(n.pend, &simCall{p: p, group: g, data: data})
	s.check.proposed(g, data)
}

// collect records the answers of finished proposals.
func (s *sim) collect() {
	for _, n := range s.nodes {
		kept := n.pend[:0]
		for _, c := range n.pend {
			select {
			case <-c.p.done:
				if c.p.err == nil {
					s.acked++
					s.check.acked(n.id, c.group, c.p.index, c.p.term, c.data)
				} else {
					s.check.unknown(c.group, c.data)
				}
			default:
				kept = append(kept, c)
			}
		}
		n.pend = kept
	}
}

// settle heals everything and runs until every replica has applied what
// was committed, then checks that every acknowledged entry is there.
func (s *sim) settle() {
	clear(s.blocked)
	s.drop, s.delay = 0, 1
	for _, n := range s.nodes {
		if !n.up {
			s.open(n)
		}
		n.fs.SetFaults(nil, nil)
	}
	for i := 0; i < 4000 && s.check.err == nil; i++ {
		s.step(false)
		if i > 200 && s.converged() {
			break
		}
	}
	if s.check.err != nil {
		s.fatalf("%v", s.check.err)
	}
	if !s.converged() {
		s.fatalf("replicas did not converge after healing")
	}
	s.check.final(s)
	if s.check.err != nil {
		s.fatalf("%v", s.check.err)
	}
}

func (s *sim) converged() bool {
	for _, g := range s.groups {
		var want uint64
		leader := false
		for _, n := range s.nodes {
			st := n.host.Group(g).Status()
			if st.IsLeader {
				leader = true
			}
			want = max(want, st.Commit)
		}
		if !leader {
			return false
		}
		for _, n := range s.nodes {
			if st := n.host.Group(g).Status(); st.Applied < want {
				return false
			}
		}
	}
	return true
}

func simSeeds() (first uint64, count int) {
	if v := os.Getenv("MULTIRAFT_SIM_SEED"); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		return n, 1
	}
	count = 6
	if v := os.Getenv("MULTIRAFT_SIM_SEEDS"); v != "" {
		count, _ = strconv.Atoi(v)
	}
	return 1, count
}

// TestSimulationSafety runs random schedules of crashes (with unsynced
// writes lost), restarts, partitions (both ways and one way), drops,
// delays and reordering, and fsync failures, and asserts raft's safety
// properties throughout. MULTIRAFT_SIM_SEEDS=N runs N seeds;
// MULTIRAFT_SIM_SEED=S replays one.
func TestSimulationSafety(t *testing.T) {
	first, count := simSeeds()
	steps := 20000
	if v := os.Getenv("MULTIRAFT_SIM_STEPS"); v != "" {
		steps, _ = strconv.Atoi(v)
	}
	total := 0
	for seed := first; seed < first+uint64(count); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, seed)
			s := newSim(t, seed, 3, 2)
			for i := 0; i < steps && s.check.err == nil; i++ {
				s.step(true)
			}
			s.settle()
			if s.acked == 0 {
				t.Fatalf("seed %d: no proposal was acknowledged; the schedule tested nothing", seed)
			}
			total += s.acked
		})
	}
	t.Logf("%d schedules, %d acknowledged proposals checked", count, total)
}

// fingerprint summarises a run: its fault trace, what was acknowledged
// and every replica's final applied position.
func (s *sim) fingerprint() string {
	out := fmt.Sprint(s.acked, s.check.proposals, s.check.unknowns, s.trace)
	for _, n := range s.nodes {
		for _, g := range s.groups {
			if n.up {
				st := n.host.Group(g).Status()
				out += fmt.Sprintf(" %d/%d:%d,%d,%d", n.id, g, st.Term, st.Commit, st.Applied)
			}
		}
	}
	return out
}

// TestSimulationReplaysASeed asserts that a seed reproduces its run
// exactly, so that a failing seed can be replayed and debugged.
func TestSimulationReplaysASeed(t *testing.T) {
	run := func() string {
		var fp string
		t.Run("run", func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, 7)
			s := newSim(t, 7, 3, 2)
			for range 4000 {
				s.step(true)
			}
			fp = s.fingerprint()
		})
		return fp
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("the same seed produced two different runs:\n%s\n%s", a, b)
	}
}

// TestSimulationCatchesSkippedFsync runs the simulation against a host
// whose log never fsyncs, and asserts that the safety checks notice: a
// simulation that cannot see lost writes would prove nothing.
func TestSimulationCatchesSkippedFsync(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		var caught error
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, seed)
			s := newSim(t, seed, 3, 2)
			s.noSync = true
			for i := 0; i < 20000 && s.check.err == nil; i++ {
				s.step(true)
			}
			if s.check.err == nil {
				clear(s.blocked)
				for _, n := range s.nodes {
					if !n.up {
						s.open(n)
					}
				}
				for i := 0; i < 3000 && s.check.err == nil; i++ {
					s.step(false)
				}
				if s.check.err == nil {
					s.check.final(s)
				}
			}
			caught = s.check.err
		})
		if caught != nil {
			t.Logf("seed %d caught the missing fsync: %v", seed, caught)
			return
		}
	}
	t.Fatal("40 schedules against a log without fsync found no safety violation")
}
