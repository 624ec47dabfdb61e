package jscluster_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/midgemq/midge/internal/faultproxy"
	"github.com/midgemq/midge/logging"
)

// leaderLog records, from the servers' logs, which server took the
// leadership of which stream in which raft term, and keeps the test
// logger's output when MIDGE_TEST_LOG is set.
type leaderLog struct {
	mu    sync.Mutex
	terms map[string]map[uint64][]string // stream -> term -> servers
	last  map[string]string              // stream -> newest leader
}

func newLeaderLog() *leaderLog {
	return &leaderLog{terms: map[string]map[uint64][]string{}, last: map[string]string{}}
}

func (ll *leaderLog) note(server string, kv []any) {
	var stream string
	var term uint64
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i] {
		case "stream":
			stream, _ = kv[i+1].(string)
		case "term":
			term, _ = kv[i+1].(uint64)
		}
	}
	if stream == "" {
		return
	}
	ll.mu.Lock()
	defer ll.mu.Unlock()
	if ll.terms[stream] == nil {
		ll.terms[stream] = map[uint64][]string{}
	}
	ll.terms[stream][term] = append(ll.terms[stream][term], server)
	ll.last[stream] = server
}

// check fails the test when two servers led a stream in the same term.
func (ll *leaderLog) check(t *testing.T, stream string) (terms int) {
	t.Helper()
	ll.mu.Lock()
	defer ll.mu.Unlock()
	t.Logf("stream %s leaders by term: %v", stream, ll.terms[stream])
	for term, servers := range ll.terms[stream] {
		for _, s := range servers[1:] {
			if s != servers[0] {
				t.Errorf("stream %s: servers %v both led term %d", stream, servers, term)
			}
		}
	}
	return len(ll.terms[stream])
}

func (ll *leaderLog) newest(stream string) string {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	return ll.last[stream]
}

type capLog struct {
	ll     *leaderLog
	server string
	inner  logging.Logger
	kv     []any
}

func (l capLog) Debug(msg string, kv ...any) {
	if l.inner != nil {
		l.inner.Debug(msg, kv...)
	}
}
func (l capLog) Info(msg string, kv ...any) {
	if msg == "stream leader" {
		l.ll.note(l.server, append(append([]any(nil), l.kv...), kv...))
	}
	if l.inner != nil {
		l.inner.Info(msg, kv...)
	}
}
func (l capLog) Warn(msg string, kv ...any) {
	if l.inner != nil {
		l.inner.Warn(msg, kv...)
	}
}
func (l capLog) Error(msg string, kv ...any) {
	if l.inner != nil {
		l.inner.Error(msg, kv...)
	}
}
func (l capLog) With(kv ...any) logging.Logger {
	var inner logging.Logger
	if l.inner != nil {
		inner = l.inner.With(kv...)
	}
	return capLog{ll: l.ll, server: l.server, inner: inner, kv: append(append([]any(nil), l.kv...), kv...)}
}

// startProxiedCluster starts n servers whose routes (configured and
// gossiped) all pass through a faultproxy network, one proxy per ordered
// pair of servers.
func startProxiedCluster(t *testing.T, n int) (*tcluster, *faultproxy.Network, *leaderLog) {
	t.Helper()
	netw := faultproxy.NewNetwork()
	t.Cleanup(netw.Close)
	ll := newLeaderLog()
	c := &tcluster{t: t}
	// Every route address is known to the network before any server
	// starts, so that no gossiped route is dialled around the proxies.
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%d", i+1)
		port := freePort(t)
		nd := &node{t: t, name: name, dir: t.TempDir(), port: port, dialer: netw.Dialer(name)}
		nd.log = capLog{ll: ll, server: name, inner: testLogger(name)}
		netw.AddNode(name, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() { // before the directories are removed
		for _, nd := range c.nodes {
			nd.stop()
		}
	})
	for i, nd := range c.nodes {
		if i > 0 {
			nd.routes = []string{c.nodes[0].s.ClusterURL()}
		}
		nd.start()
	}
	for _, nd := range c.nodes {
		nd.routes = nil
		for _, o := range c.nodes {
			if o != nd {
				nd.routes = append(nd.routes, o.s.ClusterURL())
			}
		}
	}
	c.waitMesh()
	return c, netw, ll
}

