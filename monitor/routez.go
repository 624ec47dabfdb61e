package monitor

import (
	"net/http"
	"time"

	"github.com/midgemq/midge/broker"
)

// RoutezPath is the routes endpoint.
const RoutezPath = "/routez"

// Cluster is what monitoring reads of the server's cluster side.
type Cluster struct {
	Name   string
	Host   string // the route listener's address
	Port   int
	URLs   []string // configured routes
	Routes []Route
	// Raft is the replication host's traffic; nil without clustered
	// JetStream (or before its host is open).
	Raft *RaftStats
	// Meta is the JetStream meta group as this server sees it; nil
	// without clustered JetStream (or before this server is a member).
	Meta *MetaCluster
}

// MetaCluster is /jsz's meta_cluster, as the reference server names its
// fields: the meta group's leader and size and (on the leader) the other
// members.
type MetaCluster struct {
	Name     string        `json:"name,omitempty"`
	Leader   string        `json:"leader,omitempty"`
	Replicas []MetaReplica `json:"replicas,omitempty"`
	Size     int           `json:"cluster_size"`
}

// MetaReplica is one member of the meta group other than its leader.
type MetaReplica struct {
	Name    string        `json:"name"`
	Current bool          `json:"current"`
	Offline bool          `json:"offline,omitempty"`
	Active  time.Duration `json:"active"`
	Lag     uint64        `json:"lag,omitempty"`
}

// RaftStats are the raft host's counters: frames carry many groups'
// messages (and, between idle hosts, only the heartbeat), and travel on the
// routes, so they are also in the routes' out and in counters.
type RaftStats struct {
	FramesSent     uint64 `json:"frames_sent"`
	BytesSent      uint64 `json:"bytes_sent"`
	FramesReceived uint64 `json:"frames_received"`
	BytesReceived  uint64 `json:"bytes_received"`
	Groups         int    `json:"groups"`
	Quiescent      int    `json:"quiescent_groups"`
}

// Route is one registered route, as the Source describes it.
type Route struct {
	CID          uint64
	RemoteID     string
	RemoteName   string
	DidSolicit   bool
	IsConfigured bool
	IP           string
	Port         int
	Start        time.Time
	LastActivity time.Time
	RTT          time.Duration
	Pending      int64
	InMsgs       int64
	OutMsgs      int64
	InBytes      int64
	OutBytes     int64
	NumSubs      int
}

// Routez is /routez, with the reference server's field names.
type Routez struct {
	ID        string       `json:"server_id"`
	Name      string       `json:"server_name"`
	Now       time.Time    `json:"now"`
	NumRoutes int          `json:"num_routes"`
	Routes    []*RouteInfo `json:"routes"`
	// Raft is midge's own: the replication traffic (not in the reference
	// server's /routez).
	Raft *RaftStats `json:"raft,omitempty"`
}

// RouteInfo is one route in /routez.
type RouteInfo struct {
	Rid          uint64    `json:"rid"`
	RemoteID     string    `json:"remote_id"`
	RemoteName   string    `json:"remote_name"`
	DidSolicit   bool      `json:"did_solicit"`
	IsConfigured bool      `json:"is_configured"`
	IP           string    `json:"ip"`
	Port         int       `json:"port"`
	Start        time.Time `json:"start"`
	LastActivity time.Time `json:"last_activity"`
	RTT          string    `json:"rtt,omitempty"`
	Uptime       string    `json:"uptime"`
	Idle         string    `json:"idle"`
	Pending      int       `json:"pending_size"`
	InMsgs       int64     `json:"in_msgs"`
	OutMsgs      int64     `json:"out_msgs"`
	InBytes      int64     `json:"in_bytes"`
	OutBytes     int64     `json:"out_bytes"`
	NumSubs      uint32    `json:"subscriptions"`
}

// ClusterVarz is /varz's cluster block.
type ClusterVarz struct {
	Name string   `json:"name,omitempty"`
	Host string   `json:"addr,omitempty"`
	Port int      `json:"cluster_port,omitempty"`
	URLs []string `json:"urls,omitempty"`
}

func (s *Server) cluster() *Cluster {
	if _, ok := s.src.Started(); !ok {
		return nil
	}
	return s.src.Cluster()
}

func (s *Server) handleRoutez(w http.ResponseWriter, _ *http.Request) {
	now := time.Now().UTC()
	rz := &Routez{ID: s.broker.ID(), Name: s.broker.Name(), Now: now, Routes: []*RouteInfo{}}
	if c := s.cluster(); c != nil {
		rz.Raft = c.Raft
		for _, r := range c.Routes {
			ri := &RouteInfo{
				Rid:          r.CID,
				RemoteID:     r.RemoteID,
				RemoteName:   r.RemoteName,
				DidSolicit:   r.DidSolicit,
				IsConfigured: r.IsConfigured,
				IP:           r.IP,
				Port:         r.Port,
				Start:        r.Start.UTC(),
				LastActivity: r.LastActivity.UTC(),
				Uptime:       broker.FormatUptime(now.Sub(r.Start)),
				Idle:         broker.FormatUptime(now.Sub(r.LastActivity)),
				Pending:      int(r.Pending),
				InMsgs:       r.InMsgs,
				OutMsgs:      r.OutMsgs,
				InBytes:      r.InBytes,
				OutBytes:     r.OutBytes,
				NumSubs:      uint32(r.NumSubs),
			}
			if r.RTT > 0 {
				ri.RTT = r.RTT.String()
			}
			rz.Routes = append(rz.Routes, ri)
		}
	}
	rz.NumRoutes = len(rz.Routes)
	writeJSON(w, http.StatusOK, rz)
}
