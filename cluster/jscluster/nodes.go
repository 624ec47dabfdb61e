package jscluster

import (
	"hash/fnv"
	"sync"

	"github.com/midgemq/midge/cluster/multiraft"
)

// Servers are raft nodes under their server name (which a JetStream
// cluster requires to be set and unique, as the reference server does):
// the node id is a 48-bit hash of the name, so every server computes every
// other's id without asking.

// nodeID is the raft node id of the server named name.
func nodeID(name string) multiraft.NodeID {
	h := fnv.New64a()
	h.Write([]byte(name))
	id := h.Sum64() & (1<<48 - 1)
	if id == 0 {
		id = 1
	}
	return id
}

// names maps node ids back to server names, learnt from the routes and
// from the meta group's state.
type names struct {
	mu sync.RWMutex
	m  map[multiraft.NodeID]string
}

func (n *names) add(name string) multiraft.NodeID {
	id := nodeID(name)
	n.mu.Lock()
	if n.m == nil {
		n.m = make(map[multiraft.NodeID]string)
	}
	n.m[id] = name
	n.mu.Unlock()
	return id
}

func (n *names) name(id multiraft.NodeID) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.m[id]
}