// freePort is a loopback port free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A stream leader cut off from its group does not answer reads from its
// copy: the direct get (KV Get) it is asked while isolated gets no answer
// rather than one the majority may already have overwritten.
func TestR3IsolatedLeaderDoesNotServeReads(t *testing.T) {
	c, netw, _ := startProxiedCluster(t, 3)
	_, js := c.client(c.nodes[0])
	var kv jetstream.KeyValue
	waitFor(t, 20*time.Second, "bucket created", func() bool {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		kv, err = js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: "ISO", Replicas: 3})
		return err == nil
	})
	waitFor(t, 10*time.Second, "first put", func() bool {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := kv.Put(pctx, "k", []byte("v1"))
		return err == nil
	})
	leader := leaderOf(t, js, "KV_ISO")
	_, ljs := c.client(c.byName(leader))
	lkv, err := ljs.KeyValue(ctx(t, 5*time.Second), "ISO")
	if err != nil {
		t.Fatal(err)
	}
	// Reads on the leader are answered while it is connected.
	if e, err := lkv.Get(ctx(t, 5*time.Second), "k"); err != nil || string(e.Value()) != "v1" {
		t.Fatalf("get on the leader: %v, %v", e, err)
	}
	netw.Isolate(leader)
	// Within the election timeout the isolated server still believes it
	// leads; it must not answer.
	for range 3 {
		gctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		e, err := lkv.Get(gctx, "k")
		cancel()
		if err == nil {
			t.Fatalf("the isolated leader answered a read: %q", e.Value())
		}
	}
	netw.Heal()
	waitFor(t, 20*time.Second, "read after heal", func() bool {
		gctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e, err := lkv.Get(gctx, "k")
		return err == nil && string(e.Value()) == "v1"
	})
}

// kvIn and kvOut are the KV operations the partition test checks.
type kvIn struct {
	op     byte // 'p' put, 'u' update (compare-and-set), 'g' get
	key    string
	value  string
	expect uint64 // update: the expected last revision
}

type kvOut struct {
	ok      bool // get: found; update: stored
	value   string
	rev     uint64
	unknown bool // a write whose outcome the client never learned
}

// kvState is one key: its value and revision (revKnown false after a
// write whose revision no one saw).
type kvState struct {
	present  bool
	value    string
	rev      uint64
	revKnown bool
}

var jsKVModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvIn).key
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
	Init: func() any { return kvState{revKnown: true} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(kvState), input.(kvIn), output.(kvOut)
		newer := func(rev uint64) bool { return !st.revKnown || rev > st.rev }
		switch in.op {
		case 'p':
			if out.unknown {
				return true, kvState{present: true, value: in.value}
			}
			return newer(out.rev), kvState{present: true, value: in.value, rev: out.rev, revKnown: true}
		case 'u':
			matches := st.revKnown && st.rev == in.expect && (st.present || in.expect == 0)
			if out.unknown {
				if st.revKnown && !matches {
					return true, st
				}
				return true, kvState{present: true, value: in.value}
			}
			if out.ok {
				if st.revKnown && !matches {
					return false, st
				}
				return newer(out.rev), kvState{present: true, value: in.value, rev: out.rev, revKnown: true}
			}
			// Refused: the revision was not the expected one.
			return !matches, st
		default:
			if !out.ok {
				return !st.present, st
			}
			if !st.present || st.value != out.value || (st.revKnown && st.rev != out.rev) {
				return false, st
			}
			st.rev, st.revKnown = out.rev, true
			return true, st
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvIn), output.(kvOut)
		return fmt.Sprintf("%c(%s,%s,%d) -> %+v", in.op, in.key, in.value, in.expect, out)
	},
}

// history collects operations from several clients.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}

