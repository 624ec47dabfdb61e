package monitor

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/midgemq/midge/broker"
)

// Connz is /connz: connections, paged and sorted.
type Connz struct {
	ID       string             `json:"server_id"`
	Now      time.Time          `json:"now"`
	NumConns int                `json:"num_connections"`
	Total    int                `json:"total"`
	Offset   int                `json:"offset"`
	Limit    int                `json:"limit"`
	Conns    []*broker.ConnInfo `json:"connections"`
}

// DefaultConnListSize is /connz's page size unless limit says otherwise.
const DefaultConnListSize = 1024

// connState selects open, closed or all connections.
type connState uint8

const (
	connOpen connState = iota
	connClosed
	connAll
)

// connzOptions are /connz's query parameters.
type connzOptions struct {
	sort          string
	subs          broker.SubsMode
	offset, limit int
	cid           uint64
	state         connState
	account       string
}

// connSorts maps each sort option to its order. As in the reference
// server, only cid, start and uptime sort ascending; ties go by cid.
var connSorts = map[string]func(a, b *broker.ConnInfo, now time.Time) int{
	"cid":        func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(a.Cid, b.Cid) },
	"start":      func(a, b *broker.ConnInfo, _ time.Time) int { return a.Start.Compare(b.Start) },
	"subs":       func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(b.NumSubs, a.NumSubs) },
	"pending":    func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(b.Pending, a.Pending) },
	"msgs_to":    func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(b.OutMsgs, a.OutMsgs) },
	"msgs_from":  func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(b.InMsgs, a.InMsgs) },
	"bytes_to":   func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(b.OutBytes, a.OutBytes) },
	"bytes_from": func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(b.InBytes, a.InBytes) },
	"last":       func(a, b *broker.ConnInfo, _ time.Time) int { return b.LastActivity.Compare(a.LastActivity) },
	"idle": func(a, b *broker.ConnInfo, now time.Time) int {
		return cmp.Compare(idleOf(b, now), idleOf(a, now))
	},
	"uptime": func(a, b *broker.ConnInfo, now time.Time) int {
		return cmp.Compare(uptimeOf(a, now), uptimeOf(b, now))
	},
	"stop":   func(a, b *broker.ConnInfo, _ time.Time) int { return b.Stop.Compare(*a.Stop) },
	"reason": func(a, b *broker.ConnInfo, _ time.Time) int { return strings.Compare(a.Reason, b.Reason) },
	"rtt":    func(a, b *broker.ConnInfo, _ time.Time) int { return cmp.Compare(b.RoundTrip(), a.RoundTrip()) },
}

// endOf is when a connection's clock stops: now, or when it closed.
func endOf(ci *broker.ConnInfo, now time.Time) time.Time {
	if ci.Stop != nil {
		return *ci.Stop
	}
	return now
}

func uptimeOf(ci *broker.ConnInfo, now time.Time) time.Duration { return endOf(ci, now).Sub(ci.Start) }
func idleOf(ci *broker.ConnInfo, now time.Time) time.Duration {
	return endOf(ci, now).Sub(ci.LastActivity)
}

func parseConnzOptions(r *http.Request) (connzOptions, error) {
	q := query{r: r}
	o := connzOptions{
		sort:    q.str("sort"),
		offset:  q.integer("offset"),
		limit:   q.integer("limit"),
		cid:     q.uint64("cid"),
		account: q.str("acc"),
	}
	if strings.EqualFold(q.str("subs"), "detail") {
		o.subs = broker.SubsDetail
	} else if q.boolean("subs") {
		o.subs = broker.SubsSubjects
	}
	if q.err != nil {
		return o, q.err
	}
	switch state := q.str("state"); strings.ToLower(state) {
	case "", "open":
		o.state = connOpen
	case "closed":
		o.state = connClosed
	case "all", "any":
		o.state = connAll
	default:
		return o, fmt.Errorf("Error decoding state for %s", state)
	}
	if o.sort == "" {
		o.sort = "cid"
	}
	if _, ok := connSorts[o.sort]; !ok {
		return o, fmt.Errorf("invalid sorting option: %s", o.sort)
	}
	if (o.sort == "stop" || o.sort == "reason") && o.state != connClosed {
		return o, fmt.Errorf("sort by %s only valid on closed connections", o.sort)
	}
	if o.limit <= 0 {
		o.limit = DefaultConnListSize
	}
	if o.cid > 0 {
		o.limit = 1
	}
	return o, nil
}

func (s *Server) handleConnz(w http.ResponseWriter, r *http.Request) {
	opts, err := parseConnzOptions(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.connz(opts))
}

// connz gathers, sorts and pages the connections the options select.
func (s *Server) connz(o connzOptions) *Connz {
	now := time.Now().UTC()
	var conns []*broker.ConnInfo
	if o.state != connClosed {
		conns = s.broker.OpenConns(o.cid, o.account, o.subs)
	}
	if o.state != connOpen && !(o.cid != 0 && len(conns) > 0) {
		for _, ci := range s.broker.ClosedConns(o.subs) {
			if o.cid != 0 && ci.Cid != o.cid {
				continue
			}
			if o.account != "" && o.account != broker.GlobalAccountName {
				continue
			}
			conns = append(conns, ci)
		}
	}
	order := connSorts[o.sort]
	slices.SortFunc(conns, func(a, b *broker.ConnInfo) int {
		if c := order(a, b, now); c != 0 {
			return c
		}
		return cmp.Compare(a.Cid, b.Cid)
	})
	from, to := page(len(conns), o.offset, o.limit)
	return &Connz{
		ID:       s.broker.ID(),
		Now:      now,
		NumConns: to - from,
		Total:    len(conns),
		Offset:   max(o.offset, 0),
		Limit:    o.limit,
		Conns:    append([]*broker.ConnInfo{}, conns[from:to]...), // [] rather than null when empty
	}
}
