package broker

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/sublist"
)

// permEntry is one compiled allow or deny entry.
type permEntry struct {
	subject string
	queue   string // subscribe entries only; "" matches any or no queue
}

// Permissions is a user's compiled permissions. It is immutable and shared by
// every connection of the user, so publishers may read it without locks;
// a reload replaces a connection's set instead of changing it.
type Permissions struct {
	pubAllow []permEntry // nil: no allow list
	pubDeny  []permEntry
	hasPub   bool // any publish restriction at all
	subAllow []permEntry
	subDeny  []permEntry
	hasSub   bool
	resp     *config.ResponsePermission
}

// compilePermissions validates p and turns it into a Permissions; nil p means
// no restrictions and yields nil.
func compilePermissions(p *config.Permissions) (*Permissions, error) {
	if p == nil {
		return nil, nil
	}
	ps := &Permissions{}
	var err error
	if p.Publish != nil {
		if ps.pubAllow, err = compileEntries(p.Publish.Allow, false); err != nil {
			return nil, fmt.Errorf("publish allow: %w", err)
		}
		if p.Publish.Allow != nil && ps.pubAllow == nil {
			ps.pubAllow = []permEntry{} // an empty list allows nothing
		}
		if ps.pubDeny, err = compileEntries(p.Publish.Deny, false); err != nil {
			return nil, fmt.Errorf("publish deny: %w", err)
		}
	}
	if p.Subscribe != nil {
		if ps.subAllow, err = compileEntries(p.Subscribe.Allow, true); err != nil {
			return nil, fmt.Errorf("subscribe allow: %w", err)
		}
		if p.Subscribe.Allow != nil && ps.subAllow == nil {
			ps.subAllow = []permEntry{}
		}
		if ps.subDeny, err = compileEntries(p.Subscribe.Deny, true); err != nil {
			return nil, fmt.Errorf("subscribe deny: %w", err)
		}
	}
	if p.Response != nil {
		r := *p.Response
		if r.MaxMsgs == 0 {
			r.MaxMsgs = config.DefaultResponseMaxMsgs
		}
		if r.Expires == 0 {
			r.Expires = config.DefaultResponseExpires
		}
		ps.resp = &r
		if ps.pubAllow == nil {
			// As in the reference server: responses alone turn the blanket
			// publish allowance off.
			ps.pubAllow = []permEntry{}
		}
	}
	ps.hasPub = ps.pubAllow != nil || ps.pubDeny != nil
	ps.hasSub = ps.subAllow != nil || ps.subDeny != nil
	return ps, nil
}

