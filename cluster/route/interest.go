package route

import (
	"encoding/json"
	"slices"

	"github.com/midgemq/midge/broker"
)

// Local interest and what the routes are told of it. The manager counts
// local subscriptions per account, subject and queue group, from the
// broker's interest observer; a plain subject is announced (RS+) when its
// count leaves zero and withdrawn (RS-) when it returns there; a queue
// group is announced with its member count as weight whenever that
// changes. A route that registers gets the whole table. Counting,
// announcing and replaying all happen under the manager's lock, so a route
// sees every change exactly once, in order.

type interestKey struct {
	account, subject, queue string
}

// interestChanged is the broker's InterestObserver.
func (m *Manager) interestChanged(acc *broker.Account, subject, queue string, delta int) {
	k := interestKey{acc.Name(), subject, queue}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.interest[k]
	n := old + delta
	if n == 0 {
		delete(m.interest, k)
	} else {
		m.interest[k] = n
	}
	var line []byte
	switch {
	case queue == "" && old <= 0 && n > 0:
		line = appendSub(nil, k.account, subject, "", 0)
	case queue == "" && old > 0 && n <= 0:
		line = appendUnsub(nil, k.account, subject, "")
	case queue != "" && n > 0 && n != old:
		line = appendSub(nil, k.account, subject, queue, n)
	case queue != "" && old > 0 && n <= 0:
		line = appendUnsub(nil, k.account, subject, queue)
	}
	if line == nil {
		return
	}
	for _, r := range m.routes {
		r.send(line)
	}
}

// sendInterestLocked replays the whole local interest to a route that
// just registered. Called with m.mu held.
func (m *Manager) sendInterestLocked(r *route) {
	var buf []byte
	for k, n := range m.interest {
		if n <= 0 {
			continue
		}
		buf = appendSub(buf, k.account, k.subject, k.queue, n)
		if len(buf) >= 32<<10 {
			r.send(buf)
			buf = nil
		}
	}
	if len(buf) > 0 {
		r.send(buf)
	}
}

// gossipLocked tells the other routes about a newly registered one, so that
// they connect to it too. A route solicited because of gossip is not passed
// on: whoever told us about it told the others as well. Called with m.mu
// held.
func (m *Manager) gossipLocked(r *route) {
	if r.implicit || len(m.routes) < 2 {
		return
	}
	info := r.info // a copy
	u, err := routeURL(&info, r.core.NetConn().RemoteAddr())
	if err != nil {
		return
	}
	info.IP = u.String()
	js, err := json.Marshal(info)
	if err != nil {
		return
	}
	line := append(append([]byte("INFO "), js...), '\r', '\n')
	for id, other := range m.routes {
		if id != r.remoteID {
			other.send(line)
		}
	}
}

// updateConnectURLs gives the broker the client URLs of every server in
// the cluster (this one first) for the INFO clients get. A closing manager
// says nothing: its routes end because this server shuts down, not because
// the others left, and clients must keep their URLs to fail over to them.
func (m *Manager) updateConnectURLs() {
	m.urlMu.Lock()
	defer m.urlMu.Unlock()
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return
	}
	urls := slices.Clone(m.clientURLs)
	if !m.opts.NoAdvertise {
		ids := make([]string, 0, len(m.routes))
		for id := range m.routes {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			for _, u := range m.routes[id].clientURLs() {
				if !slices.Contains(urls, u) {
					urls = append(urls, u)
				}
			}
		}
	}
	m.mu.Unlock()
	m.b.SetConnectURLs(urls)
}
