package jscluster

import (
	"context"
	"slices"

	"github.com/midgemq/midge/cluster/multiraft"
)

// Lowering a stream's replica count. The meta leader commits an update
// that keeps some of the stream's servers (its leader among them when the
// meta leader knows it). Then:
//
//  1. the stream's leader removes the others from the group, one
//     membership change at a time: a member that is reachable when it
//     asks to leave (mLeave: its own view of the meta group agrees, so a
//     leader whose view is behind never removes a member a newer
//     placement keeps), one that is unreachable on the leader's view
//     alone (a peer removed because its server is gone); a leader that is
//     not kept first hands the leadership to a kept replica that is
//     current;
//  2. once a removal is committed the leader tells the removed server
//     (mLeft); a removed server keeps asking the members (mLeave) until
//     it is told, so a lost answer is asked for again;
//  3. the removed server deletes its copy only then, and only while the
//     meta group still does not place the stream on it: what it deletes
//     is a committed decision, never its own view.

// keepPeers chooses n of a stream's servers to keep, its leader first
// when this server knows it.
func (c *Cluster) keepPeers(a *assignment, n int) []string {
	leader := ""
	if r := c.replica(a.Group); r != nil {
		if g := r.group.Load(); g != nil {
			leader = c.names.name(g.Status().Leader)
		}
	}
	keep := make([]string, 0, n)
	if slices.Contains(a.Peers, leader) {
		keep = append(keep, leader)
	}
	for _, p := range a.Peers {
		if len(keep) == n {
			break
		}
		if p != leader {
			keep = append(keep, p)
		}
	}
	return keep
}

// trimMembers (on the stream's leader, from the controller) removes from
// the group the unreachable members the meta group no longer places the
// stream on, and hands over its own leadership when it is not placed
// either; reachable members are removed when they ask (handleLeave).
func (c *Cluster) trimMembers(r *replica, a *assignment) {
	if !r.isLeading() {
		return
	}
	g := r.group.Load()
	if g == nil {
		return
	}
	st := g.Status()
	for _, id := range slices.Concat(st.Voters, st.Learners) {
		name := c.names.name(id)
		if name == "" || slices.Contains(a.Peers, name) {
			continue
		}
		switch {
		case id == c.selfID:
			c.handOver(g, st, a)
		case !memberActive(st, id):
			c.removeMember(g, r.gid, name)
		default:
			continue // it asks to leave once its view agrees
		}
		return // one change at a time
	}
}

// isMember reports whether id is a voter or a learner of the group.
func isMember(st multiraft.Status, id multiraft.NodeID) bool {
	return slices.Contains(st.Voters, id) || slices.Contains(st.Learners, id)
}

// memberActive reports whether the leader heard from member id lately.
func memberActive(st multiraft.Status, id multiraft.NodeID) bool {
	for _, rs := range st.Replicas {
		if rs.Node == id {
			return rs.Active
		}
	}
	return false
}

// handOver moves the leadership of a group this server leads but is no
// longer placed in to a kept member that is current.
func (c *Cluster) handOver(g *multiraft.Group, st multiraft.Status, a *assignment) {
	for _, rs := range st.Replicas {
		if rs.Node != c.selfID && !rs.Learner && rs.Active && rs.Lag == 0 && slices.Contains(a.Peers, c.names.name(rs.Node)) {
			g.TransferLeadership(rs.Node)
			return
		}
	}
}

// removeMember (on a group's leader) removes name from the group and then
// tells it so. It runs once at a time per member.
func (c *Cluster) removeMember(g *multiraft.Group, gid uint64, name string) {
	key := memberKey{gid, name}
	c.mu.Lock()
	if c.stopping || c.removing[key] {
		c.mu.Unlock()
		return
	}
	c.removing[key] = true
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.removing, key)
			c.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, err := g.ChangeMembership(ctx, multiraft.MemberChange{Op: multiraft.RemoveMember, Node: c.names.add(name)}); err != nil {
			c.log.Warn("removing a member no longer placed", "group", gid, "member", name, "error", err)
			return
		}
		c.log.Info("removed a member no longer placed", "group", gid, "member", name)
		c.rpc.send(name, mLeft, groupBody(gid))
	}()
}

// leaveGroup (on a server the meta group no longer places a stream on,
// from the controller) deletes its copy once its removal from the group
// is known to be committed, and until then asks the members for it.
func (c *Cluster) leaveGroup(a *assignment) {
	c.mu.Lock()
	confirmed := c.left[a.Group]
	c.mu.Unlock()
	if !confirmed {
		if g := c.group(a.Group); g != nil {
			st := g.Status()
			confirmed = len(st.Voters) > 0 && !isMember(st, c.selfID)
		}
	}
	if confirmed {
		c.removeReplica(tombstone{Account: a.Account, Name: a.Config.Name, Group: a.Group})
		c.mu.Lock()
		delete(c.left, a.Group)
		c.mu.Unlock()
		return
	}
	body := groupBody(a.Group)
	for _, p := range a.Peers {
		c.rpc.send(p, mLeave, body)
	}
}

// handleLeave runs on a stream's members; its leader removes the sender
// if the meta group no longer places the stream on it, or tells it that
// it is already out.
func (c *Cluster) handleLeave(from string, body []byte) ([]byte, error) {
	gid, err := readGroupBody(body)
	if err != nil {
		return nil, err
	}
	r := c.replica(gid)
	if r == nil || !r.isLeading() {
		return nil, nil
	}
	a := c.meta.lookup(r.account, r.name)
	if a == nil || a.Group != gid || slices.Contains(a.Peers, from) {
		return nil, nil
	}
	g := r.group.Load()
	if g == nil {
		return nil, nil
	}
	st := g.Status()
	if isMember(st, c.names.add(from)) {
		c.removeMember(g, gid, from)
		return nil, nil
	}
	c.rpc.send(from, mLeft, body)
	return nil, nil
}

// handleLeft records that this server's removal from a group is
// committed; the controller deletes the copy (leaveGroup).
func (c *Cluster) handleLeft(_ string, body []byte) ([]byte, error) {
	gid, err := readGroupBody(body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.left[gid] = true
	c.mu.Unlock()
	c.kick()
	return nil, nil
}
