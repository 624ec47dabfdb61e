package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ClusterOptions configure the routes to the other servers of a cluster
// (nats-server's `cluster` block):
//
//	cluster {
//	  name: c1
//	  listen: "127.0.0.1:6222"       # -1 as the port picks a free one
//	  routes: [nats-route://127.0.0.1:6223, nats-route://127.0.0.1:6224]
//	}
//
// Port 0 leaves clustering off.
type ClusterOptions struct {
	Name string // every server of a cluster must have the same one
	Host string
	Port int
	// Routes are the servers to connect to at start (and again whenever
	// the route to one fails), as nats-route://host:port URLs. Servers
	// they know of are found from there.
	Routes []string
	// NoAdvertise keeps the other servers' client URLs out of the INFO
	// clients get.
	NoAdvertise bool
	// PingInterval and MaxPingsOut detect a dead route; defaults 30 s and
	// the client setting.
	PingInterval time.Duration
	MaxPingsOut  int
	// RouteDialer, when set, dials every route this server solicits
	// (configured and gossiped) instead of net.DialTimeout; tests use it
	// to pass routes through a fault-injecting proxy. Not settable from
	// a configuration file.
	RouteDialer func(network, addr string) (net.Conn, error)
}

// Enabled reports whether the server listens for routes.
func (o *ClusterOptions) Enabled() bool { return o.Port != 0 }

// DefaultRoutePingInterval is how often a route is pinged unless
// configured: often enough to notice a dead peer within a minute.
const DefaultRoutePingInterval = 30 * time.Second

// ParseRouteURL checks a route URL: nats-route:// (or nats://) with a host
// and a port.
func ParseRouteURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("invalid route URL %q: %w", s, err)
	}
	if u.Scheme != "nats-route" && u.Scheme != "nats" {
		return nil, fmt.Errorf("invalid route URL %q: the scheme must be nats-route", s)
	}
	if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
		return nil, fmt.Errorf("invalid route URL %q: want nats-route://host:port", s)
	}
	return u, nil
}

// ParseClusterListen reads the --cluster flag's listen URL,
// nats://host:port (the port may be -1).
func ParseClusterListen(s string) (host string, port int, err error) {
	// Not url.Parse: it refuses the port -1.
	scheme, hostPort, ok := strings.Cut(s, "://")
	if !ok || (scheme != "nats" && scheme != "nats-route") {
		return "", 0, fmt.Errorf("invalid cluster URL %q (want nats://host:port)", s)
	}
	h, p, err := net.SplitHostPort(strings.TrimSuffix(hostPort, "/"))
	if err != nil {
		return "", 0, fmt.Errorf("invalid cluster URL %q (want nats://host:port)", s)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("invalid cluster port in %q", s)
	}
	return h, port, nil
}

func clusterKey(cp *configParser, o *Options, v cval) {
	if m, ok := cp.mapValue(v); ok {
		applySection(cp, &o.Cluster, m, clusterKeys, v.path)
	}
}

var clusterKeys = map[string]keyHandler[ClusterOptions]{
	"name": func(cp *configParser, c *ClusterOptions, v cval) {
		s, ok := cp.str(v)
		if ok && strings.ContainsAny(s, " \t\r\n") {
			cp.errorf(v, "cluster name cannot contain spaces")
			return
		}
		c.Name = s
	},
	"listen": listenKey(func(c *ClusterOptions) *string { return &c.Host },
		func(c *ClusterOptions) *int { return &c.Port }),
	"host": strKey(func(c *ClusterOptions) *string { return &c.Host }),
	"net":  strKey(func(c *ClusterOptions) *string { return &c.Host }),
	"port": intKey(-1, 65535, func(c *ClusterOptions, n int64) { c.Port = int(n) }),
	"routes": func(cp *configParser, c *ClusterOptions, v cval) {
		for _, r := range cp.stringList(v) {
			if _, err := ParseRouteURL(r); err != nil {
				cp.errorf(v, "%v", err)
				continue
			}
			c.Routes = append(c.Routes, r)
		}
	},
	"no_advertise":  boolKey(func(c *ClusterOptions) *bool { return &c.NoAdvertise }),
	"ping_interval": durationKey(func(c *ClusterOptions) *time.Duration { return &c.PingInterval }),
	"ping_max":      intKey(1, math.MaxInt32, func(c *ClusterOptions, n int64) { c.MaxPingsOut = int(n) }),
}
