package route

import (
	"math/rand/v2"
	"net"
	"net/url"
	"time"
)

// Soliciting routes: the configured ones for as long as the server runs,
// those learnt from gossip until they fail a few times in a row. A
// solicitor whose connection lost to another one between the same two
// servers waits until that one fails before dialling again.

const (
	dialTimeout = 2 * time.Second
	// Reconnection backoff: from backoffMin, doubling to backoffMax, each
	// wait drawn between half and the whole of it so that servers that
	// lost each other at once do not redial in step.
	backoffMin = 100 * time.Millisecond
	backoffMax = 2 * time.Second
	// implicitAttempts is how many failures in a row make a server learnt
	// from gossip be forgotten; it is learnt again when it reconnects to
	// any server of the cluster.
	implicitAttempts = 5
)

func backoff(failures int) time.Duration {
	d := backoffMin
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// solicit starts dialling u unless it is already being dialled or leads
// back to this server.
func (m *Manager) solicit(u *url.URL, explicit bool) {
	m.mu.Lock()
	if m.stopping || m.soliciting[u.Host] || m.self[u.Host] {
		m.mu.Unlock()
		return
	}
	m.soliciting[u.Host] = true
	m.wg.Add(1)
	m.mu.Unlock()
	go m.solicitLoop(u, explicit)
}

func (m *Manager) solicitLoop(u *url.URL, explicit bool) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.soliciting, u.Host)
		m.mu.Unlock()
	}()
	failures := 0
	for {
		nc, err := m.dial(u.Host)
		if err != nil {
			failures++
			if failures == 1 || failures%10 == 0 {
				m.log.Debug("cannot connect to route", "url", u.Redacted(), "attempt", failures, "error", err)
			}
		} else {
			r := m.startRoute(nc, u, !explicit)
			select {
			case <-r.gone:
			case <-m.stop: // the route closes with the broker
				return
			}
			if r.err() == errSelf {
				return
			}
			if r.wasRegistered() {
				failures = 0
			} else {
				failures++
			}
			// Another connection to that server stands in for this one:
			// dial again only once it is gone too.
			if r.remoteID != "" && !m.waitGone(r.remoteID) {
				return
			}
		}
		if !explicit && failures >= implicitAttempts {
			m.log.Debug("giving up on gossiped route", "url", u.Redacted())
			return
		}
		if !m.sleep(backoff(failures)) {
			return
		}
	}
}

// markSelf remembers a route URL that leads back to this server (a
// configuration listing every server of the cluster lists this one too).
func (m *Manager) markSelf(u *url.URL) {
	m.mu.Lock()
	m.self[u.Host] = true
	m.mu.Unlock()
}

// gossipReceived connects to a server a peer told of, unless it is this
// one, already routed, or configured (its own solicitor deals with it).
func (m *Manager) gossipReceived(info *routeInfo) {
	if info.ID == m.id {
		return
	}
	m.mu.Lock()
	_, known := m.routes[info.ID]
	m.mu.Unlock()
	if known {
		return
	}
	u, err := routeURL(info, nil)
	if err != nil {
		m.log.Warn("gossiped route has no usable URL", "server_id", info.ID, "error", err)
		return
	}
	for _, r := range m.opts.Routes {
		if cu, err := url.Parse(r); err == nil && cu.Host == u.Host {
			return
		}
	}
	m.solicit(u, false)
}

// acceptClusterName decides whether a peer of cluster name (dynamic when
// it was not configured there) may join. A server whose own name was not
// configured takes on a configured name, or the greater of two dynamic
// ones, as the reference server does.
func (m *Manager) acceptClusterName(name string, dynamic bool) bool {
	m.mu.Lock()
	if name == m.clusterName {
		m.mu.Unlock()
		return true
	}
	if !m.dynamic || (dynamic && name < m.clusterName) || name == "" {
		m.mu.Unlock()
		return false
	}
	m.clusterName = name
	if !dynamic {
		m.dynamic = false
	}
	m.mu.Unlock()
	m.b.SetClusterName(name)
	m.log.Info("cluster name taken from a peer", "cluster", name)
	return true
}

func (m *Manager) clusterState() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clusterName, m.dynamic
}

// dial connects to a route address, through the configured RouteDialer
// when there is one.
func (m *Manager) dial(addr string) (net.Conn, error) {
	if d := m.opts.RouteDialer; d != nil {
		return d("tcp", addr)
	}
	return net.DialTimeout("tcp", addr, dialTimeout)
}
