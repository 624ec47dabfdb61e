package multiraft

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput and kvOutput are the operations porcupine checks.
type kvInput struct {
	op    byte // 'p', 'c', 'g'
	key   string
	value string
	old   string
}

type kvOutput struct {
	value   string
	ok      bool
	unknown bool // a write whose outcome the client never learned
}

// kvModel is the sequential specification of the test KV, one register
// per key.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.op {
		case 'p':
			return true, in.value
		case 'c':
			if out.unknown {
				if st == in.old {
					return true, in.value
				}
				return true, st
			}
			if out.ok {
				return st == in.old, in.value
			}
			return st != in.old && out.value == st, st
		default:
			return out.value == st, st
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		return fmt.Sprintf("%c(%s,%s,%s) -> %+v", in.op, in.key, in.value, in.old, out)
	},
}

func checkLinearizable(t *testing.T, history []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(kvModel, history, 60*time.Second)
	switch res {
	case porcupine.Illegal:
		path := fmt.Sprintf("%s/history.html", t.TempDir())
		if f, err := os.Create(path); err == nil {
			porcupine.Visualize(kvModel, info, f)
			f.Close()
		}
		t.Fatalf("history of %d operations is not linearizable (visualisation: %s)", len(history), path)
	case porcupine.Unknown:
		t.Fatalf("linearizability check of %d operations timed out", len(history))
	}
}

// simClient is one client of the KV in the simulation: one operation at
// a time, against the node it believes leads.
type simClient struct {
	id      int
	node    int
	call    int64
	in      kvInput
	prop    *proposal
	read    *readRequest
	on      *simNode
	host    *Host
	pending bool
}

func randomInput(rng *rand.Rand, seq int) kvInput {
	key := "k" + strconv.Itoa(rng.IntN(3))
	switch rng.IntN(3) {
	case 0:
		return kvInput{op: 'p', key: key, value: "v" + strconv.Itoa(seq)}
	case 1:
		return kvInput{op: 'c', key: key, value: "v" + strconv.Itoa(seq), old: "v" + strconv.Itoa(seq-1-rng.IntN(3))}
	}
	return kvInput{op: 'g', key: key}
}

// TestSimulatedKVIsLinearizable runs KV clients against a simulated
// cluster under crashes, partitions and message loss, and checks each
// history with porcupine.
func TestSimulatedKVIsLinearizable(t *testing.T) {
	seeds := 2
	if v := os.Getenv("MULTIRAFT_SIM_SEEDS"); v != "" {
		seeds, _ = strconv.Atoi(v)
	}
	total, ran := 0, 0
	for seed := uint64(100); seed < 100+uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, seed)
			s := newSim(t, seed, 3, 1)
			history := runSimClients(s, 5, 5000, false)
			if s.check.err != nil {
				s.fatalf("%v", s.check.err)
			}
			t.Logf("%d operations", len(history))
			total += len(history)
			ran++
			checkLinearizable(t, history)
		})
	}
	// Some schedules keep a majority down most of the time; together they
	// must still have exercised the KV.
	if total < 500*ran {
		t.Fatalf("only %d operations over %d schedules; the runs tested little", total, ran)
	}
}

func runSimClients(s *sim, nclients, steps int, staleReads bool) []porcupine.Operation {
	clients := make([]*simClient, nclients)
	for i := range clients {
		clients[i] = &simClient{id: i, node: s.rng.IntN(len(s.nodes))}
	}
	var history []porcupine.Operation
	seq := 0
	for step := 0; step < steps && s.check.err == nil; step++ {
		for _, c := range clients {
			if c.pending || s.rng.IntN(4) != 0 {
				continue
			}
			n := s.nodes[c.node]
			if !n.up {
				c.node = s.rng.IntN(len(s.nodes))
				continue
			}
			seq++
			c.in, c.call, c.on, c.host, c.pending = randomInput(s.rng, seq), int64(s.now), n, n.host, true
			gr := n.host.lookup(1)
			if c.in.op == 'g' && staleReads {
				// Mutation: read the local replica without a barrier.
				history = append(history, porcupine.Operation{ClientId: c.id, Input: c.in, Call: c.call,
					Output: kvOutput{value: n.sms[1].get(c.in.key), ok: true}, Return: int64(s.now)})
				c.pending = false
				continue
			}
			if c.in.op == 'g' {
				c.read = &readRequest{id: n.host.nextID(), done: make(chan struct{})}
				r := c.read
				gr.push(func(in *inputs) { in.reads = append(in.reads, r) })
				continue
			}
			op := kvOp{Op: c.in.op, Key: c.in.key, Value: c.in.value, Old: c.in.old}
			p := &proposal{id: n.host.nextID(), done: make(chan struct{})}
			p.data = append(make([]byte, proposalHeader), encodeOp(op)...)
			putID(p.data, p.id)
			c.prop = p
			gr.push(func(in *inputs) { in.props = append(in.props, p) })
		}
		s.step(step < steps-1000) // the last steps run without faults
		for _, c := range clients {
			if !c.pending {
				continue
			}
			if op, done := c.poll(s); done {
				c.pending = false
				if op != nil {
					history = append(history, *op)
				} else {
					c.node = s.rng.IntN(len(s.nodes))
				}
			}
		}
	}
	// Writes still outstanding may or may not take effect: their return is
	// open-ended.
	for _, c := range clients {
		if c.pending && c.in.op != 'g' {
			history = append(history, porcupine.Operation{ClientId: c.id, Input: c.in, Call: c.call,
				Output: kvOutput{unknown: true}, Return: math.MaxInt64})
		}
	}
	return history
}

