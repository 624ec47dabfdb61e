package jscluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/jsapi"
)

// Leadership of a stream: when raft makes this server a stream's leader,
// it first confirms that it applied everything committed before (a read
// barrier) and that its local stream is synced, then takes over: the
// sequencer, the stream's subscriptions, the replicated consumers. When
// it loses leadership it gives all that up. Transitions of one replica are
// serialised (leadMu) and always re-read the group's current state, so
// events arriving out of order converge.

// syncedWait bounds how long a new leader waits for its local stream to
// catch up before it hands leadership to a member that has it.
const syncedWait = 5 * time.Second

// onLeaderChange is the host's hook; it runs on a raft worker.
func (c *Cluster) onLeaderChange(gid multiraft.GroupID, _ multiraft.NodeID, _ bool) {
	if gid == metaGroup {
		c.kick()
		return
	}
	if c.isStopping() {
		return
	}
	go c.reconcileLeadership(gid)
}

func (c *Cluster) reconcileLeadership(gid uint64) {
	r := c.replica(gid)
	if r == nil {
		return
	}
	r.leadMu.Lock()
	defer r.leadMu.Unlock()
	g := r.group.Load()
	if g == nil || c.isStopping() {
		return
	}
	st := g.Status()
	r.mu.Lock()
	leading, stopped := r.lead != nil, r.stopped
	r.mu.Unlock()
	switch {
	case st.IsLeader && !leading && !stopped:
		c.becomeLeader(r, g)
	case !st.IsLeader && leading:
		c.stepDownLocal(r)
	}
}

