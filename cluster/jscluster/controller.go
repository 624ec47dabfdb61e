package jscluster

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/jetstore"
)

// The controller makes this server's replicas follow the meta group: it
// creates the replica of every stream placed here, deletes the replica of
// every stream a committed entry deleted (and nothing else), brings a
// leader's stream configuration up to the meta group's, and does the
// periodic membership work (learners ready, promotions). It runs on one
// goroutine, woken by meta changes and route changes, and every second.

const controlPeriod = time.Second

func (c *Cluster) controller() {
	defer c.wg.Done()
	t := time.NewTicker(controlPeriod)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-c.kickCh:
		case <-t.C:
			c.membership()
		}
		c.reconcile()
	}
}

func (c *Cluster) reconcile() {
	c.bindGroups()
	assignments, tombs := c.meta.all()
	for _, t := range tombs {
		c.removeReplica(t)
	}
	for _, a := range assignments {
		for _, p := range a.Peers {
			c.names.add(p)
		}
		if !slices.Contains(a.Peers, c.self) {
			if c.replica(a.Group) != nil || c.group(a.Group) != nil {
				c.leaveGroup(a) // its replica count was lowered
			}
			continue
		}
		c.mu.Lock()
		delete(c.left, a.Group) // placed here (again)
		c.mu.Unlock()
		if c.replica(a.Group) == nil && !c.isJoining(a.Group) && c.group(a.Group) == nil {
			if _, damaged := c.host().Damaged()[a.Group]; !damaged {
				if slices.Contains(a.founders(), c.self) {
					c.createReplica(a)
				} else {
					c.joinReplica(a)
				}
			}
		}
		if r := c.replica(a.Group); r != nil {
			c.syncConfig(r, a)
			c.trimMembers(r, a)
			c.rejoinIfRemoved(r)
		}
	}
}

// bindGroups stores the group handle of replicas created or joined since.
func (c *Cluster) bindGroups() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for gid, r := range c.replicas {
		if r.group.Load() == nil {
			if g := c.group(gid); g != nil {
				r.group.Store(g)
				go c.reconcileLeadership(gid)
			}
		}
	}
}

func (c *Cluster) isJoining(gid uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joining[gid]
}

// createReplica creates this server's replica of a stream placed on it.
func (c *Cluster) createReplica(a *assignment) {
	acc := c.account(a.Account)
	if acc == nil {
		c.log.Warn("stream placed here in an account this server does not have", "account", a.Account, "stream", a.Config.Name)
		return
	}
	store := c.js.Store(acc)
	if store == nil {
		c.log.Warn("stream placed here in an account without JetStream here", "account", a.Account, "stream", a.Config.Name)
		return
	}
	if err := c.writeBinding(a.Group, binding{Account: a.Account, Config: a.Config, Created: a.Created}); err != nil {
		c.log.Error("recording a stream replica", "stream", a.Config.Name, "error", err)
		return
	}
	if _, _, err := store.AddStream(localConfig(a.Config)); errors.Is(err, jetstore.ErrStreamNameInUse) {
		// A copy of an older stream of that name: keep it aside, never
		// delete it on this server's own view.
		if where, qerr := store.Quarantine(a.Config.Name); qerr == nil {
			c.log.Warn("set aside an older local copy of a stream to create its new replica", "stream", a.Config.Name, "moved_to", where)
		}
		_, _, err = store.AddStream(localConfig(a.Config))
		if err != nil {
			c.log.Error("creating a stream replica", "stream", a.Config.Name, "error", err)
			return
		}
	} else if err != nil {
		c.log.Error("creating a stream replica", "stream", a.Config.Name, "error", err)
		return
	}
	voters := make([]multiraft.NodeID, 0, len(a.Peers))
	for _, p := range a.Peers {
		voters = append(voters, c.names.add(p))
	}
	g, err := c.host().CreateGroup(a.Group, voters)
	if err != nil {
		c.log.Error("creating a stream's raft group", "stream", a.Config.Name, "group", a.Group, "error", err)
		return
	}
	if r := c.replica(a.Group); r != nil {
		r.group.Store(g)
	}
	if a.Peers[0] == c.self {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.campaignNew(g)
		}()
	}
	c.log.Info("stream replica created", "account", a.Account, "stream", a.Config.Name, "group", a.Group, "peers", a.Peers)
}

