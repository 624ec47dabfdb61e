package faultproxy

import (
	"fmt"
	"net"
	"sort"
	"sync"
	"time"
)

// Network is a set of named nodes with one proxy per ordered pair: the
// proxy node a dials to reach node b (Link(a, b)). A connection a dialled
// to b carries a's traffic to b "up" and b's traffic to a "down"; faults
// between two nodes apply to the connections either one dialled.
type Network struct {
	mu    sync.Mutex
	addrs map[string]string // node name -> real address
	links map[[2]string]*Proxy
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{addrs: make(map[string]string), links: make(map[[2]string]*Proxy)}
}

// AddNode names a node and the real address others reach it on.
func (n *Network) AddNode(name, addr string) {
	n.mu.Lock()
	n.addrs[name] = addr
	n.mu.Unlock()
}

// Nodes are the node names, sorted.
func (n *Network) Nodes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.addrs))
	for k := range n.addrs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Link is the proxy from to dials to reach to, started on first use.
func (n *Network) Link(from, to string) (*Proxy, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := [2]string{from, to}
	if p := n.links[k]; p != nil {
		return p, nil
	}
	addr, ok := n.addrs[to]
	if !ok {
		return nil, fmt.Errorf("faultproxy: no node %q", to)
	}
	p, err := New(addr)
	if err != nil {
		return nil, err
	}
	n.links[k] = p
	return p, nil
}

// Dialer is the dial function node from uses: an address of another node
// is dialled through the proxy between them, anything else directly.
func (n *Network) Dialer(from string) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		n.mu.Lock()
		to := ""
		for name, a := range n.addrs {
			if a == addr && name != from {
				to = name
				break
			}
		}
		n.mu.Unlock()
		if to != "" {
			p, err := n.Link(from, to)
			if err != nil {
				return nil, err
			}
			addr = p.Addr()
		}
		return net.DialTimeout(network, addr, 2*time.Second)
	}
}

// each runs fn on the proxies between a and b: (a->b, up is a to b) and
// (b->a, up is b to a).
func (n *Network) each(a, b string, fn func(p *Proxy, fromA bool)) {
	for _, k := range [][2]string{{a, b}, {b, a}} {
		p, err := n.Link(k[0], k[1])
		if err != nil {
			continue
		}
		fn(p, k[0] == a)
	}
}

// Drop blackholes the traffic from node from to node to, one way.
func (n *Network) Drop(from, to string) {
	n.each(from, to, func(p *Proxy, fromA bool) {
		p.mu.Lock()
		if fromA {
			p.dropUp = true
		} else {
			p.dropDown = true
		}
		p.mu.Unlock()
	})
}

// DropBoth blackholes the traffic between a and b both ways.
func (n *Network) DropBoth(a, b string) {
	n.each(a, b, func(p *Proxy, _ bool) { p.Drop(true, true) })
}

// Delay delays the traffic between a and b by d both ways.
func (n *Network) Delay(a, b string, d time.Duration) {
	n.each(a, b, func(p *Proxy, _ bool) { p.Delay(d) })
}

// Cut closes the connections between a and b and refuses new ones.
func (n *Network) Cut(a, b string) {
	n.each(a, b, func(p *Proxy, _ bool) { p.Cut() })
}

// Reset resets the connections between a and b; they may reconnect.
func (n *Network) Reset(a, b string) {
	n.each(a, b, func(p *Proxy, _ bool) { p.Reset() })
}

// Isolate blackholes node from every other one, both ways.
func (n *Network) Isolate(node string) {
	for _, o := range n.Nodes() {
		if o != node {
			n.DropBoth(node, o)
		}
	}
}

// Split blackholes every link between a node of a and a node of b.
func (n *Network) Split(a, b []string) {
	for _, x := range a {
		for _, y := range b {
			n.DropBoth(x, y)
		}
	}
}

// Heal lifts every fault on every link.
func (n *Network) Heal() {
	n.mu.Lock()
	ps := make([]*Proxy, 0, len(n.links))
	for _, p := range n.links {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	for _, p := range ps {
		p.Heal()
	}
}

// Conns is how many proxied connections are open on every link: once
// they are as many as the routes, no connection is left in a handshake.
func (n *Network) Conns() int {
	n.mu.Lock()
	ps := make([]*Proxy, 0, len(n.links))
	for _, p := range n.links {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	total := 0
	for _, p := range ps {
		total += p.Conns()
	}
	return total
}

// Close stops every proxy.
func (n *Network) Close() {
	n.mu.Lock()
	ps := n.links
	n.links = make(map[[2]string]*Proxy)
	n.mu.Unlock()
	for _, p := range ps {
		_ = p.Close()
	}
}