// A three-replica key-value bucket stays linearizable while partitions
// come and go: its leader isolated, the servers split, one direction of
// a link dropped. Clients on every server put, compare-and-set and get a
// few keys; porcupine checks the history (writes whose outcome the client
// never learned count as pending), and no two servers lead in one term.
// MIDGE_PARTITION_ROUNDS sets the rounds (one by default, ~20 s each;
// more under `make soak-cluster`). The last bug it found, a KV Get
// overlapping a Put of the same key answered "not found", showed in about
// one run of fifteen; jetstore TestLastBySubjectNeverMissesAnOverwrittenKey
// pins it.
func TestR3KeyValueLinearizableUnderPartitions(t *testing.T) {
	rounds := 1
	if s := os.Getenv("MIDGE_PARTITION_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MIDGE_PARTITION_ROUNDS=%q", s)
		}
		rounds = n
	}
	c, netw, ll := startProxiedCluster(t, 3)
	_, js := c.client(c.nodes[0])
	waitFor(t, 20*time.Second, "bucket created", func() bool {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: "LIN", Replicas: 3})
		return err == nil
	})
	const stream = "KV_LIN"
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	h := &history{start: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var nOps, nPending, nRefused atomic.Int64
	const clients = 6
	for i := range clients {
		nd := c.nodes[i%len(c.nodes)]
		_, cjs := c.client(nd)
		var kv jetstream.KeyValue
		waitFor(t, 10*time.Second, "bucket bound", func() bool {
			bctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var err error
			kv, err = cjs.KeyValue(bctx, "LIN")
			return err == nil
		})
		wg.Add(1)
		go func(id int, kv jetstream.KeyValue) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(id), 42))
			lastRev := map[string]uint64{}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := keys[rng.IntN(len(keys))]
				in := kvIn{key: key, value: fmt.Sprintf("c%d-%d", id, n)}
				var out kvOut
				opCtx, cancel := context.WithTimeout(context.Background(), time.Second)
				call := h.now()
				record := true
				switch r := rng.IntN(10); {
				case r < 3:
					in.op = 'p'
					rev, err := kv.Put(opCtx, key, []byte(in.value))
					out = kvOut{ok: err == nil, rev: rev, unknown: err != nil}
					if err == nil {
						lastRev[key] = rev
					}
				case r < 6:
					in.op, in.expect = 'u', lastRev[key]
					rev, err := kv.Update(opCtx, key, []byte(in.value), in.expect)
					switch {
					case err == nil:
						out = kvOut{ok: true, rev: rev}
						lastRev[key] = rev
					case isWrongLastSeq(err):
						out = kvOut{}
						nRefused.Add(1)
					default:
						out = kvOut{unknown: true}
					}
				default:
					in.op = 'g'
					e, err := kv.Get(opCtx, key)
					switch {
					case err == nil:
						out = kvOut{ok: true, value: string(e.Value()), rev: e.Revision()}
						lastRev[key] = e.Revision()
					case errors.Is(err, jetstream.ErrKeyNotFound):
						out = kvOut{}
					default:
						record = false // a read that failed constrains nothing
					}
				}
				cancel()
				ret := h.now()
				if out.unknown {
					ret = math.MaxInt64 // pending: it may take effect any time after its call
					nPending.Add(1)
				}
				if record {
					h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
					nOps.Add(1)
				}
				// Think time: it keeps the history small enough to check
				// (longer while the cluster is unavailable).
				think := 10 * time.Millisecond
				if out.unknown || !record {
					think = 50 * time.Millisecond
				}
				select {
				case <-stop:
					return
				case <-time.After(think):
				}
			}
		}(i, kv)
	}
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	names := []string{"s1", "s2", "s3"}
	partitions := 0
	phase := func(what string, fault func()) {
		fault()
		partitions++
		t.Logf("partition %d: %s", partitions, what)
		time.Sleep(2500 * time.Millisecond) // the fault's duration
		netw.Heal()
		time.Sleep(1500 * time.Millisecond) // healed, before the next fault
	}
	for range rounds {
		l := ll.newest(stream)
		if l == "" {
			l = names[rng.IntN(3)]
		}
		phase("isolate leader "+l, func() { netw.Isolate(l) })
		x := names[rng.IntN(3)]
		var rest []string
		for _, n := range names {
			if n != x {
				rest = append(rest, n)
			}
		}
		phase(fmt.Sprintf("split %s | %v", x, rest), func() { netw.Split([]string{x}, rest) })
		from, to := names[rng.IntN(3)], ""
		for to == "" || to == from {
			to = names[rng.IntN(3)]
		}
		phase("drop "+from+" -> "+to, func() { netw.Drop(from, to) })
		l = ll.newest(stream)
		if l == "" {
			l = names[rng.IntN(3)]
		}
		phase("drop both ways around leader "+l+" and delay the rest", func() {
			netw.Isolate(l)
			for _, a := range names {
				for _, b := range names {
					if a < b && a != l && b != l {
						netw.Delay(a, b, 20*time.Millisecond)
					}
				}
			}
		})
		phase("reset every route", func() {
			for _, a := range names {
				for _, b := range names {
					if a < b {
						netw.Reset(a, b)
					}
				}
			}
		})
	}
	netw.Heal()
	// The healed cluster takes writes again before the clients stop.
	_, fjs := c.client(c.nodes[0])
	fkv, err := fjs.KeyValue(ctx(t, 5*time.Second), "LIN")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a put after healing", func() bool {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := fkv.Put(pctx, "healed", []byte("x"))
		return err == nil
	})
	close(stop)
	wg.Wait()
	terms := ll.check(t, stream)
	h.mu.Lock()
	ops := h.ops
	h.mu.Unlock()
	t.Logf("%d rounds, %d partitions, %d operations (%d pending, %d refused compare-and-sets), %d leader terms",
		rounds, partitions, nOps.Load(), nPending.Load(), nRefused.Load(), terms)
	// The check's time grows with the history and its pending writes.
	res, info := porcupine.CheckOperationsVerbose(jsKVModel, ops, time.Duration(rounds)*90*time.Second)
	switch res {
	case porcupine.Illegal:
		path := fmt.Sprintf("%s/history.html", os.TempDir())
		if f, err := os.Create(path); err == nil {
			_ = porcupine.Visualize(jsKVModel, info, f)
			f.Close()
		}
		t.Fatalf("the history of %d operations is not linearizable (visualisation: %s)", len(ops), path)
	case porcupine.Unknown:
		t.Fatalf("the linearizability check of %d operations timed out", len(ops))
	}
}

