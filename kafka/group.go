package kafka

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group coordinator: the classic consumer-group protocol, one
// coordinator per Backend (account). A group moves through
//
//	Empty -> PreparingRebalance -> CompletingRebalance -> Stable
//
// A join (of a new member, or of a known one with new metadata) or a
// member leaving or timing out starts a rebalance: members learn of it
// from their next heartbeat (REBALANCE_IN_PROGRESS) and join again. Once
// every member has joined, or the longest rebalance timeout has passed
// (members that did not rejoin are dropped), the generation is bumped,
// a protocol every member supports is chosen and the leader gets the
// member list; the leader's SyncGroup carries the assignment every
// member's SyncGroup then returns. Group state lives in memory; committed
// offsets are the Backend's and survive restarts.

type groupState int

const (
	groupEmpty groupState = iota
	groupPreparingRebalance
	groupCompletingRebalance
	groupStable
)

func (s groupState) String() string {
	switch s {
	case groupPreparingRebalance:
		return "PreparingRebalance"
	case groupCompletingRebalance:
		return "CompletingRebalance"
	case groupStable:
		return "Stable"
	default:
		return "Empty"
	}
}

// expiryTick is how often session and rebalance timeouts are checked.
const expiryTick = 100 * time.Millisecond

type coordinator struct {
	srv *Server

	mu     sync.Mutex
	groups map[string]*group

	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type group struct {
	id           string
	state        groupState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	order        []string             // member ids in join order
	pendingIDs   map[string]time.Time // ids handed out with MEMBER_ID_REQUIRED
	deadline     time.Time            // of the running rebalance phase
}

type member struct {
	id, clientID, clientHost string
	instanceID               *string
	session, rebalance       time.Duration
	protocols                []kmsg.JoinGroupRequestProtocol
	assignment               []byte
	lastSeen                 time.Time
	joining                  chan *kmsg.JoinGroupResponse // while a JoinGroup waits
	syncing                  chan syncResult              // while a SyncGroup waits
	synced                   bool                         // sent SyncGroup this generation
}

type syncResult struct {
	code       int16
	assignment []byte
}

func newCoordinator(s *Server) *coordinator {
	c := &coordinator{srv: s, groups: make(map[string]*group),
		quit: make(chan struct{}), done: make(chan struct{})}
	go c.expiryLoop()
	return c
}

func (co *coordinator) stop() {
	co.once.Do(func() { close(co.quit) })
	<-co.done
}

func (co *coordinator) now() time.Time { return co.srv.cfg.Now() }

func (co *coordinator) activeGroups() int {
	co.mu.Lock()
	defer co.mu.Unlock()
	n := 0
	for _, g := range co.groups {
		if len(g.members) > 0 {
			n++
		}
	}
	return n
}

func newMemberID(clientID string) string {
	var b [8]byte
	rand.Read(b[:])
	if clientID == "" {
		clientID = "member"
	}
	return clientID + "-" + hex.EncodeToString(b[:])
}

// join handles a JoinGroup: it returns the response at once or a channel
// that delivers it when the rebalance completes.
func (co *coordinator) join(req *kmsg.JoinGroupRequest, clientID, host string) (*kmsg.JoinGroupResponse, <-chan *kmsg.JoinGroupResponse) {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	fail := func(code int16) (*kmsg.JoinGroupResponse, <-chan *kmsg.JoinGroupResponse) {
		resp.ErrorCode, resp.Generation = code, -1
		return resp, nil
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 {
		rebalance = session
	}
	switch {
	case req.Group == "":
		return fail(errInvalidGroupID)
	case req.SessionTimeoutMillis < defaultMinSessionMillis || req.SessionTimeoutMillis > defaultMaxSessionMillis:
		return fail(errInvalidSessionTimeout)
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return fail(errInconsistentGroupProtocol)
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[req.Group]
	if g == nil {
		g = &group{id: req.Group, members: make(map[string]*member), pendingIDs: make(map[string]time.Time)}
		co.groups[req.Group] = g
	}
	if len(g.members) > 0 && (req.ProtocolType != g.protocolType || !g.supportsAny(req.Protocols)) {
		return fail(errInconsistentGroupProtocol)
	}
	now := co.now()
	id := req.MemberID
	m := g.members[id]
	switch {
	case id == "":
		id = newMemberID(clientID)
		if req.Version >= 4 {
			// The member must come back with this id, so that a client
			// that times out here does not leave a ghost member behind.
			g.pendingIDs[id] = now
			resp.MemberID = id
			return fail(errMemberIDRequired)
		}
	case m == nil:
		if _, ok := g.pendingIDs[id]; !ok {
			return fail(errUnknownMemberID)
		}
		delete(g.pendingIDs, id)
	}
	if m == nil {
		m = &member{id: id, clientID: clientID, clientHost: host}
		g.members[id] = m
		g.order = append(g.order, id)
	}
	m.instanceID, m.session, m.rebalance, m.protocols = req.InstanceID, session, rebalance, req.Protocols
	m.lastSeen = now
	if m.joining != nil { // a second join from the same member replaces the first
		m.joining <- joinError(req, errUnknownMemberID)
	}
	wait := make(chan *kmsg.JoinGroupResponse, 1)
	m.joining = wait
	g.protocolType = req.ProtocolType
	if g.state != groupPreparingRebalance {
		co.prepareRebalance(g)
	}
	if g.allJoined() {
		co.completeJoin(g)
	}
	return nil, wait
}

func joinError(req *kmsg.JoinGroupRequest, code int16) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode, resp.Generation = code, -1
	return resp
}

// supportsAny reports whether a joining member shares a protocol with
// every current member.
func (g *group) supportsAny(protocols []kmsg.JoinGroupRequestProtocol) bool {
	for _, p := range protocols {
		all := true
		for _, m := range g.members {
			if !m.supports(p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (m *member) supports(name string) bool {
	return slices.ContainsFunc(m.protocols, func(p kmsg.JoinGroupRequestProtocol) bool { return p.Name == name })
}

func (g *group) allJoined() bool {
	for _, m := range g.members {
		if m.joining == nil {
			return false
		}
	}
	return true
}

// prepareRebalance starts a rebalance: members waiting in SyncGroup are
// told to join again, and the phase ends at the longest rebalance
// timeout.
func (co *coordinator) prepareRebalance(g *group) {
	g.state = groupPreparingRebalance
	var longest time.Duration
	for _, m := range g.members {
		longest = max(longest, m.rebalance)
		if m.syncing != nil {
			m.syncing <- syncResult{code: errRebalanceInProgress}
			m.syncing = nil
		}
	}
	g.deadline = co.now().Add(longest)
}

// completeJoin ends the join phase with the members that joined.
func (co *coordinator) completeJoin(g *group) {
	for _, id := range slices.Clone(g.order) {
		if m := g.members[id]; m.joining == nil {
			co.removeMember(g, id)
		}
	}
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = groupEmpty, "", ""
		g.generation++
		return
	}
	g.generation++
	g.protocol = g.chooseProtocol()
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.order[0]
	}
	g.state = groupCompletingRebalance
	now := co.now()
	g.deadline = now
	for _, m := range g.members {
		g.deadline = maxTime(g.deadline, now.Add(m.rebalance))
	}
	for _, id := range g.order {
		m := g.members[id]
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Generation = g.generation
		resp.ProtocolType = kmsg.StringPtr(g.protocolType)
		resp.Protocol = kmsg.StringPtr(g.protocol)
		resp.LeaderID = g.leader
		resp.MemberID = id
		if id == g.leader {
			for _, oid := range g.order {
				om := g.members[oid]
				jm := kmsg.NewJoinGroupResponseMember()
				jm.MemberID, jm.InstanceID = oid, om.instanceID
				jm.ProtocolMetadata = om.metadata(g.protocol)
				resp.Members = append(resp.Members, jm)
			}
		}
		m.assignment, m.synced, m.lastSeen = nil, false, now
		m.joining <- resp
		m.joining = nil
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// chooseProtocol picks the protocol every member supports that the
// members list first most often (Kafka's vote), ties broken by the
// leader's preference order.
func (g *group) chooseProtocol() string {
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupport(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range g.members[g.order[0]].protocols {
		if v, ok := votes[p.Name]; ok && v > bestVotes {
			best, bestVotes = p.Name, v
		}
	}
	return best
}

func (g *group) allSupport(name string) bool {
	for _, m := range g.members {
		if !m.supports(name) {
			return false
		}
	}
	return true
}

func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func (co *coordinator) removeMember(g *group, id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	if m.joining != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.ErrorCode, resp.Generation = errUnknownMemberID, -1
		m.joining <- resp
	}
	if m.syncing != nil {
		m.syncing <- syncResult{code: errUnknownMemberID}
	}
	delete(g.members, id)
	g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
}

// memberLeft starts a rebalance for the remaining members, or empties the
// group.
func (co *coordinator) memberLeft(g *group) {
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = groupEmpty, "", ""
		g.generation++
		return
	}
	co.prepareRebalance(g)
	if g.allJoined() {
		co.completeJoin(g)
	}
}

// sync handles a SyncGroup.
func (co *coordinator) sync(req *kmsg.SyncGroupRequest) (syncResult, <-chan syncResult, string, string) {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[req.Group]
	if g == nil {
		return syncResult{code: errUnknownMemberID}, nil, "", ""
	}
	m := g.members[req.MemberID]
	switch {
	case m == nil:
		return syncResult{code: errUnknownMemberID}, nil, "", ""
	case req.Generation != g.generation:
		return syncResult{code: errIllegalGeneration}, nil, "", ""
	case g.state == groupPreparingRebalance:
		return syncResult{code: errRebalanceInProgress}, nil, "", ""
	case g.state == groupStable:
		return syncResult{assignment: m.assignment}, nil, g.protocolType, g.protocol
	}
	m.lastSeen, m.synced = co.now(), true
	wait := make(chan syncResult, 1)
	m.syncing = wait
	if req.MemberID == g.leader {
		for _, a := range req.GroupAssignment {

			if am := g.members[a.MemberID]; am != nil {
				am.assignment = a.MemberAssignment
			}
		}
		g.state = groupStable
		for _, om := range g.members {
			if om.syncing != nil {
				om.syncing <- syncResult{assignment: om.assignment}
				om.syncing = nil
			}
		}
	}
	return syncResult{}, wait, g.protocolType, g.protocol
}

// heartbeat handles a Heartbeat and returns its error code.
func (co *coordinator) heartbeat(group, memberID string, generation int32) int16 {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[group]
	if g == nil {
		return errUnknownMemberID
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return errUnknownMemberID
	case generation != g.generation:
		m.lastSeen = co.now()
		if g.state == groupPreparingRebalance {
			return errRebalanceInProgress
		}
		return errIllegalGeneration
	}
	m.lastSeen = co.now()
	if g.state == groupPreparingRebalance {
		return errRebalanceInProgress
	}
	return errNone
}

// leave removes members; it returns an error code per member.
func (co *coordinator) leave(group string, ids []string) []int16 {
	co.mu.Lock()
	defer co.mu.Unlock()
	codes := make([]int16, len(ids))
	g := co.groups[group]
	removed := false
	for i, id := range ids {
		if g == nil || g.members[id] == nil {
			codes[i] = errUnknownMemberID
			continue
		}
		co.removeMember(g, id)
		removed = true
	}
	if removed {
		co.memberLeft(g)
	}
	return codes
}

// checkCommit validates an offset commit's member and generation.
func (co *coordinator) checkCommit(group, memberID string, generation int32) int16 {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[group]
	if generation < 0 {
		// A commit outside group management (an admin tool, or a consumer
		// assigning partitions itself) is allowed while nobody is a member.
		if g != nil && len(g.members) > 0 {
			return errUnknownMemberID
		}
		return errNone
	}
	if g == nil || g.members[memberID] == nil {
		return errUnknownMemberID
	}
	if generation != g.generation {
		return errIllegalGeneration
	}
	if g.state == groupPreparingRebalance {
		return errRebalanceInProgress
	}
	g.members[memberID].lastSeen = co.now()
	return errNone
}

// expiryLoop drops members whose session ran out and ends rebalance phases
// whose deadline passed.
func (co *coordinator) expiryLoop() {
	defer close(co.done)
	t := time.NewTicker(expiryTick)
	defer t.Stop()
	for {
		select {
		case <-co.quit:
			return
		case <-t.C:
			co.expire()
		}
	}
}

func (co *coordinator) expire() {
	co.mu.Lock()
	defer co.mu.Unlock()
	now := co.now()
	for _, g := range co.groups {
		for id, at := range g.pendingIDs {
			if now.Sub(at) > time.Duration(defaultMaxSessionMillis)*time.Millisecond {
				delete(g.pendingIDs, id)
			}
		}
		switch g.state {
		case groupPreparingRebalance:
			if now.After(g.deadline) {
				co.completeJoin(g)
			}
			continue
		case groupCompletingRebalance:
			if now.After(g.deadline) {
				// The leader never sent the assignment: drop those that did
				// not sync and start over.
				for _, id := range slices.Clone(g.order) {
					if !g.members[id].synced {
						co.srv.log.Info("Kafka group member did not sync in time", "group", g.id, "member", id)
						co.removeMember(g, id)
					}
				}
				co.memberLeft(g)
				continue
			}
		}
		expired := false
		for _, id := range slices.Clone(g.order) {
			m := g.members[id]
			if m.joining == nil && m.syncing == nil && now.Sub(m.lastSeen) > m.session {
				co.srv.log.Info("Kafka group member session expired", "group", g.id, "member", id)
				co.removeMember(g, id)
				expired = true
			}
		}
		if expired {
			co.memberLeft(g)
		}
	}
}

// describe returns a group's description (state Dead for an unknown one).
func (co *coordinator) describe(id string) kmsg.DescribeGroupsResponseGroup {
	co.mu.Lock()
	defer co.mu.Unlock()
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = id
	g := co.groups[id]
	if g == nil {
		d.State = "Dead"
		return d
	}
	d.State, d.ProtocolType = g.state.String(), g.protocolType
	if g.state == groupStable {
		d.Protocol = g.protocol
	}
	for _, mid := range g.order {
		m := g.members[mid]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		dm.ProtocolMetadata = m.metadata(g.protocol)
		dm.MemberAssignment = m.assignment
		d.Members = append(d.Members, dm)
	}
	return d
}

// list returns the groups with members, with their protocol type and
// state.
func (co *coordinator) list() map[string][2]string {
	co.mu.Lock()
	defer co.mu.Unlock()
	out := make(map[string][2]string, len(co.groups))
	for id, g := range co.groups {
		out[id] = [2]string{g.protocolType, g.state.String()}
	}
	return out
}