func (c *Cluster) becomeLeader(r *replica, g *multiraft.Group) {
	ctx, cancel := context.WithTimeout(context.Background(), syncedWait)
	defer cancel()
	if err := g.ReadBarrier(ctx); err != nil {
		if g.Status().IsLeader {
			time.AfterFunc(200*time.Millisecond, func() { c.reconcileLeadership(r.gid) })
		}
		return
	}
	for {
		mode, _ := r.status()
		if mode == modeSynced {
			break
		}
		if ctx.Err() != nil || !g.Status().IsLeader {
			c.handOff(r, g)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	acc := c.account(r.account)
	r.mu.Lock()
	if r.lead != nil || r.stopped || r.mode != modeSynced {
		r.mu.Unlock()
		return
	}
	l := newLeader(r, g)
	r.lead, r.seq = l, l.seq
	for name, rec := range r.consumers {
		if _, err := l.startConsumer(name, rec, ""); err != nil {
			c.log.Warn("starting a replicated consumer", "stream", r.name, "consumer", name, "error", err)
		}
	}
	r.mu.Unlock()
	if err := c.js.AttachReplicated(acc, r.st, l.publish); err != nil {
		c.log.Error("subscribing a stream's subjects", "stream", r.name, "error", err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		l.run()
	}()
	c.log.Info("stream leader", "account", r.account, "stream", r.name, "group", r.gid, "term", g.Status().Term)
	if a := c.meta.lookup(r.account, r.name); a != nil && a.Group == r.gid && a.Reply != "" &&
		a.ReplyAt.Equal(a.Created) && time.Since(a.ReplyAt) < replyWindow {
		c.respondInfo(r, a.Reply, true, false)
	}
	c.kick() // the controller checks the configuration
}

// handOff gives leadership to a member whose stream is synced, when this
// one cannot serve yet.
func (c *Cluster) handOff(r *replica, g *multiraft.Group) {
	st := g.Status()
	if !st.IsLeader {
		return
	}
	for _, rs := range st.Replicas {
		if rs.Node != c.selfID && rs.Active && !rs.Learner && rs.Lag == 0 {
			c.log.Warn("stream replica not caught up; handing leadership over", "stream", r.name, "to", c.names.name(rs.Node))
			g.TransferLeadership(rs.Node)
			return
		}
	}
	time.AfterFunc(time.Second, func() { c.reconcileLeadership(r.gid) })
}

// stepDownLocal gives up what this server did as the stream's leader.
func (c *Cluster) stepDownLocal(r *replica) {
	r.mu.Lock()
	l := r.lead
	r.lead, r.seq = nil, nil
	r.mu.Unlock()
	if l == nil {
		return
	}
	c.js.DetachReplicated(c.account(r.account), r.name)
	l.stop()
	for _, cons := range r.st.Consumers() {
		_ = r.st.DetachConsumer(cons.Name())
	}
	c.log.Info("stream leadership given up", "account", r.account, "stream", r.name, "group", r.gid)
}

// respondInfo answers a create or update request with the stream's info.
func (c *Cluster) respondInfo(r *replica, reply string, created, update bool) {
	c.js.RespondStreamInfo(c.account(r.account), reply, c.view(r), created, update)
}

// view is the API's view of a stream this server leads.
func (c *Cluster) view(r *replica) *jsapi.StreamView {
	r.mu.Lock()
	cfg, created := r.config, r.created
	r.mu.Unlock()
	if a := c.meta.lookup(r.account, r.name); a != nil && a.Group == r.gid {
		cfg = a.Config
	}
	return &jsapi.StreamView{Config: cfg, Created: created, Stream: r.st, Cluster: c.clusterInfo(r)}
}

// clusterInfo is the leader's view of the stream's group.
func (c *Cluster) clusterInfo(r *replica) *jsapi.ClusterInfo {
	return c.groupInfo(r.group.Load())
}

// MetaInfo is this server's view of the meta group (/jsz meta_cluster):
// its leader, and on the leader each other member's state. ok is false
// before this server is a member.
func (c *Cluster) MetaInfo() (info *jsapi.ClusterInfo, size int, ok bool) {
	g := c.group(metaGroup)
	if g == nil {
		return nil, 0, false
	}
	return c.groupInfo(g), len(g.Status().Voters), true
}

// groupInfo is a group's leader and, on the leader, the other members.
func (c *Cluster) groupInfo(g *multiraft.Group) *jsapi.ClusterInfo {
	info := &jsapi.ClusterInfo{Name: c.routes.ClusterName()}
	if g == nil {
		return info
	}
	st := g.Status()
	info.Leader = c.names.name(st.Leader)
	for _, rs := range st.Replicas {
		if rs.Node == st.Leader {
			continue
		}
		p := &jsapi.PeerInfo{Name: c.names.name(rs.Node), Lag: rs.Lag, Offline: !rs.Active}
		// A learner (a replica being rebuilt) is not current: it does
		// not count in a quorum yet, whatever its lag.
		p.Current = rs.Active && rs.Lag == 0 && !rs.Learner
		if rs.Active {
			p.Active = c.o.TickInterval
		}
		info.Replicas = append(info.Replicas, p)
	}
	return info
}

// StepDown hands the stream's leadership to preferred, or (preferred
// empty) to another member that is current (jsapi.Cluster), and waits
// (bounded) for it to move.
func (c *Cluster) StepDown(acc *broker.Account, stream, preferred string) error {
	r, err := c.leading(acc, stream)
	if err != nil {
		return err
	}
	g := r.group.Load()
	st := g.Status()
	var to multiraft.NodeID
	for _, rs := range st.Replicas {
		if preferred != "" && c.names.name(rs.Node) != preferred {
			continue
		}
		if rs.Node != c.selfID && rs.Active && !rs.Learner && rs.Lag == 0 {
			to = rs.Node
			break
		}
	}
	if to == 0 {
		if preferred != "" {
			return fmt.Errorf("preferred server %q is not a current replica of the stream", preferred)
		}
		return errors.New("no other replica is current")
	}
	g.TransferLeadership(to)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if !g.Status().IsLeader {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("leadership did not move")
}

// readWait bounds a read barrier: a leader that cannot reach a quorum in
// that time does not answer the read.
const readWait = 2 * time.Second

// ReadBarrier confirms, through raft's ReadIndex, that this server still
// leads the stream and has applied (and stored in its copy) every entry
// committed before the call (jsapi.Cluster). A leader cut off from its
// group, or one that has not applied its predecessors' entries yet, gets
// an error and must not serve the read.
func (c *Cluster) ReadBarrier(acc *broker.Account, stream string) error {
	r, err := c.leading(acc, stream)
	if err != nil {
		return err
	}
	g := r.group.Load()
	if g == nil {
		return ErrLeaderChanged
	}
	ctx, cancel := context.WithTimeout(context.Background(), readWait)
	defer cancel()
	if err := g.ReadBarrier(ctx); err != nil {
		return err
	}
	if mode, _ := r.status(); mode != modeSynced || !r.isLeading() {
		return ErrLeaderChanged
	}
	return nil
}

// MetaReadBarrier confirms through raft's ReadIndex that this server still
// leads the meta group and has applied every meta entry committed before
// the call (jsapi.Cluster).
func (c *Cluster) MetaReadBarrier() error {
	g := c.group(metaGroup)
	if g == nil || !g.Status().IsLeader {
		return ErrLeaderChanged
	}
	ctx, cancel := context.WithTimeout(context.Background(), readWait)
	defer cancel()
	if err := g.ReadBarrier(ctx); err != nil {
		return err
	}
	if !g.Status().IsLeader {
		return ErrLeaderChanged
	}
	return nil
}