// A server cut off from the meta group does not know streams created
// meanwhile; asked about one, it must not answer that it does not exist
// (nats.go would then create it again, or a check would take it for
// deleted): only the meta leader, after a read barrier, says "not found".
// Once the partition heals the same server answers with the stream.
func TestCutOffServerNeverSaysAStreamIsMissing(t *testing.T) {
	c, netw, _ := startProxiedCluster(t, 3)
	cut := c.nodes[2]
	_, cutJS := c.client(cut)
	_, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "BEFORE", Subjects: []string{"before.>"}, Replicas: 3})

	netw.Isolate(cut.name)
	// Placement avoids servers it sees disconnected: wait until the others
	// see the cut one gone, so the new stream is placed on them.
	waitFor(t, 10*time.Second, "the others lose their routes to "+cut.name, func() bool {
		return c.nodes[0].s.NumRoutes() == 1 && c.nodes[1].s.NumRoutes() == 1
	})
	createStream(t, js, jetstream.StreamConfig{Name: "DURING", Subjects: []string{"during.>"}, Replicas: 2})
	for range 5 {
		sctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := cutJS.Stream(sctx, "DURING")
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatal("the cut-off server answered that a stream created during the partition does not exist")
		}
	}
	netw.Heal()
	waitFor(t, 20*time.Second, "the stream seen through the healed server", func() bool {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := cutJS.Stream(sctx, "DURING")
		return err == nil && st.CachedInfo().Config.Name == "DURING"
	})
	// A stream that exists nowhere is still reported missing, by the meta
	// leader, through any server.
	for _, nd := range c.nodes {
		_, njs := c.client(nd)
		waitFor(t, 10*time.Second, "not found through "+nd.name, func() bool {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := njs.Stream(sctx, "NEVER")
			return errors.Is(err, jetstream.ErrStreamNotFound)
		})
	}
}
