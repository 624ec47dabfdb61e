package jscluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/jetstore"
)

// The meta group: every JetStream server of the cluster is a member, and
// its replicated state says which streams exist in which account, with
// which configuration, on which servers (placement), under which raft
// group. A server creates its replica of a stream when a committed entry
// places the stream on it, and deletes its replica only when a committed
// entry deletes the stream: never on its own view of things.

const (
	metaGroup        multiraft.GroupID = 1
	firstStreamGroup uint64            = 2
)

// metaState is the meta group's replicated state.
type metaState struct {
	Streams   map[string]map[string]*assignment `json:"streams"` // account, stream name
	Deleted   []tombstone                       `json:"deleted,omitempty"`
	Nodes     map[string]*nodeInfo              `json:"nodes"`
	NextGroup uint64                            `json:"next_group"`
}

// assignment is one stream's placement.
type assignment struct {
	Group   uint64                `json:"group"`
	Account string                `json:"account"`
	Config  jetstore.StreamConfig `json:"config"`
	Peers   []string              `json:"peers"` // the first one campaigns first
	// Founders are the peers that founded the group (empty: all of
	// Peers, as before replica counts could change). A peer added later
	// joins the running group as a learner instead (repair.go).
	Founders []string  `json:"founders,omitempty"`
	Created  time.Time `json:"created"`
	// Reply is the subject of the create or update request that made
	// this version; the stream's leader answers it (then, subscribed to
	// the stream's subjects, clients can publish at once).
	Reply   string    `json:"reply,omitempty"`
	ReplyAt time.Time `json:"reply_at,omitempty"`
}

// tombstone is a deleted stream, kept so that a server that was away when
// the deletion was committed deletes its replica when it comes back.
type tombstone struct {
	Account string `json:"account"`
	Name    string `json:"name"`
	Group   uint64 `json:"group"`
}

// nodeInfo is what a server told the meta group about itself.
type nodeInfo struct {
	Tags []string `json:"tags,omitempty"`
}

// maxTombstones bounds the deleted streams remembered.
const maxTombstones = 10000

// metaOp is one meta entry.
type metaOp struct {
	Op      string                 `json:"op"` // create, update, delete, node
	Account string                 `json:"account,omitempty"`
	Name    string                 `json:"name,omitempty"`
	Config  *jetstore.StreamConfig `json:"config,omitempty"`
	Peers   []string               `json:"peers,omitempty"`
	Created time.Time              `json:"created,omitempty"`
	Reply   string                 `json:"reply,omitempty"`
	Tags    []string               `json:"tags,omitempty"`
}

// createResult is the Result of a create entry.
type createResult struct {
	a      *assignment
	exists bool
}

// metaSM is the meta group's state machine.
type metaSM struct {
	c  *Cluster
	mu sync.RWMutex
	s  metaState
}

func newMetaSM(c *Cluster) *metaSM {
	m := &metaSM{c: c}
	m.s = emptyMeta()
	return m
}

func emptyMeta() metaState {
	return metaState{Streams: map[string]map[string]*assignment{}, Nodes: map[string]*nodeInfo{}, NextGroup: firstStreamGroup}
}

func (m *metaSM) Apply(ents []multiraft.Entry) error {
	m.mu.Lock()
	for i := range ents {
		e := &ents[i]
		if len(e.Data) == 0 {
			continue
		}
		var op metaOp
		if err := json.Unmarshal(e.Data, &op); err != nil {
			m.mu.Unlock()
			return fmt.Errorf("jscluster: meta entry %d: %w", e.Index, err)
		}
		res, err := m.applyLocked(&op, e.Index)
		if err != nil {
			e.Result = err
		} else {
			e.Result = res
		}
	}
	m.mu.Unlock()
	m.c.kick()
	return nil
}

