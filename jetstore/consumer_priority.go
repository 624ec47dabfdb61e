package jetstore

import (
	"errors"
	"regexp"
	"slices"
	"time"

	"github.com/nats-io/nuid"
)

// Priority groups of pull consumers (priority_policy, priority_groups):
//
//   - pinned_client: one client at a time gets the messages. The first
//     request that comes without a pin id is given a new one (delivered
//     with every message, Delivery.PinID); from then on only requests
//     carrying that id are served, requests without one wait, and requests
//     with another id are turned away (StatusWrongPinID). The pin lapses
//     when no request renewed it for priority_timeout, or when an operator
//     unpins the group (Stream.UnpinConsumer).
//   - overflow: a request with min_pending or min_ack_pending is served
//     only while the consumer has at least that many messages pending, or
//     that many awaiting acknowledgement; others are served as usual.
//   - prioritized: requests are served by their priority (0 first, up to
//     9), in arrival order within one priority.
//
// Guarded by Consumer.mu.

// Priority policies as clients spell them.
const (
	PriorityNone         = ""
	PriorityOverflow     = "overflow"
	PriorityPinnedClient = "pinned_client"
	PriorityPrioritized  = "prioritized"
)

// DefaultPinnedTimeout is how long a pin lasts without a request renewing it.
const DefaultPinnedTimeout = 2 * time.Minute

// maxPriority is the lowest priority a request may ask for.
const maxPriority = 9

var validGroupName = regexp.MustCompile(`^[a-zA-Z0-9/_=-]{1,16}$`)

// Priority group errors.
var (
	ErrPushWithPriorityGroup   = errors.New("priority groups can not be used with push consumers")
	ErrPriorityPolicyNoGroup   = errors.New("Setting PriorityPolicy requires at least one PriorityGroup to be set")
	ErrEmptyGroupName          = errors.New("Group name cannot be an empty string")
	ErrInvalidGroupName        = errors.New("Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters")
	ErrPriorityGroupWithoutPol = errors.New("consumer can not have priority groups when policy is none")
	ErrPinnedTimeoutWithoutPol = errors.New("PinnedTTL cannot be set when PriorityPolicy is none")
	ErrInvalidPriorityGroup    = errors.New("Provided priority group does not exist for this consumer")
	ErrInvalidPriorityPolicy   = errors.New("invalid priority policy")
)

// priorityState is a consumer's pin.
type priorityState struct {
	pinID    string
	pinnedAt time.Time
	renewed  time.Time // the pin lapses priority_timeout after this
}

// PriorityGroupState is a priority group's state in the consumer's info.
type PriorityGroupState struct {
	Group          string    `json:"group"`
	PinnedClientID string    `json:"pinned_client_id,omitempty"`
	PinnedTS       time.Time `json:"pinned_ts,omitempty"`
}

// normalizePriority validates the priority settings and fills defaults.
func (cfg *ConsumerConfig) normalizePriority() error {
	if cfg.PriorityPolicy == "none" {
		cfg.PriorityPolicy = PriorityNone
	}
	switch cfg.PriorityPolicy {
	case PriorityNone:
		if len(cfg.PriorityGroups) > 0 {
			return ErrPriorityGroupWithoutPol
		}
		if cfg.PriorityTimeout > 0 {
			return ErrPinnedTimeoutWithoutPol
		}
		return nil
	case PriorityOverflow, PriorityPinnedClient, PriorityPrioritized:
	default:
		return ErrInvalidPriorityPolicy
	}
	if !cfg.isPull() {
		return ErrPushWithPriorityGroup
	}
	if len(cfg.PriorityGroups) == 0 {
		return ErrPriorityPolicyNoGroup
	}
	for _, g := range cfg.PriorityGroups {
		if g == "" {
			return ErrEmptyGroupName
		}
		if !validGroupName.MatchString(g) {
			return ErrInvalidGroupName
		}
	}
	if cfg.PriorityTimeout < 0 {
		cfg.PriorityTimeout = 0
	}
	if cfg.PriorityPolicy == PriorityPinnedClient && cfg.PriorityTimeout == 0 {
		cfg.PriorityTimeout = DefaultPinnedTimeout
	}
	return nil
}

// admitPriority checks a pull request against the priority settings; a
// refusal is returned as its status.
func (c *Consumer) admitPriority(r *PullRequest, now time.Time) (Status, bool) {
	bad := func(reason string) (Status, bool) {
		s := c.newStatus(StatusBadPriorityRequest)
		s.Reason = reason
		return s, false
	}
	policy := c.cfg.PriorityPolicy
	if r.MinPending != 0 || r.MinAckPending != 0 {
		if policy != PriorityOverflow {
			return bad("Not a Overflow Priority consumer")
		}
	}
	if r.PinID != "" && policy != PriorityPinnedClient {
		return bad("Not a Pinned Client Priority consumer")
	}
	if r.Priority < 0 || r.Priority > maxPriority {
		return bad("Priority must be between 0 and 9")
	}
	if policy == PriorityNone {
		return Status{}, true
	}
	if r.Group == "" {
		return bad("Priority Group missing")
	}
	if !slices.Contains(c.cfg.PriorityGroups, r.Group) {
		return bad("Invalid Priority Group")
	}
	c.expirePinLocked(now)
	if p := &c.prio; p.pinID != "" {
		switch r.PinID {
		case p.pinID:
			p.renewed = now
		case "":
		default:
			return c.newStatus(StatusPinMismatch), false
		}
	}
	return Status{}, true
}

