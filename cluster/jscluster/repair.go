package jscluster

import (
	"context"
	"slices"
	"time"

	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/jetstore"
)

// Repair and membership. A replica whose raft log (multiraft's damage
// report) or stream blocks (jetstore's recovery report) lost data it had
// acknowledged must not count in a quorum again before it holds that data:
//
//  1. the damaged server drops its raft replica at once (it stops voting)
//     and sets its local stream aside (quarantine: moved, never deleted),
//     keeping an empty one;
//  2. it asks the group's members to rebuild it; the leader removes it
//     from the group (the others form the quorum), adds it back as a
//     learner, and tells it to join;
//  3. the learner receives the raft log or a snapshot, then catches up
//     the stream's messages from a peer (catchup.go), and tells the
//     leader it is ready;
//  4. the leader promotes it to voter.
//
// The meta group's new members go through the same learner steps, and so
// does a server a stream is placed on when its replica count is raised
// (joinReplica): it starts from an empty copy instead of a damaged one.

const repairPeriod = 2 * time.Second

// requestRepair starts rebuilding this server's replica of a group.
func (c *Cluster) requestRepair(gid uint64) {
	c.mu.Lock()
	if c.stopping || c.joining[gid] {
		c.mu.Unlock()
		return
	}
	c.joining[gid] = true
	if c.host() == nil {
		// Found while the host opens (a replica's store recovered
		// damaged): rebuilding needs the host and the peers' requests,
		// so Start runs it once the host is open.
		c.deferredRepairs = append(c.deferredRepairs, gid)
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go c.rebuild(gid)
}

// startDeferredRepairs runs the repairs requested before the host was
// open. Called by Start once it is.
func (c *Cluster) startDeferredRepairs() {
	c.mu.Lock()
	gids := c.deferredRepairs
	c.deferredRepairs = nil
	if c.stopping {
		gids = nil
	}
	c.wg.Add(len(gids))
	c.mu.Unlock()
	for _, gid := range gids {
		go c.rebuild(gid)
	}
}

func (c *Cluster) rebuild(gid uint64) {
	defer c.wg.Done()
	if gid == metaGroup {
		// The meta state is small and rebuilt whole: rejoin as a learner
		// (bootstrap asks the leader).
		if err := c.host().DropGroup(metaGroup); err != nil {
			c.log.Warn("dropping the damaged meta replica", "error", err)
		}
		return
	}
	b, err := c.readBinding(gid)
	if err != nil {
		c.log.Error("damaged replica without a binding; left as it is", "group", gid, "error", err)
		return
	}
	a := c.meta.lookup(b.Account, b.Config.Name)
	if a != nil && a.Group == gid && len(a.Peers) == 1 {
		c.log.Error("damaged replica of a stream with one replica: nothing to rebuild it from; serving what is left",
			"stream", b.Config.Name)
		c.mu.Lock()
		delete(c.joining, gid)
		c.mu.Unlock()
		return
	}
	if r := c.replica(gid); r != nil {
		c.stopReplica(r)
	}
	if c.group(gid) != nil || c.host().Damaged()[gid] != nil {
		if err := c.host().DropGroup(gid); err != nil {
			c.log.Error("dropping a damaged replica", "group", gid, "error", err)
		}
	}
	c.mu.Lock()
	delete(c.replicas, gid)
	c.mu.Unlock()
	if acc := c.account(b.Account); acc != nil {
		if store := c.js.Store(acc); store != nil {
			if where, err := store.Quarantine(b.Config.Name); err == nil {
				c.log.Warn("set aside a damaged stream replica", "stream", b.Config.Name, "moved_to", where)
			}
			if _, _, err := store.AddStream(localConfig(b.Config)); err != nil {
				c.log.Error("recreating a stream replica", "stream", b.Config.Name, "error", err)
			}
		}
	}
	c.askToJoinGroup(b.Account, b.Config.Name, gid)
}

// joinReplica makes this server a new replica of a running stream (its
// replica count was raised): it records the binding, sets aside an older
// local copy of that name, and asks the group to add it as a learner.
func (c *Cluster) joinReplica(a *assignment) {
	var store *jetstore.Store
	if acc := c.account(a.Account); acc != nil {
		store = c.js.Store(acc)
	}
	if store == nil {
		c.log.Warn("stream placed here in an account without JetStream here", "account", a.Account, "stream", a.Config.Name)
		return
	}
	c.mu.Lock()
	if c.stopping || c.joining[a.Group] {
		c.mu.Unlock()
		return
	}
	c.joining[a.Group] = true
	c.wg.Add(1)
	c.mu.Unlock()
	if _, err := store.Stream(a.Config.Name); err == nil {
		// A copy of an older stream of that name (this server has no group
		// for this one): kept aside, never deleted on this server's view.
		if where, qerr := store.Quarantine(a.Config.Name); qerr == nil {
			c.log.Warn("set aside an older local copy of a stream to join its group", "stream", a.Config.Name, "moved_to", where)
		}
	}
	if err := c.writeBinding(a.Group, binding{Account: a.Account, Config: a.Config, Created: a.Created}); err != nil {
		c.log.Error("recording a stream replica", "stream", a.Config.Name, "error", err)
		c.mu.Lock()
		delete(c.joining, a.Group)
		c.mu.Unlock()
		c.wg.Done()
		return
	}
	c.log.Info("joining a stream's group as a new replica", "account", a.Account, "stream", a.Config.Name, "group", a.Group)
	go func() {
		defer c.wg.Done()
		c.askToJoinGroup(a.Account, a.Config.Name, a.Group)
	}()
}

// askToJoinGroup asks the members of a stream's group, until this server
// has joined it, to add it as a learner (the leader does, handleRebuild).
func (c *Cluster) askToJoinGroup(account, name string, gid uint64) {
	body := groupBody(gid)
	for c.isJoining(gid) {
		a := c.meta.lookup(account, name)
		if a == nil || a.Group != gid {
			return // deleted meanwhile: the controller removes the rest
		}
		for _, p := range a.Peers {
			if p != c.self {
				c.rpc.send(p, mRebuild, body)
			}
		}
		if !c.sleep(repairPeriod) {
			return
		}
	}
}

// rejoinIfRemoved rebuilds this server's replica of a stream placed on it
// whose group no longer counts it as a member (a leader removed it on a
// view of the placement that was behind): it asks to be added back as a
// learner, setting its copy aside, as a damaged replica does.
func (c *Cluster) rejoinIfRemoved(r *replica) {
	g := r.group.Load()
	if g == nil || c.isJoining(r.gid) {
		return
	}
	st := g.Status()
	if len(st.Voters) == 0 || isMember(st, c.selfID) {
		return
	}
	c.log.Warn("placed on this server but no longer a member of the stream's group: rebuilding", "stream", r.name, "group", r.gid)
	c.requestRepair(r.gid)
}

// handleRebuild runs on a stream's members; its leader takes the sender
// out of the group and back in as a learner.
func (c *Cluster) handleRebuild(from string, body []byte) ([]byte, error) {
	gid, err := readGroupBody(body)
	if err != nil {
		return nil, err
	}
	r := c.replica(gid)
	if r == nil || !r.isLeading() {
		return nil, nil
	}
	// Only a server the meta group places the stream on is added.
	if a := c.meta.lookup(r.account, r.name); a == nil || a.Group != gid || !slices.Contains(a.Peers, from) {
		return nil, nil
	}
	c.addMember(r.group.Load(), gid, from)
	return nil, nil
}

// addMember (on a group's leader) makes name a learner of the group,
// removing it first if it is a voter, then tells it to join. It runs once
// at a time per member.
func (c *Cluster) addMember(g *multiraft.Group, gid uint64, name string) {
	key := memberKey{gid, name}
	c.mu.Lock()
	if c.adding == nil {
		c.adding = make(map[memberKey]bool)
	}
	if c.adding[key] {
		c.mu.Unlock()
		return
	}
	c.adding[key] = true
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.adding, key)
			c.mu.Unlock()
		}()
		id := c.names.add(name)
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		st := g.Status()
		if slices.Contains(st.Voters, id) {
			if _, err := g.ChangeMembership(ctx, multiraft.MemberChange{Op: multiraft.RemoveMember, Node: id}); err != nil {
				c.log.Warn("removing a member to rebuild it", "group", gid, "member", name, "error", err)
				return
			}
			st = g.Status()
		}
		if !slices.Contains(st.Learners, id) {
			if _, err := g.ChangeMembership(ctx, multiraft.MemberChange{Op: multiraft.AddLearner, Node: id}); err != nil {
				c.log.Warn("adding a learner", "group", gid, "member", name, "error", err)
				return
			}
		}
		c.log.Info("added a learner", "group", gid, "member", name)
		c.rpc.send(name, mJoinGroup, groupBody(gid))
	}()
}

