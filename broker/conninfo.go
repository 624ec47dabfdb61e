package broker

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/sublist"
)

// clientMon is what monitoring knows of a connection beyond its counters.
// The publish path never touches it: the read loop and the writer update
// the activity time once per read or write, not per message.
type clientMon struct {
	// Copied from CONNECT by the read loop under client.mu, because the
	// client's own options belong to the read loop alone.
	name, lang, version string
	protocol            int
	hello               bool // CONNECT seen

	// Set once by closeConnection under client.mu.
	reason    CloseReason
	stop      time.Time
	finalSubs map[string]*subscription

	last     atomic.Int64 // unix ns: last message in or out, or SUB/UNSUB
	rtt      atomic.Int64 // ns
	pingSent atomic.Int64 // unix ns of the server PING awaiting a PONG, 0 if none

	interest bool  // read loop only: SUB or UNSUB in the current read
	outSeen  int64 // writer only: outMsgs when it last looked
}

// connected records the CONNECT fields monitoring shows.
func (m *clientMon) connected(c *client, o clientOptions) {
	c.mu.Lock()
	m.name, m.lang, m.version, m.protocol, m.hello = o.name, o.lang, o.version, o.protocol, true
	c.mu.Unlock()
	// Until a PING is answered, the time from accept to CONNECT (our INFO
	// out, the client's CONNECT back) stands in for the round trip, as in
	// the reference server.
	m.rtt.CompareAndSwap(0, int64(time.Since(c.start)))
}

// afterRead marks activity when a read carried messages or interest
// changes; PINGs alone leave a connection idle.
func (m *clientMon) afterRead(c *client, inBefore int64) {
	if m.interest || c.stats.inMsgs.Load() != inBefore {
		m.interest = false
		m.last.Store(time.Now().UnixNano())
	}
}

// afterWrite marks activity when the writer sent messages.
func (m *clientMon) afterWrite(c *client) {
	if n := c.stats.outMsgs.Load(); n != m.outSeen {
		m.outSeen = n
		m.last.Store(time.Now().UnixNano())
	}
}

// pong measures the round trip of the server PING it answers.
func (m *clientMon) pong() {
	if sent := m.pingSent.Swap(0); sent != 0 {
		m.rtt.Store(max(time.Now().UnixNano()-sent, 1))
	}
}

// closing keeps the final state; called once, under client.mu.
func (m *clientMon) closing(reason CloseReason, subs map[string]*subscription) {
	m.reason, m.stop, m.finalSubs = reason, time.Now(), subs
}