func compileEntries(list []string, allowQueue bool) ([]permEntry, error) {
	var out []permEntry
	for _, s := range list {
		e, err := parsePermEntry(s, allowQueue)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// parsePermEntry accepts "subject" or, for subscribe lists, "subject queue".
func parsePermEntry(s string, allowQueue bool) (permEntry, error) {
	subject, queue, err := config.ParsePermEntry(s, allowQueue)
	return permEntry{subject: subject, queue: queue}, err
}

// pubAllowed decides a literal publish subject against the lists.
func (ps *Permissions) pubAllowed(subject string) bool {
	if ps.pubAllow != nil && !matchesAny(subject, ps.pubAllow) {
		return false
	}
	return !matchesAny(subject, ps.pubDeny)
}

func matchesAny(subject string, entries []permEntry) bool {
	for _, e := range entries {
		if sublist.MatchLiteral(subject, e.subject) {
			return true
		}
	}
	return false
}

// subAllowed decides a SUB. A subscription is allowed when every subject it
// can match is allowed, so `foo.>` is refused under `allow: foo.*` (the
// reference server lets it through). Queue-qualified allow entries that
// cover the subject restrict which queues may be used; queue-qualified deny
// entries refuse just those queues.
func (ps *Permissions) subAllowed(subject, queue string) bool {
	if ps.subAllow != nil {
		plain, queueRules, queueOK := false, false, false
		for _, e := range ps.subAllow {
			switch {
			case !sublist.IsSubsetMatch(subject, e.subject):
			case e.queue == "":
				plain = true
			default:
				queueRules = true
				queueOK = queueOK || (queue != "" && queueMatches(queue, e.queue))
			}
		}
		allowed := plain
		if queue != "" && queueRules {
			allowed = queueOK
		}
		if !allowed {
			return false
		}
	}
	for _, e := range ps.subDeny {
		if !sublist.IsSubsetMatch(subject, e.subject) {
			continue
		}
		if e.queue == "" || (queue != "" && queueMatches(queue, e.queue)) {
			return false
		}
	}
	return true
}

// queueMatches compares a queue name to a permission's, which may be a
// wildcard pattern (queue names are tokens like subjects).
func queueMatches(queue, pattern string) bool {
	return queue == pattern || sublist.IsSubsetMatch(queue, pattern)
}

// denyFilter lists the deny entries that an allowed subscription overlaps
// without being covered by them: `SUB foo.>` under `deny: foo.secret` is
// allowed, but foo.secret must never be delivered to it. Nil means no
// delivery-time check is needed, which is the common case.
func (ps *Permissions) denyFilter(subject, queue string) []permEntry {
	var out []permEntry
	for _, e := range ps.subDeny {
		if e.queue != "" && (queue == "" || !queueMatches(queue, e.queue)) {
			continue
		}
		if sublist.SubjectsCollide(subject, e.subject) {
			out = append(out, e)
		}
	}
	return out
}

// denyFilter is what a subscription holds of denyFilter's result; a reload
// replaces it when the subscriber's permissions change.
type denyFilter []permEntry

// subDenyFilter is ps's deny filter for a subscription, nil when none is
// needed (or ps has no subscribe restriction).
func (ps *Permissions) subDenyFilter(subject, queue string) *denyFilter {
	if ps == nil || !ps.hasSub {
		return nil
	}
	f := denyFilter(ps.denyFilter(subject, queue))
	if f == nil {
		return nil
	}
	return &f
}

// deliveryDenied checks a delivered subject against a subscription's deny
// filter.
func deliveryDenied(subject []byte, filter denyFilter) bool {
	for _, e := range filter {
		if sublist.MatchLiteral(string(subject), e.subject) {
			return true
		}
	}
	return false
}

// pubPermCacheSize bounds a connection's cache of publish decisions; when
// full it starts over, as the match cache does.
const pubPermCacheSize = 256

// pubPermCache remembers publish decisions for one connection. Only the
// connection's read loop touches it.
type pubPermCache map[string]bool

// checkPublish is the publish permission check of the hot path under ps,
// the connection's current set: a map hit for subjects seen before (no
// allocation), the lists otherwise. Read loop only.
func (c *client) checkPublish(ps *Permissions, subject []byte) bool {
	if ps != c.sec.pubCacheOf {
		// A reload gave the connection other permissions.
		clear(c.sec.pubCache)
		c.sec.pubCacheOf = ps
	}
	if allowed, ok := c.sec.pubCache[string(subject)]; ok {
		return allowed
	}
	allowed := ps.pubAllowed(string(subject))
	if !allowed && ps.resp != nil {
		// A reply permission is per request and changes with every
		// delivery, so it is decided afresh and never cached.
		return c.sec.replies.use(string(subject), ps.resp)
	}
	if c.sec.pubCache == nil || len(c.sec.pubCache) >= pubPermCacheSize {
		c.sec.pubCache = make(pubPermCache, pubPermCacheSize)
	}
	c.sec.pubCache[string(subject)] = allowed
	return allowed
}

// Violation texts as the reference server words them; clients match on
// the "Permissions Violation" prefix.
func pubViolationText(subject []byte) string {
	return "Permissions Violation for Publish to " + strconv.Quote(string(subject))
}

func subViolationText(subject, queue string) string {
	text := "Permissions Violation for Subscription to " + strconv.Quote(subject)
	if queue != "" {
		text += " using queue " + strconv.Quote(queue)
	}
	return text
}

// replyPerms tracks the reply subjects a connection with allow_responses
// may publish to. Publishers delivering requests add entries while the
// connection's read loop uses them, hence the lock.
type replyPerms struct {
	mu         sync.Mutex
	m          map[string]*replyGrant
	sincePrune int
}

type replyGrant struct {
	granted time.Time
	used    int
}

// Bounds on the reply grants one connection holds: expired and used grants
// are swept every replyPruneEvery additions, and past replyGrantsMax no new
// grant is recorded, so a flood of requests cannot grow memory without
// bound (the responder then simply may not answer the excess).
const (
	replyPruneEvery = 4096
	replyGrantsMax  = 64 << 10
)

// grant records that the connection received a request with this reply
// subject.
func (r *replyPerms) grant(reply string, rp *config.ResponsePermission) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]*replyGrant)
	}
	if r.sincePrune++; r.sincePrune >= replyPruneEvery {
		r.prune(rp, time.Now())
	}
	if len(r.m) >= replyGrantsMax {
		return
	}
	r.m[reply] = &replyGrant{granted: time.Now()}
}

// use consumes one reply to subject if a grant allows it.
func (r *replyPerms) use(subject string, rp *config.ResponsePermission) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.m[subject]
	if g == nil {
		return false
	}
	if rp.Expires > 0 && time.Since(g.granted) > rp.Expires {
		delete(r.m, subject)
		return false
	}
	g.used++
	if rp.MaxMsgs > 0 && g.used >= rp.MaxMsgs {
		delete(r.m, subject)
	}
	return true
}

// prune drops expired and used-up grants. Called with r.mu held.
func (r *replyPerms) prune(rp *config.ResponsePermission, now time.Time) {
	for k, g := range r.m {
		if (rp.MaxMsgs > 0 && g.used >= rp.MaxMsgs) || (rp.Expires > 0 && now.Sub(g.granted) > rp.Expires) {
			delete(r.m, k)
		}
	}
	r.sincePrune = 0
}

func (r *replyPerms) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// grantReply lets a subscriber with allow_responses (in ps, its current
// permissions) answer a request it is being delivered, unless its publish
// permissions allow that anyway.
func (c *client) grantReply(ps *Permissions, reply []byte) {
	if ps.pubAllowed(string(reply)) {
		return
	}
	c.sec.replies.grant(string(reply), ps.resp)
}

// CanPublish reports whether the permissions allow publishing to the
// literal subject; nil permissions allow everything.
func (ps *Permissions) CanPublish(subject string) bool {
	return ps == nil || !ps.hasPub || ps.pubAllowed(subject)
}

// CanSubscribe reports whether the permissions allow the subscription.
func (ps *Permissions) CanSubscribe(subject, queue string) bool {
	return ps == nil || !ps.hasSub || ps.subAllowed(subject, queue)
}

// DeliveryFilter returns the deny entries an allowed (wildcard or queue)
// subscription overlaps: messages on subjects they match must not be
// delivered to it. Nil when there are none.
func (ps *Permissions) DeliveryFilter(subject, queue string) DeliveryFilter {
	if ps == nil || !ps.hasSub {
		return nil
	}
	return DeliveryFilter(ps.denyFilter(subject, queue))
}

// DeliveryFilter is what a subscription may not receive despite its subject.
type DeliveryFilter []permEntry

// Denies reports whether a message on subject must not be delivered.
func (f DeliveryFilter) Denies(subject []byte) bool { return deliveryDenied(subject, denyFilter(f)) }