// queuePullLocked adds an admitted request to the queue: by priority for
// the prioritized policy, else at the end.
func (c *Consumer) queuePullLocked(pr *pullRequest) {
	q := &c.pulls
	if c.cfg.PriorityPolicy != PriorityPrioritized {
		q.waiting = append(q.waiting, pr)
		return
	}
	i := len(q.waiting)
	for i > 0 && q.waiting[i-1].priority > pr.priority {
		i--
	}
	q.waiting = slices.Insert(q.waiting, i, pr)
}

// selectPullLocked returns the request the next message goes to under the
// priority policy, or nil when none may have one now.
func (c *Consumer) selectPullLocked(now time.Time) *pullRequest {
	switch c.cfg.PriorityPolicy {
	case PriorityPinnedClient:
		return c.selectPinnedLocked(now)
	case PriorityOverflow:
		q := &c.pulls
		for _, r := range q.waiting {
			if r.batch > 0 && c.overflowReady(r) {
				return r
			}
		}
		return nil
	}
	return c.pulls.front()
}

// overflowReady reports whether an overflow request may be served.
func (c *Consumer) overflowReady(r *pullRequest) bool {
	if r.minPending <= 0 && r.minAckPending <= 0 {
		return true
	}
	return r.minPending > 0 && int64(c.cur.pending()) >= r.minPending ||
		r.minAckPending > 0 && int64(c.acks.count()) >= r.minAckPending
}

// selectPinnedLocked serves the pinned client, pinning the oldest waiting
// request when there is no pin, and turns away requests with another pin.
func (c *Consumer) selectPinnedLocked(now time.Time) *pullRequest {
	c.expirePinLocked(now)
	p := &c.prio
	var chosen *pullRequest
	c.pulls.keep(func(r *pullRequest) bool {
		switch {
		case chosen != nil || r.batch <= 0:
			return r.batch > 0
		case p.pinID == "" && r.pinID == "":
			p.pinID, p.pinnedAt, p.renewed = nuid.Next(), now.UTC(), now
			r.pinID = p.pinID
			chosen = r
		case r.pinID == p.pinID && p.pinID != "":
			chosen = r
		case r.pinID != "":
			// A pin that lapsed or was replaced: the client starts over.
			c.send.Status(r.reply, c.pendingStatus(StatusWrongPinID, r))
			return false
		}
		return true
	})
	return chosen
}

// expirePinLocked drops a pin that nobody renewed in time.
func (c *Consumer) expirePinLocked(now time.Time) {
	p := &c.prio
	if p.pinID != "" && c.cfg.PriorityTimeout > 0 && now.Sub(p.renewed) >= c.cfg.PriorityTimeout {
		*p = priorityState{}
	}
}

// pinDeadlineLocked is when the pin lapses while requests wait for it,
// zero otherwise: the consumer must look again then.
func (c *Consumer) pinDeadlineLocked() time.Time {
	p := &c.prio
	if p.pinID == "" || c.pulls.len() == 0 || c.cfg.PriorityTimeout <= 0 {
		return time.Time{}
	}
	return p.renewed.Add(c.cfg.PriorityTimeout)
}

// pinFor is the pin id to deliver with a message for request r.
func (c *Consumer) pinFor(r *pullRequest) string {
	if r == nil || c.cfg.PriorityPolicy != PriorityPinnedClient {
		return ""
	}
	return c.prio.pinID
}

// priorityInfoLocked is the state of the consumer's priority groups.
func (c *Consumer) priorityInfoLocked() []PriorityGroupState {
	if len(c.cfg.PriorityGroups) == 0 {
		return nil
	}
	c.expirePinLocked(c.st.store.now())
	return []PriorityGroupState{{Group: c.cfg.PriorityGroups[0], PinnedClientID: c.prio.pinID, PinnedTS: c.prio.pinnedAt}}
}

// ValidGroupName reports whether s may name a priority group.
func ValidGroupName(s string) bool { return validGroupName.MatchString(s) }

// UnpinConsumer drops the pin of a consumer's priority group: the next
// request without a pin id gets a new one.
func (st *Stream) UnpinConsumer(name, group string) error {
	c, err := st.Consumer(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if !slices.Contains(c.cfg.PriorityGroups, group) {
		c.mu.Unlock()
		return ErrInvalidPriorityGroup
	}
	c.prio = priorityState{}
	c.mu.Unlock()
	c.kick()
	return nil
}
