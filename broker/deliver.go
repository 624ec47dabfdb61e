package broker

import (
	"bytes"
	"math/rand/v2"
	"time"

	"github.com/midgemq/midge/parser"
	"github.com/midgemq/midge/sublist"
)

// This file is the fan-out: from one published message to the outbound
// queues of every interested client.

type subResult = sublist.Result[*subscription]

// maxClientCache bounds a client's private match cache; past it the cache
// starts over (subjects that churn, like reply inboxes, would fill any cap).
const maxClientCache = 256

// producer is what one publishing goroutine needs to fan messages out: a
// client's read loop has one, and so does each internal Publisher. None of
// it is shared, so the hot path takes no lock but the destination's.
type producer struct {
	acc       *Account
	self      *client // the publishing client; nil for internal publishers
	echo      bool    // deliver to self's own subscriptions
	line      []byte  // scratch for MSG/HMSG control lines
	msgSize   sizeText
	hmsgSizes sizeText
	cache     matchCache
	flushes   flushSet      // destinations to wake after this read
	stallLeft time.Duration // stall budget left in this read

	// shown, when set, is the subject receivers see instead of the one the
	// message was routed by (JetStream delivers stream messages to an inbox
	// but shows their stream subject).
	shown []byte

	// trace is the trace of the message being published, set only while a
	// traced message fans out (msgtrace.go).
	trace *MsgTrace

	// rb is the read buffer being parsed (nil for internal publishers):
	// large payloads in it are queued by reference.
	rb *readBuf

	// staged, for a client's read loop, gathers small deliveries per
	// receiver for the length of a read (staging.go); nil stages nothing.
	staged *staging

	// rt is what only cluster traffic needs, allocated once a message goes
	// to a route (or the producer is a route's): kept out of line so that
	// a producer without routes stays as small as before.
	rt *routeScratch
}

// sizeText is the decimal text of a message's sizes as its control lines
// spell them: "<total>" (hdr < 0) or "<hdr> <total>". Every receiver of a
// message gets the same sizes, so a producer formats them again only when
// they change.
type sizeText struct {
	hdr, total int
	text       []byte
}

func (t *sizeText) of(hdr, total int) []byte {
	if t.text != nil && t.hdr == hdr && t.total == total {
		return t.text
	}
	t.text = parser.AppendSizes(t.text[:0], hdr, total)
	t.hdr, t.total = hdr, total
	return t.text
}

func pubArg(subject, reply, header, data []byte) parser.PubArg {
	return parser.PubArg{Subject: subject, Reply: reply, Header: header, Data: data, Size: len(header) + len(data)}
}

// matchCache is a producer's private, lock-free view of recent matches. It is
// valid for one sublist generation; any subscription change anywhere starts
// it over, which is what keeps it correct without locks.
type matchCache struct {
	gen uint64
	m   map[string]*subResult
}

func (p *producer) match(subject []byte) *subResult {
	subs := p.acc.subs
	if p.acc.broker.oneTimeSubject(subject) {
		return subs.MatchOnce(subject)
	}
	// Read the generation before matching: a result is then never older than
	// the generation it is filed under.
	gen := subs.Generation()
	if p.cache.m == nil {
		p.cache.m = make(map[string]*subResult)
	}
	if gen != p.cache.gen {
		clear(p.cache.m)
		p.cache.gen = gen
	} else if r, ok := p.cache.m[string(subject)]; ok {
		return r
	}
	r := subs.MatchBytes(subject)
	if len(p.cache.m) >= maxClientCache {
		clear(p.cache.m)
	}
	p.cache.m[string(subject)] = r
	return r
}

