package server

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/midgemq/midge/cluster/jscluster"
	"github.com/midgemq/midge/config"
)

// Replicated JetStream: a server with JetStream and a cluster listener
// joins the cluster's JetStream (cluster/jscluster). It is built before
// the JetStream layer is enabled (which then leaves the streams to it) and
// started once the routes are up, since it talks over them.

func (s *Server) configureJetStreamCluster() error {
	o := s.Options()
	if !o.JetStream || s.routes == nil {
		return nil
	}
	c, err := jscluster.New(jscluster.Options{
		Broker:          s.broker,
		Routes:          s.routes,
		JS:              s.js,
		Dir:             filepath.Join(o.StoreDir, "jetstream-cluster"),
		Tags:            o.ServerTags,
		ExpectedServers: expectedServers(o),
	})
	if err != nil {
		return err
	}
	s.jsc = c
	return nil
}

func (s *Server) startJetStreamCluster() error {
	if s.jsc == nil {
		return nil
	}
	if err := s.jsc.Start(); err != nil {
		return fmt.Errorf("jetstream cluster: %w", err)
	}
	return nil
}

func (s *Server) stopJetStreamCluster() {
	if s.jsc != nil {
		s.jsc.Close()
	}
}

// expectedServers is how many servers found the meta group together when
// none has one yet: this one and each distinct configured route that is
// not this server's own route address (reference configurations list
// every server of the cluster, themselves included).
func expectedServers(o *config.Options) int {
	self := ""
	if o.Cluster.Port > 0 {
		self = strconv.Itoa(o.Cluster.Port)
	}
	seen := make(map[string]bool)
	for _, r := range o.Cluster.Routes {
		u, err := config.ParseRouteURL(r)
		if err != nil {
			continue
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			continue
		}
		if port == self && isLocalHost(host, o.Cluster.Host) {
			continue
		}
		seen[net.JoinHostPort(host, port)] = true
	}
	return len(seen) + 1
}

// isLocalHost reports whether a route's host names this machine's route
// listener on listen.
func isLocalHost(host, listen string) bool {
	if host == listen || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(ip) {
			return true
		}
	}
	return false
}