type memberKey struct {
	gid  uint64
	name string
}

// handleJoinGroup joins a group this server asked to be (re)added to.
func (c *Cluster) handleJoinGroup(_ string, body []byte) ([]byte, error) {
	gid, err := readGroupBody(body)
	if err != nil {
		return nil, err
	}
	if !c.isJoining(gid) || c.group(gid) != nil {
		return nil, nil
	}
	g, err := c.host().JoinGroup(gid)
	if err != nil {
		c.log.Warn("joining a group", "group", gid, "error", err)
		return nil, nil
	}
	if r := c.replica(gid); r != nil {
		r.group.Store(g)
	}
	c.mu.Lock()
	delete(c.joining, gid)
	c.mu.Unlock()
	c.log.Info("joined a group as a learner", "group", gid)
	return nil, nil
}

// handleReady records that a learner of a group this server leads caught
// up.
func (c *Cluster) handleReady(from string, body []byte) ([]byte, error) {
	gid, err := readGroupBody(body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.ready[gid] == nil {
		c.ready[gid] = make(map[string]bool)
	}
	c.ready[gid][from] = true
	c.mu.Unlock()
	return nil, nil
}

// membership is the controller's periodic membership work: a learner
// whose stream caught up says so; a leader promotes learners that caught
// up.
func (c *Cluster) membership() {
	if g := c.group(metaGroup); g != nil {
		c.promote(g, metaGroup, func(string) bool { return true })
	}
	c.mu.Lock()
	reps := make([]*replica, 0, len(c.replicas))
	for _, r := range c.replicas {
		reps = append(reps, r)
	}
	c.mu.Unlock()
	for _, r := range reps {
		g := r.group.Load()
		if g == nil {
			continue
		}
		st := g.Status()
		if st.IsLeader {
			c.promote(g, r.gid, func(name string) bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.ready[r.gid][name]
			})
			continue
		}
		if mode, _ := r.status(); mode == modeSynced && slices.Contains(st.Learners, c.selfID) && st.Leader != 0 {
			c.rpc.send(c.names.name(st.Leader), mReady, groupBody(r.gid))
		}
	}
}

