package server

import (
	"net"
	"strconv"

	"github.com/midgemq/midge/cluster/route"
	"github.com/midgemq/midge/monitor"
)

// The cluster side: the route manager is built in New (it observes every
// subscription from the first) and started once the client listener is
// up, since the other servers pass this server's client URLs on to their
// clients.

func (s *Server) configureCluster() error {
	if !s.Options().Cluster.Enabled() {
		return nil
	}
	m, err := route.New(s.broker)
	if err != nil {
		return err
	}
	s.routes = m
	return nil
}

func (s *Server) startCluster() error {
	if s.routes == nil {
		return nil
	}
	return s.routes.Start(s.clientConnectURLs())
}

func (s *Server) stopCluster() {
	if s.routes != nil {
		s.routes.Close()
	}
}

// clientConnectURLs are the host:port addresses clients reach this server
// at, as INFO's connect_urls lists them: the listen address, or for an
// unspecified one every global unicast address of the machine (loopback
// when there is none).
func (s *Server) clientConnectURLs() []string {
	a := s.Addr()
	port := strconv.Itoa(a.Port)
	if a.IP != nil && !a.IP.IsUnspecified() {
		return []string{net.JoinHostPort(a.IP.String(), port)}
	}
	var urls []string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, addr := range addrs {
			if ipn, ok := addr.(*net.IPNet); ok && ipn.IP.IsGlobalUnicast() {
				urls = append(urls, net.JoinHostPort(ipn.IP.String(), port))
			}
		}
	}
	if len(urls) == 0 {
		urls = []string{net.JoinHostPort("127.0.0.1", port)}
	}
	return urls
}

// ClusterAddr is the route listener's address, nil without clustering.
func (s *Server) ClusterAddr() *net.TCPAddr {
	if s.routes == nil {
		return nil
	}
	return s.routes.Addr()
}

// ClusterURL is a nats-route:// URL other servers can route to, "" without
// clustering.
func (s *Server) ClusterURL() string {
	a := s.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + net.JoinHostPort(loopbackIfUnspecified(a.IP), strconv.Itoa(a.Port))
}

// NumRoutes is the number of routes to other servers.
func (s *Server) NumRoutes() int {
	if s.routes == nil {
		return 0
	}
	return s.routes.NumRoutes()
}

// Routes describes the routes to other servers; nil without clustering.
func (s *Server) Routes() []route.RouteStat {
	if s.routes == nil {
		return nil
	}
	return s.routes.Routes()
}

// Cluster describes the cluster side for monitoring.
func (s *Server) Cluster() *monitor.Cluster {
	if s.routes == nil {
		return nil
	}
	c := &monitor.Cluster{Name: s.routes.ClusterName(), URLs: s.routes.URLs()}
	if a := s.routes.Addr(); a != nil {
		c.Host, c.Port = s.Options().Cluster.Host, a.Port
		if c.Host == "" {
			c.Host = a.IP.String()
		}
	}
	for _, r := range s.routes.Routes() {
		c.Routes = append(c.Routes, monitor.Route(r))
	}
	if s.jsc != nil {
		if st, ok := s.jsc.RaftStats(); ok {
			c.Raft = &monitor.RaftStats{
				FramesSent: st.FramesSent, BytesSent: st.BytesSent,
				FramesReceived: st.FramesReceived, BytesReceived: st.BytesReceived,
				Groups: st.Groups, Quiescent: st.Quiesced,
			}
		}
		if info, size, ok := s.jsc.MetaInfo(); ok {
			m := &monitor.MetaCluster{Name: info.Name, Leader: info.Leader, Size: size}
			for _, p := range info.Replicas {
				m.Replicas = append(m.Replicas, monitor.MetaReplica{Name: p.Name, Current: p.Current,
					Offline: p.Offline, Active: p.Active, Lag: p.Lag})
			}
			c.Meta = m
		}
	}
	return c
}

// RouteManager is the cluster's route manager, nil without clustering
// (tests and the replication layer use its server-to-server channels).
func (s *Server) RouteManager() *route.Manager { return s.routes }
