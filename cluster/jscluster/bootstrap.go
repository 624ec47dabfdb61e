package jscluster

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/midgemq/midge/cluster/multiraft"
)

// Founding and joining the meta group.
//
// A server that has no meta group waits until it is routed to the
// expected number of servers (the configured routes) and that view has
// been stable for a moment, then asks each of them whether it has a meta
// group. If one has, it asks the meta leader to add it (as a learner
// first, then a voter once it caught up). If none has and it has the
// smallest name of the view, it founds the group with the whole view as
// voters and tells the others, which create their replica with the same
// voters; the others wait to be told. Once a server is in the meta group
// it keeps the group told of its placement tags.

const (
	bootstrapPeriod = 250 * time.Millisecond
	// viewSettle is how long the routed servers must stay the same before
	// they found a group.
	viewSettle = time.Second
	// foundResend is how long a founder keeps telling the founding
	// members, in case a message was lost: the interval doubles from
	// bootstrapPeriod, and it stops early once it leads the group and every
	// founder is an active member.
	foundResend = 30 * time.Second
)

// joinRequest asks a server about the meta group (Probe), or asks the meta
// leader to add the sender and record its tags.
type joinRequest struct {
	Name  string   `json:"name"`
	Tags  []string `json:"tags,omitempty"`
	Probe bool     `json:"probe,omitempty"`
}

type joinResponse struct {
	Have   bool   `json:"have"`
	Leader string `json:"leader,omitempty"`
}

func (c *Cluster) bootstrap() {
	defer c.wg.Done()
	var view []string
	var since, foundedAt, lastAsk, nextTell time.Time
	var tellEvery time.Duration
	var founders []string
	for c.sleep(bootstrapPeriod) {
		if g := c.group(metaGroup); g != nil {
			if len(founders) > 0 && time.Since(foundedAt) < foundResend && time.Now().After(nextTell) {
				if foundersActive(g, len(founders)) {
					founders = nil
				} else {
					c.tellFounders(founders)
					tellEvery *= 2
					nextTell = time.Now().Add(tellEvery)
				}
			}
			if time.Since(lastAsk) > 2*time.Second {
				lastAsk = time.Now()
				c.announceSelf(g)
			}
			continue
		}
		now := c.viewNow()
		if !slices.Equal(now, view) {
			view, since = now, time.Now()
			continue
		}
		if time.Since(lastAsk) < time.Second {
			continue
		}
		lastAsk = time.Now()
		leader, have := c.probeMeta(view)
		c.log.Debug("meta probe", "view", view, "leader", leader, "have", have, "expected", c.o.ExpectedServers)
		if have {
			if leader != "" {
				c.askToJoin(leader)
			}
			continue
		}
		if len(view) < max(c.o.ExpectedServers, 1) || time.Since(since) < viewSettle || view[0] != c.self || c.isJoining(metaGroup) {
			continue
		}
		if err := c.found(view); err != nil {
			c.log.Error("founding the meta group", "error", err)
			continue
		}
		founders, foundedAt = view, time.Now()
		c.tellFounders(founders)
		tellEvery = bootstrapPeriod
		nextTell = foundedAt.Add(tellEvery)
	}
}

// foundersActive reports whether this server leads the meta group and
// all n founders are active members (then they were all told).
func foundersActive(g *multiraft.Group, n int) bool {
	st := g.Status()
	if !st.IsLeader {
		return false
	}
	active := 0
	for _, rs := range st.Replicas {
		if rs.Active && !rs.Learner {
			active++
		}
	}
	return active >= n
}

// viewNow is this server and the servers it is routed to, by name.
func (c *Cluster) viewNow() []string {
	view := []string{c.self}
	for _, p := range c.routes.Peers() {
		view = append(view, p.Name)
	}
	slices.Sort(view)
	return slices.Compact(view)
}

// probeMeta asks the servers of the view whether a meta group exists, and
// who leads it.
func (c *Cluster) probeMeta(view []string) (leader string, have bool) {
	body, _ := json.Marshal(joinRequest{Name: c.self, Probe: true})
	for _, p := range view {
		if p == c.self {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := c.rpc.call(ctx, p, mJoinMeta, body)
		cancel()
		if err != nil {
			continue
		}
		var jr joinResponse
		if json.Unmarshal(resp, &jr) == nil && jr.Have {
			have = true
			if jr.Leader != "" {
				return jr.Leader, true
			}
		}
	}
	return "", have
}

// found creates the meta group with view as its voters.
func (c *Cluster) found(view []string) error {
	voters := make([]multiraft.NodeID, 0, len(view))
	for _, n := range view {
		voters = append(voters, c.names.add(n))
	}
	g, err := c.host().CreateGroup(metaGroup, voters)
	if err != nil {
		return err
	}
	c.log.Info("founded the JetStream meta group", "servers", view)
	g.Campaign()
	return nil
}

func (c *Cluster) tellFounders(founders []string) {
	body, _ := json.Marshal(founders)
	for _, p := range founders {
		if p != c.self {
			c.rpc.send(p, mFoundMeta, body)
		}
	}
}

// handleFound creates this server's meta replica with the founders' view.
func (c *Cluster) handleFound(_ string, body []byte) ([]byte, error) {
	var view []string
	if err := json.Unmarshal(body, &view); err != nil {
		return nil, err
	}
	if !slices.Contains(view, c.self) || c.group(metaGroup) != nil || c.isJoining(metaGroup) {
		return nil, nil
	}
	if err := c.found(view); err != nil && c.group(metaGroup) == nil {
		c.log.Error("joining the founded meta group", "error", err)
	}
	return nil, nil
}

// askToJoin asks the meta leader to add this server.
func (c *Cluster) askToJoin(leader string) {
	c.mu.Lock()
	c.joining[metaGroup] = true
	c.mu.Unlock()
	body, _ := json.Marshal(joinRequest{Name: c.self, Tags: c.o.Tags})
	c.rpc.send(leader, mJoinMeta, body)
}

// announceSelf makes sure the meta group knows this server's tags.
func (c *Cluster) announceSelf(g *multiraft.Group) {
	if n, ok := c.meta.node(c.self); ok && slices.Equal(n.Tags, c.o.Tags) {
		return
	}
	leader := c.names.name(g.Status().Leader)
	if leader == "" {
		return
	}
	if leader == c.self {
		go c.proposeMeta(metaOp{Op: "node", Name: c.self, Tags: c.o.Tags})
		return
	}
	body, _ := json.Marshal(joinRequest{Name: c.self, Tags: c.o.Tags})
	c.rpc.send(leader, mJoinMeta, body)
}

// handleJoinMeta answers a probe, and on the meta leader adds a server
// that is not a member and records its tags.
func (c *Cluster) handleJoinMeta(_ string, body []byte) ([]byte, error) {
	var req joinRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Name == "" {
		return nil, errBadEntry
	}
	g := c.group(metaGroup)
	if g == nil {
		return json.Marshal(joinResponse{})
	}
	st := g.Status()
	resp := joinResponse{Have: true, Leader: c.names.name(st.Leader)}
	if req.Probe || !st.IsLeader {
		return json.Marshal(resp)
	}
	id := c.names.add(req.Name)
	if !isMember(st, id) {
		c.addMember(g, metaGroup, req.Name)
	}
	if n, ok := c.meta.node(req.Name); !ok || !slices.Equal(n.Tags, req.Tags) {
		go c.proposeMeta(metaOp{Op: "node", Name: req.Name, Tags: req.Tags})
	}
	return json.Marshal(resp)
}
