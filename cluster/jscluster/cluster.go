package jscluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/cluster/route"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/jsapi"
	"github.com/midgemq/midge/logging"
)

// Options configure the replication layer of one server.
type Options struct {
	Broker *broker.Broker
	Routes *route.Manager
	JS     *jsapi.JetStream
	// Dir holds the raft log and the records of this server's replicas.
	Dir string
	// Tags are this server's placement tags (server_tags).
	Tags []string
	// ExpectedServers is how many servers (this one included) must be
	// routed together before they found the meta group, when none of them
	// has one yet (the configured routes, counted once each).
	ExpectedServers int
	// TickInterval is the raft tick (default 100 ms; elections take about
	// ten ticks).
	TickInterval time.Duration
}

// Cluster is one server's replication layer: the raft host carrying the
// meta group and this server's stream replicas, the controller that makes
// the replicas follow the meta group's placement, the stream leaders, and
// the jsapi.Cluster the API layer calls.
type Cluster struct {
	o      Options
	b      *broker.Broker
	routes *route.Manager
	js     *jsapi.JetStream
	log    logging.Logger
	self   string
	selfID multiraft.NodeID
	names  names
	rpc    *rpc
	// hostp is the raft host, set once Start opened it; API requests can
	// arrive before.
	hostp atomic.Pointer[multiraft.Host]
	meta  *metaSM
	// opening is set while the host opens: a replica's Restore then reads
	// its own last snapshot, not one a leader sent.
	opening atomic.Bool

	mu       sync.Mutex
	replicas map[uint64]*replica
	joining  map[uint64]bool            // groups this server waits to be told to join
	ready    map[uint64]map[string]bool // learners that caught up, by group
	adding   map[memberKey]bool         // members being added (repair.go)
	removing map[memberKey]bool         // members being removed (shrink.go)
	left     map[uint64]bool            // groups this server was told it left (shrink.go)
	// deferredRepairs are repairs requested while the host opened.
	deferredRepairs []uint64
	stopping        bool

	kickCh chan struct{}
	quit   chan struct{}
	wg     sync.WaitGroup
}

// New prepares the replication layer and puts the JetStream layer in
// cluster mode; call it before the JetStream layer is enabled, and Start
// once the routes and JetStream are up.
func New(o Options) (*Cluster, error) {
	name := o.Broker.Options().ServerName
	if name == "" {
		return nil, errors.New("a JetStream cluster needs server_name set on every server")
	}
	if o.TickInterval <= 0 {
		o.TickInterval = 100 * time.Millisecond
	}
	c := &Cluster{
		o: o, b: o.Broker, routes: o.Routes, js: o.JS, log: o.Broker.Logger().With("component", "jscluster"),
		self: name, replicas: make(map[uint64]*replica), joining: make(map[uint64]bool),
		ready: make(map[uint64]map[string]bool), removing: make(map[memberKey]bool), left: make(map[uint64]bool), kickCh: make(chan struct{}, 1), quit: make(chan struct{}),
	}
	c.selfID = c.names.add(name)
	c.meta = newMetaSM(c)
	o.JS.SetCluster(c)
	return c, nil
}

// Start opens the raft host (recovering the meta group and the replicas
// found on disk) and starts the controller and, if needed, the founding
// of the meta group.
func (c *Cluster) Start() error {
	for _, p := range c.routes.Peers() {
		c.names.add(p.Name)
	}
	c.routes.OnPeerChange(func(name string, up bool) {
		if up {
			c.names.add(name)
		}
		c.kick()
	})
	if err := os.MkdirAll(c.bindingDir(), 0o755); err != nil {
		return fmt.Errorf("jscluster: %w", err)
	}
	c.opening.Store(true)
	h, err := multiraft.Open(multiraft.Config{
		ID:             c.selfID,
		Dir:            filepath.Join(c.o.Dir, "raft"),
		Transport:      &routeTransport{routes: c.routes, names: &c.names},
		TickInterval:   c.o.TickInterval,
		OnFatal:        func(err error) { c.log.Error("raft log failed; replication stopped", "error", err) },
		OnDamaged:      func(g multiraft.GroupID, err error) { c.requestRepair(g) },
		OnLeaderChange: c.onLeaderChange,
	}, c.newSM)
	c.opening.Store(false)
	if err != nil {
		return fmt.Errorf("jscluster: %w", err)
	}
	// The requests of the other servers are served once the host is open.
	c.rpc = newRPC(c.routes, c.rpcHandlers())
	c.hostp.Store(h)
	c.mu.Lock()
	for gid, r := range c.replicas {
		r.group.Store(h.Group(gid))
	}
	c.mu.Unlock()
	for gid, err := range h.Report().Damaged {
		c.log.Error("raft replica damaged; it will be rebuilt from its peers", "group", gid, "error", err)
		c.requestRepair(gid)
	}
	c.startDeferredRepairs()
	c.wg.Add(2)
	go c.controller()
	go c.bootstrap()
	return nil
}

