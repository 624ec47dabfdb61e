package jscluster

import (
	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/cluster/route"
)

// chanRaft is the route channel raft frames travel on.
const chanRaft = "raft"

// routeTransport carries the raft host's frames over the cluster's routes
// (multiraft.Transport): a frame for a node goes to the server of that
// name as one internal message, best effort; raft resends what is lost.
type routeTransport struct {
	routes *route.Manager
	names  *names
}

func (t *routeTransport) Send(to multiraft.NodeID, frame []byte) bool {
	name := t.names.name(to)
	if name == "" {
		return false
	}
	return t.routes.SendTo(name, chanRaft, frame)
}

func (t *routeTransport) SetHandler(handle func(frame []byte)) {
	t.routes.Handle(chanRaft, func(_ string, payload []byte) { handle(payload) })
}