// ConnInfo is one connection in /connz, with the reference server's names.
type ConnInfo struct {
	Cid          uint64      `json:"cid"`
	Kind         string      `json:"kind,omitempty"`
	Type         string      `json:"type,omitempty"`
	IP           string      `json:"ip"`
	Port         int         `json:"port"`
	Start        time.Time   `json:"start"`
	LastActivity time.Time   `json:"last_activity"`
	Stop         *time.Time  `json:"stop,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	RTT          string      `json:"rtt,omitempty"`
	Uptime       string      `json:"uptime"`
	Idle         string      `json:"idle"`
	Pending      int         `json:"pending_bytes"`
	InMsgs       int64       `json:"in_msgs"`
	OutMsgs      int64       `json:"out_msgs"`
	InBytes      int64       `json:"in_bytes"`
	OutBytes     int64       `json:"out_bytes"`
	NumSubs      uint32      `json:"subscriptions"`
	Name         string      `json:"name,omitempty"`
	Lang         string      `json:"lang,omitempty"`
	Version      string      `json:"version,omitempty"`
	Subs         []string    `json:"subscriptions_list,omitempty"`
	SubsDetail   []SubDetail `json:"subscriptions_list_detail,omitempty"`

	rtt  time.Duration // for sorting
	subs []SubDetail   // a closed connection's subscriptions at close
}

// SubDetail is one subscription in /connz and /subsz.
type SubDetail struct {
	Account    string `json:"account,omitempty"`
	AccountTag string `json:"account_tag,omitempty"`
	Subject    string `json:"subject"`
	Queue      string `json:"qgroup,omitempty"`
	Sid        string `json:"sid"`
	Msgs       int64  `json:"msgs"`
	Max        int64  `json:"max,omitempty"`
	Cid        uint64 `json:"cid"`
}

func newSubDetail(sub *subscription, cid uint64) SubDetail {
	return SubDetail{
		Subject: sub.subject,
		Queue:   sub.queue,
		Sid:     string(sub.sid),
		Msgs:    sub.delivered.Load(),
		Max:     sub.max.Load(),
		Cid:     cid,
	}
}

// subDetails lists subscriptions in sid order, so pages are stable.
func subDetails(subs map[string]*subscription, cid uint64) []SubDetail {
	out := make([]SubDetail, 0, len(subs))
	for _, sub := range subs {
		out = append(out, newSubDetail(sub, cid))
	}
	slices.SortFunc(out, func(a, b SubDetail) int { return compareSids(a.Sid, b.Sid) })
	return out
}

// compareSids orders numeric sids numerically (what clients use) and
// anything else after them, lexically.
func compareSids(a, b string) int {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// baseConnInfo fills what open and closed connections share.
func baseConnInfo(c *client) *ConnInfo {
	ci := &ConnInfo{
		Cid:          c.cid,
		Kind:         "Client",
		Type:         "nats",
		IP:           c.host,
		Start:        c.start,
		LastActivity: time.Unix(0, c.mon.last.Load()),
		InMsgs:       c.stats.inMsgs.Load(),
		OutMsgs:      c.stats.outMsgs.Load(),
		InBytes:      c.stats.inBytes.Load(),
		OutBytes:     c.stats.outBytes.Load(),
		rtt:          rttRounded(time.Duration(c.mon.rtt.Load())),
	}
	if ci.rtt > 0 {
		ci.RTT = ci.rtt.String()
	}
	if a, ok := c.conn.RemoteAddr().(*net.TCPAddr); ok {
		ci.Port = a.Port
	}
	return ci
}

// rttRounded keeps round trips readable: microseconds below a millisecond.
func rttRounded(d time.Duration) time.Duration {
	if d > time.Microsecond && d < time.Millisecond {
		return d.Truncate(time.Microsecond)
	}
	return d
}

// SubsMode is what /connz lists of each connection's subscriptions.
type SubsMode uint8

const (
	SubsNone SubsMode = iota
	SubsSubjects
	SubsDetail
)

// openConnInfo describes a live connection as of now.
func openConnInfo(c *client, now time.Time, mode SubsMode) *ConnInfo {
	ci := baseConnInfo(c)
	ci.Uptime = FormatUptime(now.Sub(ci.Start))
	ci.Idle = FormatUptime(now.Sub(ci.LastActivity))
	c.mu.Lock()
	ci.Name, ci.Lang, ci.Version = c.mon.name, c.mon.lang, c.mon.version
	ci.NumSubs = uint32(len(c.subs))
	var details []SubDetail
	if mode != SubsNone && len(c.subs) > 0 {
		details = subDetails(c.subs, c.cid)
	}
	c.mu.Unlock()
	ci.Pending = int(c.out.pendingBytes())
	setSubs(ci, details, mode)
	return ci
}

func setSubs(ci *ConnInfo, details []SubDetail, mode SubsMode) {
	switch {
	case len(details) == 0:
	case mode == SubsDetail:
		ci.SubsDetail = details
	case mode == SubsSubjects:
		ci.Subs = make([]string, len(details))
		for i, d := range details {
			ci.Subs[i] = d.Subject
		}
	}
}

// closedConnInfo describes a connection whose counters are final; the
// writer calls it (through connGone) as its last act. Without the
// monitoring server nobody asks, so nothing is built. It also returns how
// many subscriptions the connection held when it closed, and lets go of
// them either way.
func (b *Broker) closedConnInfo(c *client) (*ConnInfo, int) {
	c.mu.Lock()
	stop, reason, subs := c.mon.stop, c.mon.reason, c.mon.finalSubs
	c.mon.finalSubs = nil
	name, lang, version := c.mon.name, c.mon.lang, c.mon.version
	c.mu.Unlock()
	if b.Options().HTTPPort == 0 {
		return nil, len(subs)
	}
	ci := baseConnInfo(c)
	ci.Name, ci.Lang, ci.Version = name, lang, version
	ci.Stop = &stop
	ci.Reason = reason.String()
	ci.NumSubs = uint32(len(subs))
	ci.subs = subDetails(subs, c.cid)
	ci.Uptime = FormatUptime(stop.Sub(ci.Start))
	ci.Idle = FormatUptime(stop.Sub(ci.LastActivity))
	return ci, len(subs)
}

// withSubs returns a copy of a remembered closed connection showing its
// subscriptions as asked; the remembered entry itself is never changed.
func (ci *ConnInfo) withSubs(mode SubsMode) *ConnInfo {
	cp := *ci
	setSubs(&cp, ci.subs, mode)
	return &cp
}

// closedRing remembers the most recently closed connections, bounded so a
// churn of short-lived clients cannot grow memory.
type closedRing struct {
	mu    sync.Mutex
	limit int
	buf   []*ConnInfo
	next  int // where the next entry goes once buf is full
}

func (r *closedRing) add(ci *ConnInfo) {
	if ci == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limit <= 0 {
		return
	}
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, ci)
		return
	}
	r.buf[r.next] = ci
	r.next = (r.next + 1) % r.limit
}

// list returns the remembered connections, oldest first.
func (r *closedRing) list() []*ConnInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*ConnInfo, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// FormatUptime renders a duration the way the reference server's
// monitoring does: whole seconds, with days and years spelled out.
// FormatUptime renders a duration as the reference server does in /varz
// and /connz: 1d2h3m4s.
func FormatUptime(d time.Duration) string {
	secs := int64(d / time.Second)
	mins, hrs := secs/60, secs/3600
	days := hrs / 24
	years := days / 365
	switch {
	case years > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", years, days%365, hrs%24, mins%60, secs%60)
	case days > 0:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hrs%24, mins%60, secs%60)
	case hrs > 0:
		return fmt.Sprintf("%dh%dm%ds", hrs, mins%60, secs%60)
	case mins > 0:
		return fmt.Sprintf("%dm%ds", mins, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}

// RoundTrip is the connection's last measured round trip.
func (ci *ConnInfo) RoundTrip() time.Duration { return ci.rtt }

// OpenConns describes the open NATS-protocol connections as of now: all of
// them, or the one with id cid, or those of one account.
func (b *Broker) OpenConns(cid uint64, account string, mode SubsMode) []*ConnInfo {
	now := time.Now().UTC()
	var out []*ConnInfo
	for _, c := range b.natsClients() {
		if cid != 0 && c.cid != cid || account != "" && c.account().Name() != account {
			continue
		}
		out = append(out, openConnInfo(c, now, mode))
	}
	return out
}

// ClosedConns describes the most recently closed connections, oldest first;
// they are remembered only with monitoring on (an HTTP port configured).
func (b *Broker) ClosedConns(mode SubsMode) []*ConnInfo {
	list := b.closedConns.list()
	out := make([]*ConnInfo, len(list))
	for i, ci := range list {
		out[i] = ci.withSubs(mode)
	}
	return out
}

// ClientSubscriptions lists the subscriptions of open connections in
// account (any when empty) that a message on test would reach (all when
// empty), by connection and sid.
func (b *Broker) ClientSubscriptions(account, test string) []SubDetail {
	var out []SubDetail
	for _, c := range b.natsClients() {
		name := c.account().Name()
		if account != "" && name != account {
			continue
		}
		c.mu.Lock()
		details := subDetails(c.subs, c.cid)
		c.mu.Unlock()
		for _, d := range details {
			if test != "" && !sublist.MatchLiteral(test, d.Subject) {
				continue
			}
			d.Account, d.AccountTag = name, name
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b SubDetail) int { return cmp.Compare(a.Cid, b.Cid) })
	return out
}
