package route_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

func TestGossipFromOneSeedFormsFullMesh(t *testing.T) {
	nodes := startMesh(t, 4) // each seeded with n0 only
	// The mesh is full: n1..n3 found each other through n0.
	for _, s := range nodes {
		names := []string{}
		for _, r := range s.Routes() {
			names = append(names, r.RemoteName)
		}
		if len(names) != 3 || slices.Contains(names, s.Name()) {
			t.Fatalf("%s routes to %v", s.Name(), names)
		}
	}
	// Routes learnt by gossip are solicited but not configured.
	for _, r := range nodes[3].Routes() {
		if r.RemoteName == "n1" || r.RemoteName == "n2" {
			if r.IsConfigured {
				t.Fatalf("gossiped route %+v marked configured", r)
			}
		}
	}
}

func TestDuplicateRoutesResolveToOne(t *testing.T) {
	a := startNode(t, "a", nil)
	b := startNode(t, "b", []string{a.ClusterURL()})
	waitMesh(t, a, b)
	// c and d both list each other (and a): each pair ends with one route,
	// the same connection on both sides.
	c := startNode(t, "c", []string{a.ClusterURL(), b.ClusterURL()})
	d := startNode(t, "d", []string{a.ClusterURL(), b.ClusterURL(), c.ClusterURL()})
	waitMesh(t, a, b, c, d)
	time.Sleep(500 * time.Millisecond) // let any duplicate be found and dropped
	waitMesh(t, a, b, c, d)
	for _, s := range []*server.Server{a, b, c, d} {
		seen := map[string]bool{}
		for _, r := range s.Routes() {
			if seen[r.RemoteID] {
				t.Fatalf("%s has two routes to %s", s.Name(), r.RemoteName)
			}
			seen[r.RemoteID] = true
		}
	}
	// Both ends agree on which side solicited each route.
	for _, s := range []*server.Server{a, b, c, d} {
		for _, r := range s.Routes() {
			var peer *server.Server
			for _, p := range []*server.Server{a, b, c, d} {
				if p.ID() == r.RemoteID {
					peer = p
				}
			}
			for _, pr := range peer.Routes() {
				if pr.RemoteID == s.ID() && pr.DidSolicit == r.DidSolicit {
					t.Fatalf("%s and %s disagree on who solicited their route", s.Name(), peer.Name())
				}
			}
		}
	}
}

func TestClientsLearnConnectURLsAndFailOver(t *testing.T) {
	nodes := startMesh(t, 3)
	a := nodes[0]
	reconnected := make(chan string, 4)
	nc, err := nats.Connect(a.ClientURL(),
		nats.ReconnectWait(50*time.Millisecond),
		nats.MaxReconnects(-1),
		nats.ReconnectHandler(func(c *nats.Conn) { reconnected <- c.ConnectedUrl() }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, 5*time.Second, func() bool { return len(nc.DiscoveredServers()) == 2 }, func() string {
		return "client discovered " + strings.Join(nc.DiscoveredServers(), ",")
	})
	if got := nc.ConnectedClusterName(); got != "test" {
		t.Fatalf("cluster in INFO = %q", got)
	}
	// A subscriber elsewhere, to prove the client is served after failover.
	other := connect(t, nodes[2])
	sub, _ := other.SubscribeSync("after.failover")
	other.Flush()

	a.Shutdown()
	var url string
	select {
	case url = <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatalf("client did not reconnect to another server: status %v, servers %v, discovered %v, last error %v",
			nc.Status(), nc.Servers(), nc.DiscoveredServers(), nc.LastError())
	}
	if url == a.ClientURL() {
		t.Fatalf("reconnected to the dead server %s", url)
	}
	waitFor(t, 5*time.Second, func() bool { return routeSubs(nodes[1]) >= 1 }, nil)
	nc.Publish("after.failover", []byte("still here"))
	nc.Flush()
	nextMsg(t, sub)
}

func TestRoutezAndVarzCluster(t *testing.T) {
	nodes := startMesh(t, 2)
	_ = nodes
	mon := startNode(t, "mon", []string{nodes[0].ClusterURL()}, func(o *config.Options) { o.HTTPPort = -1 })
	waitMesh(t, append(nodes, mon)...)
	var rz struct {
		ID        string `json:"server_id"`
		NumRoutes int    `json:"num_routes"`
		Routes    []struct {
			Rid        uint64 `json:"rid"`
			RemoteID   string `json:"remote_id"`
			RemoteName string `json:"remote_name"`
			DidSolicit bool   `json:"did_solicit"`
			IP         string `json:"ip"`
		} `json:"routes"`
	}
	getJSON(t, "http://"+mon.MonitorAddr().String()+"/routez", &rz)
	if rz.NumRoutes != 2 || len(rz.Routes) != 2 || rz.Routes[0].RemoteName != "n0" || rz.Routes[0].IP != "127.0.0.1" {
		t.Fatalf("routez: %+v", rz)
	}
	var vz struct {
		Cluster struct {
			Name string   `json:"name"`
			Addr string   `json:"addr"`
			Port int      `json:"cluster_port"`
			URLs []string `json:"urls"`
		} `json:"cluster"`
		Routes int `json:"routes"`
	}
	getJSON(t, "http://"+mon.MonitorAddr().String()+"/varz", &vz)
	if vz.Cluster.Name != "test" || vz.Cluster.Port != mon.ClusterAddr().Port || vz.Routes != 2 || len(vz.Cluster.URLs) != 1 {
		t.Fatalf("varz cluster: %+v", vz)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestLameDuckServerLeavesClientsConnectURLs(t *testing.T) {
	a := startNode(t, "a", nil, func(o *config.Options) {
		o.LameDuckGracePeriod, o.LameDuckDuration = 10*time.Second, 20*time.Second
	})
	b := startNode(t, "b", []string{a.ClusterURL()})
	c := startNode(t, "c", []string{a.ClusterURL()})
	waitMesh(t, a, b, c)
	nc := connect(t, b)
	waitFor(t, 5*time.Second, func() bool { return len(nc.DiscoveredServers()) == 2 }, nil)
	connect(t, a) // a server with clients stays in lame duck mode a while
	go a.LameDuckShutdown()
	// Still routed, but b no longer sends its clients to a.
	waitFor(t, 5*time.Second, func() bool {
		ds := nc.DiscoveredServers()
		return len(ds) == 1 && !strings.Contains(ds[0], strings.TrimPrefix(a.ClientURL(), "nats://"))
	}, func() string { return "discovered " + strings.Join(nc.DiscoveredServers(), ",") })
	if b.NumRoutes() != 2 {
		t.Fatalf("b has %d routes while a is in lame duck mode", b.NumRoutes())
	}
	a.Shutdown()
}