// Close stops the stream leaders, the controller and the raft host.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return
	}
	c.stopping = true
	close(c.quit)
	reps := make([]*replica, 0, len(c.replicas))
	for _, r := range c.replicas {
		reps = append(reps, r)
	}
	c.mu.Unlock()
	for _, r := range reps {
		c.stepDownLocal(r)
	}
	c.wg.Wait()
	if c.host() != nil {
		if err := c.host().Close(); err != nil {
			c.log.Warn("closing the raft host", "error", err)
		}
	}
}

func (c *Cluster) isStopping() bool {
	select {
	case <-c.quit:
		return true
	default:
		return false
	}
}

// sleep waits d; false when the cluster stops first.
func (c *Cluster) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.quit:
		return false
	}
}

// kick wakes the controller.
func (c *Cluster) kick() {
	select {
	case c.kickCh <- struct{}{}:
	default:
	}
}

// host is the raft host, nil before Start opened it.
func (c *Cluster) host() *multiraft.Host { return c.hostp.Load() }

// group is a raft group of this server, nil when it has none (or the host
// is not open yet).
func (c *Cluster) group(gid multiraft.GroupID) *multiraft.Group {
	if h := c.host(); h != nil {
		return h.Group(gid)
	}
	return nil
}

func (c *Cluster) replica(gid uint64) *replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replicas[gid]
}

func (c *Cluster) connected(name string) bool {
	if name == c.self {
		return true
	}
	for _, p := range c.routes.Peers() {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (c *Cluster) account(name string) *broker.Account {
	acc, _ := c.b.LookupAccount(name)
	return acc
}

// newSM makes the state machine of a group the host recovers, creates or
// joins.
func (c *Cluster) newSM(gid multiraft.GroupID) (multiraft.StateMachine, error) {
	if gid == metaGroup {
		return c.meta, nil
	}
	r, err := c.openReplica(gid)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.replicas[gid] = r
	c.mu.Unlock()
	if c.host() != nil {
		// A group created or joined while running: its handle exists once
		// the host returns; the controller stores it.
		c.kick()
	}
	return r, nil
}

// openReplica binds a group to its local stream, creating an empty one
// when it is missing (the replica then catches up).
func (c *Cluster) openReplica(gid uint64) (*replica, error) {
	b, err := c.readBinding(gid)
	if err != nil {
		return nil, fmt.Errorf("jscluster: group %d has no binding: %w", gid, err)
	}
	acc := c.account(b.Account)
	if acc == nil {
		return nil, fmt.Errorf("jscluster: group %d: account %q is not configured here", gid, b.Account)
	}
	store := c.js.Store(acc)
	if store == nil {
		return nil, fmt.Errorf("jscluster: group %d: account %q has no JetStream here", gid, b.Account)
	}
	r := &replica{c: c, gid: gid, account: b.Account, name: b.Config.Name, store: store,
		config: b.Config, created: b.Created, consumers: make(map[string]*consumerRec)}
	st, err := store.Stream(b.Config.Name)
	if errors.Is(err, jetstore.ErrStreamNotFound) {
		st, _, err = store.AddStream(localConfig(b.Config))
	}
	if err != nil {
		return nil, fmt.Errorf("jscluster: group %d: local stream: %w", gid, err)
	}
	r.st = st
	if from, to := st.ForgetLostTail(); from <= to {
		// Sequences recovery counted as deleted are the group's: get them
		// again from the raft log or a peer (a gap, then a catch-up).
		c.log.Warn("stream replica lost its newest messages; it gets them from the group again",
			"account", r.account, "stream", r.name, "from", from, "to", to)
	}
	st.SetRetainHook(r.retain)
	if derr := st.RecoveryDamage(); derr != nil {
		r.mode, r.damage = modeDamaged, derr
		c.log.Error("stream replica damaged on disk; it will be rebuilt from its peers",
			"account", r.account, "stream", r.name, "error", derr)
		c.requestRepair(gid)
	}
	return r, nil
}

// retain proposes the removal of messages a consumer's acknowledgement
// retires (work queue and interest retention), on the leader.
func (r *replica) retain(seqs []uint64) {
	r.mu.Lock()
	l := r.lead
	r.mu.Unlock()
	if l == nil || len(seqs) == 0 {
		return
	}
	var ranges []jetstore.SeqRange
	for _, s := range seqs {
		if n := len(ranges); n > 0 && ranges[n-1].Last+1 == s {
			ranges[n-1].Last = s
			continue
		}
		ranges = append(ranges, jetstore.SeqRange{First: s, Last: s})
	}
	l.group.ProposeAsync(encodeDelete(ranges))
}

// ack answers the publishers of a replicated stream.
func (c *Cluster) ack(r *replica, msgs []*jetstore.InMsg, results []jetstore.PublishResult) {
	c.js.SendPubAcks(c.account(r.account), r.st, msgs, results)
}

// RaftStats are the raft host's traffic counters and group counts; false
// until the host is open.
func (c *Cluster) RaftStats() (multiraft.Stats, bool) {
	h := c.host()
	if h == nil {
		return multiraft.Stats{}, false
	}
	return h.Stats(), true
}