// promote makes the learners of a group this server leads voters once
// their log caught up and ready says their state did.
func (c *Cluster) promote(g *multiraft.Group, gid uint64, ready func(string) bool) {
	st := g.Status()
	if !st.IsLeader || len(st.Learners) == 0 {
		return
	}
	for _, rs := range st.Replicas {
		name := c.names.name(rs.Node)
		if !rs.Learner || !rs.Active || rs.Match < st.Commit || name == "" || !ready(name) {
			continue
		}
		c.wg.Add(1)
		go func(id multiraft.NodeID) {
			defer c.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			if _, err := g.ChangeMembership(ctx, multiraft.MemberChange{Op: multiraft.AddVoter, Node: id}); err != nil {
				c.log.Warn("promoting a learner", "group", gid, "member", name, "error", err)
				return
			}
			c.mu.Lock()
			delete(c.ready[gid], name)
			c.mu.Unlock()
			c.log.Info("promoted a learner to voter", "group", gid, "member", name)
		}(rs.Node)
	}
}

func (c *Cluster) rpcHandlers() map[method]rpcHandler {
	return map[method]rpcHandler{
		mForward:       c.handleForward,
		mCatchupMsgs:   c.serveCatchupMsgs,
		mCatchupDelete: c.serveCatchupDelete,
		mFoundMeta:     c.handleFound,
		mJoinMeta:      c.handleJoinMeta,
		mRebuild:       c.handleRebuild,
		mJoinGroup:     c.handleJoinGroup,
		mReady:         c.handleReady,
		mLeave:         c.handleLeave,
		mLeft:          c.handleLeft,
	}
}