// oneTimeSubject recognises subjects that are unique per message by
// convention (request reply inboxes, the prefixes adapters registered with
// AddOneTimePrefix): caching their matches only churns the caches.
func (b *Broker) oneTimeSubject(subject []byte) bool {
	for _, p := range *b.oneTime.Load() {
		if bytes.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

// publish delivers one message to every matching plain subscription and one
// member of each matching queue group, and reports whether anyone got it.
// Remote interest (routes) is collected on the way and served last, one
// message per route however many of its subscriptions matched.
func (p *producer) publish(pa *parser.PubArg) bool {
	r := p.match(pa.Subject)
	delivered := false
	fromRemote := p.rt != nil && p.rt.fromRemote
	for _, sub := range r.Plain {
		if p.deliver(sub, pa) {
			delivered = true
		}
	}
	for i := range r.Queues {
		g := &r.Queues[i]
		if fromRemote && !p.rt.queueListed(g.Name) {
			continue
		}
		if p.deliverToGroup(g, pa) {
			delivered = true
		}
	}
	if p.rt != nil && len(p.rt.remotes) > 0 && p.sendToRemotes(pa) {
		delivered = true
	}
	return delivered
}

// queueListed reports whether a message from a route names the queue group:
// the sending server chose this server for those groups only.
func (rt *routeScratch) queueListed(name string) bool {
	for _, q := range rt.queues {
		if string(q) == name {
			return true
		}
	}
	return false
}

// deliverToGroup hands the message to one member of a queue group, starting
// at a random member and moving on past members that cannot take it.
func (p *producer) deliverToGroup(g *sublist.QueueGroup[*subscription], pa *parser.PubArg) bool {
	members := g.Members
	n := len(members)
	if n == 0 {
		return false
	}
	start := 0
	if p.acc.remoteQueueSubs.Load() > 0 && (p.rt == nil || !p.rt.fromRemote) {
		start = weightedStart(members)
	} else {
		start = rand.IntN(n)
	}
	for i := 0; i < n; i++ {
		sub := members[(start+i)%n]
		if sub.remote != nil {
			if p.targetRemote(sub.remote, g.Name) {
				return true
			}
			continue
		}
		if p.deliver(sub, pa) {
			return true
		}
	}
	return false
}

// weightedStart picks a member at random, a route's member counting as many
// times as the remote server has members in the group: each member anywhere
// in the cluster is then equally likely to get the message.
func weightedStart(members []*subscription) int {
	total := 0
	for _, m := range members {
		total += m.weightOf()
	}
	x := rand.IntN(total)
	for i, m := range members {
		if x -= m.weightOf(); x < 0 {
			return i
		}
	}
	return len(members) - 1
}

// deliver queues the message for one subscription and reports whether it
// was handed over.
func (p *producer) deliver(sub *subscription, pa *parser.PubArg) bool {
	if p.trace != nil {
		if sub.client != nil {
			p.handOverTo(sub.client)
		}
		return p.deliverTraced(sub, pa)
	}
	if sub.client == nil {
		return p.deliverInternal(sub, pa)
	}
	dst := sub.client
	if (dst == p.self && !p.echo) || dst.closed.Load() {
		return false
	}
	if deny := sub.deny.Load(); deny != nil && deliveryDenied(pa.Subject, *deny) {
		return false
	}
	// A staged delivery to a subscription without a delivery limit is
	// counted with its run (staging.go): no atomic read-modify-write per
	// message.
	stageable := p.staged != nil && dst != p.self
	uncounted := stageable && sub.max.Load() <= 0
	var last bool
	if !uncounted {
		var ok bool
		if ok, last = sub.claim(); !ok {
			return false
		}
	}
	if ps := dst.sec.perms.Load(); ps != nil && ps.resp != nil && len(pa.Reply) > 0 {
		// Granted before the message can reach the responder.
		dst.grantReply(ps, pa.Reply)
	}
	subject := pa.Subject
	if p.shown != nil {
		subject = p.shown
	}
	size := pa.Size
	header := pa.Header
	if header != nil && dst.headers.Load() {
		p.line = parser.AppendHMsgSized(p.line[:0], subject, sub.sid, pa.Reply, p.hmsgSizes.of(len(pa.Header), pa.Size))
	} else {
		// A client without headers support gets the body alone.
		header, size = nil, len(pa.Data)
		p.line = parser.AppendMsgSized(p.line[:0], subject, sub.sid, pa.Reply, p.msgSize.of(-1, len(pa.Data)))
	}
	if stageable && len(p.line)+len(header)+len(pa.Data) < stageMax {
		var count *subscription
		if uncounted {
			count = sub
		}
		if p.stage(dst, count, p.line, header, pa.Data, size) {
			if last {
				dst.removeSub(sub)
			}
			return true
		}
		// The first for dst in this read, which nothing precedes: queued
		// directly.
	} else if stageable {
		p.handOverTo(dst)
	}
	if uncounted {
		sub.delivered.Add(1)
	}
	queued, stall := dst.out.enqueueMsg(p.line, header, pa.Data, p.rb, size)
	if last {
		dst.removeSub(sub)
	}
	return p.queued(dst, queued, stall)
}

// queued follows a delivery queued to dst (or refused, past its limits):
// a refusal makes dst a slow consumer; otherwise dst's writer is woken
// after the read, and a queue running high stalls the producer a little.
func (p *producer) queued(dst *client, ok bool, stall <-chan struct{}) bool {
	if !ok {
		dst.SlowConsumer(CloseSlowConsumer)
		return false
	}
	p.flushes.add(&dst.Conn)
	if stall != nil {
		if dst == p.self {
			p.stallSelf(stall)
		} else {
			p.stallFor(&dst.Conn, stall)
		}
	}
	return true
}

// Producer stalls: a publisher whose destination is falling behind waits a
// little for it, at most stallMax per wait and stallBudget per read, so a
// fast producer is slowed instead of its consumer being cut off, while no
// producer is held up for long by someone else's slow reader.
const (
	stallMax    = 5 * time.Millisecond
	stallBudget = 10 * time.Millisecond
)

func (p *producer) stallFor(dst *Conn, gate <-chan struct{}) {
	if p.stallLeft <= 0 {
		return
	}
	dst.out.kick() // it may not have been woken yet in this read
	dst.broker.stalls.Add(1)
	wait := min(stallMax, p.stallLeft)
	timer := time.NewTimer(wait)
	start := time.Now()
	select {
	case <-gate:
	case <-timer.C:
	}
	timer.Stop()
	p.stallLeft -= time.Since(start)
}

// stallSelf holds a connection that publishes to its own subscriptions
// until its writer has caught up: the only one waiting is the fast
// producer itself, and not reading its socket meanwhile is what slows it
// down. The wait is bounded by the write deadline, after which the writer
// has given up on a peer that does not read.
func (p *producer) stallSelf(gate <-chan struct{}) {
	c := p.self
	c.out.kick() // it may not have been woken yet in this read
	c.broker.stalls.Add(1)
	timer := time.NewTimer(c.broker.Options().WriteDeadline)
	select {
	case <-gate:
	case <-timer.C:
	case <-c.done:
	}
	timer.Stop()
}

// sendNoResponders tells a requester that nobody received its request: a
// 503 status message on its own subscription that matches the reply
// subject, with the request's subject in Nats-Subject, as the reference
// server sends it. Without such a subscription nothing is sent.
func (c *client) sendNoResponders(pa *parser.PubArg) {
	sid := c.replySid(pa.Reply)
	if sid == nil {
		return
	}
	hdr := make([]byte, 0, 64+len(pa.Subject))
	hdr = append(hdr, "NATS/1.0 503\r\nNats-Subject: "...)
	hdr = append(hdr, pa.Subject...)
	hdr = append(hdr, "\r\n\r\n"...)
	line := parser.AppendHMsg(nil, pa.Reply, sid, nil, len(hdr), len(hdr))
	if ok, _ := c.out.enqueueMsg(line, hdr, nil, nil, -1); !ok {
		c.SlowConsumer(CloseSlowConsumer)
		return
	}
	c.prod.flushes.add(&c.Conn)
}

// replySid finds the client's own plain subscription matching reply. The
// client's subscriptions are scanned rather than the shared sublist matched,
// because reply subjects are unique per request and would churn the caches.
func (c *client) replySid(reply []byte) []byte {
	subject := string(reply)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sub := range c.subs {
		if sub.queue == "" && sublist.MatchLiteral(subject, sub.subject) {
			return sub.sid
		}
	}
	return nil
}
