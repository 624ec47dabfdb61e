package route

import (
	"net"
	"slices"
	"strings"
	"time"
)

// RouteStat describes one registered route, for monitoring.
type RouteStat struct {
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

// Routes describes the registered routes, ordered by remote server name.
func (m *Manager) Routes() []RouteStat {
	m.mu.Lock()
	routes := make([]*route, 0, len(m.routes))
	for _, r := range m.routes {
		routes = append(routes, r)
	}
	m.mu.Unlock()
	out := make([]RouteStat, 0, len(routes))
	for _, r := range routes {
		st := r.core.Stats()
		rs := RouteStat{
			CID:          r.core.CID(),
			RemoteID:     r.remoteID,
			RemoteName:   r.remoteName,
			DidSolicit:   r.solicited,
			IsConfigured: r.solicited && !r.implicit,
			Start:        r.core.Start(),
			LastActivity: time.Unix(0, r.lastActivity.Load()),
			Pending:      r.core.PendingBytes(),
			InMsgs:       st.InMsgs,
			OutMsgs:      st.OutMsgs,
			InBytes:      st.InBytes,
			OutBytes:     st.OutBytes,
			NumSubs:      int(r.numSubs.Load()),
		}
		if a, ok := r.core.NetConn().RemoteAddr().(*net.TCPAddr); ok {
			rs.IP, rs.Port = a.IP.String(), a.Port
		}
		r.mu.Lock()
		rs.RTT = r.rtt
		r.mu.Unlock()
		out = append(out, rs)
	}
	slices.SortFunc(out, func(a, b RouteStat) int {
		if c := strings.Compare(a.RemoteName, b.RemoteName); c != 0 {
			return c
		}
		return strings.Compare(a.RemoteID, b.RemoteID)
	})
	return out
}
