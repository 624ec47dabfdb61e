package monitor

import (
	"fmt"
	"net/http"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/sublist"
)

// SublistStats are an account's subscription figures. Matches and cache
// hits are not counted (that would put a shared counter on every publish):
// num_matches and cache_hit_rate stay 0.
type SublistStats struct {
	NumSubs      uint32  `json:"num_subscriptions"`
	NumCache     uint32  `json:"num_cache"`
	NumInserts   uint64  `json:"num_inserts"`
	NumRemoves   uint64  `json:"num_removes"`
	NumMatches   uint64  `json:"num_matches"`
	CacheHitRate float64 `json:"cache_hit_rate"`
	MaxFanout    uint32  `json:"max_fanout"`
	AvgFanout    float64 `json:"avg_fanout"`
}

func sublistStats(st sublist.Stats) *SublistStats {
	return &SublistStats{
		NumSubs:    uint32(st.Subscriptions),
		NumCache:   uint32(st.CachedResults),
		NumInserts: st.Inserts,
		NumRemoves: st.Removes,
		MaxFanout:  uint32(st.MaxFanout),
		AvgFanout:  st.AvgFanout,
	}
}

// add sums b into a; fan-out is the larger maximum and, for simplicity,
// the mean of the accounts' means.
func (a *SublistStats) add(b *SublistStats, accounts int) {
	a.NumSubs += b.NumSubs
	a.NumCache += b.NumCache
	a.NumInserts += b.NumInserts
	a.NumRemoves += b.NumRemoves
	a.MaxFanout = max(a.MaxFanout, b.MaxFanout)
	a.AvgFanout += (b.AvgFanout - a.AvgFanout) / float64(accounts)
}

// Subsz is /subsz: subscription figures and, with subs=1, the client
// subscriptions (the server's internal ones are not listed).
type Subsz struct {
	ID  string    `json:"server_id"`
	Now time.Time `json:"now"`
	*SublistStats
	Total  int                `json:"total"`
	Offset int                `json:"offset"`
	Limit  int                `json:"limit"`
	Subs   []broker.SubDetail `json:"subscriptions_list,omitempty"`
}

// DefaultSubListSize is /subsz's page size unless limit says otherwise.
const DefaultSubListSize = 1024

func (s *Server) handleSubsz(w http.ResponseWriter, r *http.Request) {
	q := query{r: r}
	list, offset, limit := q.boolean("subs"), q.integer("offset"), q.integer("limit")
	test, account := q.str("test"), q.str("acc")
	if q.err == nil && test != "" && !sublist.ValidLiteralSubject(test) {
		q.err = fmt.Errorf("invalid test subject, must be valid publish subject: %s", test)
	}
	if q.err != nil {
		badRequest(w, q.err)
		return
	}
	if limit <= 0 {
		limit = DefaultSubListSize
	}
	sz := &Subsz{ID: s.broker.ID(), Now: time.Now().UTC(), SublistStats: &SublistStats{},
		Offset: max(offset, 0), Limit: limit}
	n := 0
	for _, acc := range s.accountList() {
		if account == "" || acc.Name() == account {
			n++
			sz.SublistStats.add(sublistStats(acc.SublistStats()), n)
		}
	}
	if list {
		subs := s.broker.ClientSubscriptions(account, test)
		from, to := page(len(subs), offset, limit)
		sz.Total = len(subs)
		sz.Subs = subs[from:to]
	}
	writeJSON(w, http.StatusOK, sz)
}

// accountList is every account the server has, the global one included.
func (s *Server) accountList() []*broker.Account { return s.broker.Accounts() }

// Accountz is /accountz: the account names or, with acc=NAME, one account.
type Accountz struct {
	ID       string       `json:"server_id"`
	Now      time.Time    `json:"now"`
	Accounts []string     `json:"accounts,omitempty"`
	Account  *AccountInfo `json:"account_detail,omitempty"`
}

// AccountInfo is one account in /accountz.
type AccountInfo struct {
	AccountName string        `json:"account_name"`
	LastUpdate  time.Time     `json:"update_time,omitempty"`
	Expired     bool          `json:"expired"`
	Complete    bool          `json:"complete"`
	JetStream   bool          `json:"jetstream_enabled"`
	LeafCnt     int           `json:"leafnode_connections"`
	ClientCnt   int           `json:"client_connections"`
	SubCnt      uint32        `json:"subscriptions"`
	Sublist     *SublistStats `json:"sublist_stats,omitempty"`
}

func (s *Server) handleAccountz(w http.ResponseWriter, r *http.Request) {
	az := &Accountz{ID: s.broker.ID(), Now: time.Now().UTC()}
	name := r.URL.Query().Get("acc")
	if name == "" {
		az.Accounts = []string{}
		for _, acc := range s.accountList() {
			az.Accounts = append(az.Accounts, acc.Name())
		}
		writeJSON(w, http.StatusOK, az)
		return
	}
	for _, acc := range s.accountList() {
		if acc.Name() == name {
			az.Account = s.accountInfo(acc)
			writeJSON(w, http.StatusOK, az)
			return
		}
	}
	badRequest(w, fmt.Errorf("Account %s does not exist", name))
}

func (s *Server) accountInfo(acc *broker.Account) *AccountInfo {
	stats := sublistStats(acc.SublistStats())
	started, _ := s.startInfo()
	info := &AccountInfo{
		AccountName: acc.Name(),
		LastUpdate:  started.UTC(),
		Complete:    true,
		JetStream:   s.hasJetStream(acc.Name()),
		SubCnt:      stats.NumSubs,
		Sublist:     stats,
	}
	info.ClientCnt = s.broker.NumClientsIn(acc)
	return info
}

// hasJetStream reports whether the named account has JetStream.
func (s *Server) hasJetStream(account string) bool {
	for _, ja := range s.jetStream() {
		if ja.Name == account {
			return true
		}
	}
	return false
}