func (m *metaSM) applyLocked(op *metaOp, index uint64) (any, error) {
	s := &m.s
	switch op.Op {
	case "create":
		if op.Config == nil || len(op.Peers) == 0 {
			return nil, errBadEntry
		}
		streams := s.Streams[op.Account]
		if old := streams[op.Config.Name]; old != nil {
			if old.Config.Equal(*op.Config) {
				return createResult{a: old.clone(), exists: true}, nil
			}
			return nil, jetstore.ErrStreamNameInUse
		}
		for _, other := range streams {
			if other.Config.Overlaps(*op.Config) {
				return nil, jetstore.ErrSubjectsOverlap
			}
		}
		if streams == nil {
			streams = make(map[string]*assignment)
			s.Streams[op.Account] = streams
		}
		a := &assignment{Group: s.NextGroup, Account: op.Account, Config: *op.Config, Peers: op.Peers,
			Founders: op.Peers, Created: op.Created, Reply: op.Reply, ReplyAt: op.Created}
		s.NextGroup++
		streams[op.Config.Name] = a
		return createResult{a: a.clone()}, nil
	case "update":
		if op.Config == nil {
			return nil, errBadEntry
		}
		a := s.Streams[op.Account][op.Config.Name]
		if a == nil {
			return nil, jetstore.ErrStreamNotFound
		}
		if err := checkUpdate(a.Config, *op.Config); err != nil {
			return nil, err
		}
		if changed := op.Config.Replicas != a.Config.Replicas; changed != (len(op.Peers) > 0) ||
			changed && (len(op.Peers) != op.Config.Replicas ||
				op.Config.Replicas > a.Config.Replicas && !hasAll(op.Peers, a.Peers) ||
				op.Config.Replicas < a.Config.Replicas && !hasAll(a.Peers, op.Peers)) {
			return nil, errBadEntry
		}
		for name, other := range s.Streams[op.Account] {
			if name != op.Config.Name && other.Config.Overlaps(*op.Config) {
				return nil, jetstore.ErrSubjectsOverlap
			}
		}
		if len(op.Peers) > 0 {
			a.setPeers(op.Peers)
		}
		a.Config, a.Reply, a.ReplyAt = *op.Config, op.Reply, op.Created
		return a.clone(), nil
	case "peers":
		// A peer replaced (RemovePeer): same count, one server out, one in.
		a := s.Streams[op.Account][op.Name]
		if a == nil {
			return nil, jetstore.ErrStreamNotFound
		}
		if len(op.Peers) != len(a.Peers) {
			return nil, errBadEntry
		}
		a.setPeers(op.Peers)
		return a.clone(), nil
	case "delete":
		a := s.Streams[op.Account][op.Name]
		if a == nil {
			return nil, jetstore.ErrStreamNotFound
		}
		delete(s.Streams[op.Account], op.Name)
		s.Deleted = append(s.Deleted, tombstone{Account: op.Account, Name: op.Name, Group: a.Group})
		if n := len(s.Deleted); n > maxTombstones {
			s.Deleted = slices.Clone(s.Deleted[n-maxTombstones:])
		}
		return a.clone(), nil
	case "node":
		s.Nodes[op.Name] = &nodeInfo{Tags: op.Tags}
		return nil, nil
	}
	return nil, fmt.Errorf("%w: meta op %q at %d", errBadEntry, op.Op, index)
}

// checkUpdate refuses a change the store would refuse. A change of the
// replication factor adds members to the stream's running group or removes
// some (repair.go, shrink.go).
func checkUpdate(old, next jetstore.StreamConfig) error {
	return localConfig(old).CheckUpdate(localConfig(next))
}

func (m *metaSM) Snapshot() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return json.Marshal(m.s)
}

func (m *metaSM) Restore(data []byte) error {
	s := emptyMeta()
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("jscluster: meta snapshot: %w", err)
	}
	if s.Streams == nil {
		s.Streams = map[string]map[string]*assignment{}
	}
	if s.Nodes == nil {
		s.Nodes = map[string]*nodeInfo{}
	}
	m.mu.Lock()
	m.s = s
	m.mu.Unlock()
	m.c.kick()
	return nil
}

func (a *assignment) clone() *assignment {
	c := *a
	c.Peers = slices.Clone(a.Peers)
	c.Founders = slices.Clone(a.Founders)
	return &c
}

// setPeers places the stream on peers. A founder no longer placed that
// is placed again later joins as a new replica.
func (a *assignment) setPeers(peers []string) {
	var founders []string
	for _, f := range a.founders() {
		if slices.Contains(peers, f) {
			founders = append(founders, f)
		}
	}
	if len(founders) == 0 {
		// Every founder left: servers that stay (each has the group
		// already) stand for them, so that Founders never reads as "all
		// of Peers" for a server that has to join.
		for _, p := range peers {
			if slices.Contains(a.Peers, p) {
				founders = append(founders, p)
			}
		}
	}
	a.Founders = founders
	a.Peers = slices.Clone(peers)
}

// founders are the peers that founded the stream's group.
func (a *assignment) founders() []string {
	if len(a.Founders) == 0 {
		return a.Peers
	}
	return a.Founders
}

// lookup returns a copy of a stream's assignment, nil for none.
func (m *metaSM) lookup(account, name string) *assignment {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if a := m.s.Streams[account][name]; a != nil {
		return a.clone()
	}
	return nil
}

// streams returns copies of an account's assignments, by name.
func (m *metaSM) streams(account string) []*assignment {
	m.mu.RLock()
	out := make([]*assignment, 0, len(m.s.Streams[account]))
	for _, a := range m.s.Streams[account] {
		out = append(out, a.clone())
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b *assignment) int { return strings.Compare(a.Config.Name, b.Config.Name) })
	return out
}

// snapshot returns copies of every assignment and tombstone.
func (m *metaSM) all() ([]*assignment, []tombstone) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*assignment
	for _, streams := range m.s.Streams {
		for _, a := range streams {
			out = append(out, a.clone())
		}
	}
	slices.SortFunc(out, func(a, b *assignment) int { return cmpUint(a.Group, b.Group) })
	return out, slices.Clone(m.s.Deleted)
}

func (m *metaSM) node(name string) (*nodeInfo, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.s.Nodes[name]
	return n, ok
}

// load counts the replicas placed on each server.
func (m *metaSM) load() map[string]int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]int)
	for _, streams := range m.s.Streams {
		for _, a := range streams {
			for _, p := range a.Peers {
				out[p]++
			}
		}
	}
	return out
}

func (m *metaSM) tags(name string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if n := m.s.Nodes[name]; n != nil {
		return n.Tags
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// errors the meta leader answers with; jsapi maps them.
var errNotMetaLeader = errors.New("not the meta leader")