// poll returns the finished operation (nil when it certainly had no
// effect) once the client's call is answered.
func (c *simClient) poll(s *sim) (*porcupine.Operation, bool) {
	now := int64(s.now)
	if !c.on.up || c.on.host != c.host {
		// The node crashed under the call: a write may still commit.
		if c.in.op == 'g' {
			return nil, true
		}
		return &porcupine.Operation{ClientId: c.id, Input: c.in, Call: c.call, Output: kvOutput{unknown: true}, Return: math.MaxInt64}, true
	}
	if c.in.op == 'g' {
		select {
		case <-c.read.done:
		default:
			return nil, false
		}
		if c.read.err != nil {
			return nil, true
		}
		v := c.on.sms[1].get(c.in.key)
		return &porcupine.Operation{ClientId: c.id, Input: c.in, Call: c.call, Output: kvOutput{value: v, ok: true}, Return: now}, true
	}
	select {
	case <-c.prop.done:
	default:
		return nil, false
	}
	if c.prop.err != nil {
		// Rejected by a non-leader or dropped by a leader change: not applied.
		return nil, true
	}
	res := c.prop.result.(kvResult)
	return &porcupine.Operation{ClientId: c.id, Input: c.in, Call: c.call, Output: kvOutput{value: res.Value, ok: res.OK}, Return: now}, true
}

// TestLinearizabilityCheckCatchesStaleReads serves reads from any replica
// without a read barrier, and asserts porcupine notices: the check must be
// able to fail.
func TestLinearizabilityCheckCatchesStaleReads(t *testing.T) {
	for seed := uint64(200); seed < 220; seed++ {
		var res porcupine.CheckResult
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, seed)
			s := newSim(t, seed, 3, 1)
			s.delay = 20
			history := runSimClients(s, 5, 3000, true)
			res = porcupine.CheckOperationsTimeout(kvModel, history, 30*time.Second)
		})
		if res == porcupine.Illegal {
			t.Logf("seed %d: stale reads found non-linearizable", seed)
			return
		}
	}
	t.Fatal("20 histories with unguarded follower reads all passed the linearizability check")
}

// TestTCPKVIsLinearizableUnderPartitions runs KV clients against three
// real hosts over loopback TCP with real files, while partitions (whole
// nodes and one-way links) come and go and one node is stopped and
// reopened, and checks the history with porcupine.
func TestTCPKVIsLinearizableUnderPartitions(t *testing.T) {
	c := newTCPCluster(t, 3, 10*time.Millisecond)
	for id := NodeID(1); id <= 3; id++ {
		if _, err := c.host(id).CreateGroup(1, []NodeID{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	c.waitLeader(1)
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var mu sync.Mutex
	var history []porcupine.Operation
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for ci := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci), 1))
			cl := &kvClient{c: c, target: NodeID(1 + ci%3), n: 3}
			for seq := ci * 1_000_000; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				in := randomInput(rng, seq)
				call := now()
				out, ok := cl.do(in)
				ret := now()
				if !ok {
					continue
				}
				if out.unknown {
					ret = math.MaxInt64
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: ci, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	rng := rand.New(rand.NewPCG(42, 42))
	for round := range 12 {
		time.Sleep(250 * time.Millisecond)
		n := NodeID(1 + rng.IntN(3))
		switch round % 4 {
		case 0:
			for o := NodeID(1); o <= 3; o++ {
				if o != n {
					c.parts.set(n, o, true)
					c.parts.set(o, n, true)
				}
			}
		case 1:
			c.parts.set(NodeID(1+(int(n)%3)), n, true)
		case 2:
			c.parts.heal()
		case 3:
			c.stop(n)
			time.Sleep(100 * time.Millisecond)
			c.start(n)
		}
	}
	c.parts.heal()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	completed := 0
	for _, op := range history {
		if op.Return != math.MaxInt64 {
			completed++
		}
	}
	t.Logf("%d operations (%d completed)", len(history), completed)
	if completed < 50 {
		t.Fatalf("only %d completed operations", completed)
	}
	checkLinearizable(t, history)
}