// campaignNew makes the first placed server of a new group lead it
// without waiting out an election timeout. The other replicas are
// created when their own servers apply the same meta entry, usually a few
// milliseconds after this one: a vote request that reaches a server before
// its replica exists is dropped, and raft would ask again only after its
// election timeout (1 to 2 s). So the campaign is repeated every fifth of
// a tick until the group has a leader, for at most an election timeout.
// Only the pre-vote is repeated: once an election is under way (the term
// moved), raft finishes it, so a slow disk never has it restarted.
func (c *Cluster) campaignNew(g *multiraft.Group) {
	term := g.Status().Term
	for range campaignTries {
		g.Campaign()
		if !c.sleep(c.o.TickInterval / 5) {
			return
		}
		if st := g.Status(); st.Leader != 0 || st.Stopped != nil || st.Term != term {
			return
		}
	}
}

// campaignTries bounds campaignNew (fifths of a tick: 10 ticks, the
// default election timeout); past it, raft's own election timeout takes
// over.
const campaignTries = 50

// removeReplica deletes this server's replica of a deleted stream.
func (c *Cluster) removeReplica(t tombstone) {
	r := c.replica(t.Group)
	b, berr := c.readBinding(t.Group)
	if r == nil && berr != nil {
		return // nothing of it here
	}
	if r != nil {
		c.stopReplica(r)
	}
	if c.group(t.Group) != nil || c.host().Damaged()[t.Group] != nil {
		if err := c.host().DropGroup(t.Group); err != nil && !errors.Is(err, multiraft.ErrNoGroup) {
			c.log.Error("dropping a deleted stream's raft group", "group", t.Group, "error", err)
			return
		}
	}
	c.mu.Lock()
	delete(c.replicas, t.Group)
	delete(c.joining, t.Group)
	c.mu.Unlock()
	if berr == nil && b.Account == t.Account && b.Config.Name == t.Name {
		if acc := c.account(t.Account); acc != nil {
			if store := c.js.Store(acc); store != nil {
				if err := store.DeleteStream(t.Name); err != nil && !errors.Is(err, jetstore.ErrStreamNotFound) {
					c.log.Error("deleting a stream replica", "stream", t.Name, "error", err)
					return
				}
			}
		}
	}
	if err := c.removeBinding(t.Group); err != nil {
		c.log.Warn("removing a stream binding", "group", t.Group, "error", err)
	}
	c.log.Info("stream replica deleted", "account", t.Account, "stream", t.Name, "group", t.Group)
}

// stopReplica ends a replica's leadership and catch-up before its group is
// dropped.
func (c *Cluster) stopReplica(r *replica) {
	c.stepDownLocal(r)
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
}

// syncConfig proposes the meta group's configuration of a stream into the
// stream's group, on its leader, when the group's differs.
func (c *Cluster) syncConfig(r *replica, a *assignment) {
	r.mu.Lock()
	l, cfg := r.lead, r.config
	r.mu.Unlock()
	if l == nil || cfg.Equal(a.Config) {
		return
	}
	reply := ""
	if a.Reply != "" && time.Since(a.ReplyAt) < replyWindow && !a.ReplyAt.Equal(a.Created) {
		reply = a.Reply
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := l.proposeWait(ctx, encodeJSON(opConfig, configEntry{Config: a.Config, Reply: reply})); err != nil {
			c.log.Debug("proposing a stream configuration", "stream", r.name, "error", err)
		}
	}()
}

// replyWindow is how long after a create or update request its answer is
// still worth sending (clients time out before).
const replyWindow = 30 * time.Second
