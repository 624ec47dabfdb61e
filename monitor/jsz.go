package monitor

import (
	"net/http"
	"path/filepath"
	"time"

	"github.com/midgemq/midge/jetstore"
)

// JetStreamConfig is the JetStream configuration /varz and /jsz show.
// MaxMemory and MaxStore are the server-wide limits (jetstream {
// max_memory_store, max_file_store }), 0 without them.
type JetStreamConfig struct {
	MaxMemory    int64         `json:"max_memory"`
	MaxStore     int64         `json:"max_storage"`
	StoreDir     string        `json:"store_dir,omitempty"`
	SyncInterval time.Duration `json:"sync_interval,omitempty"`
	SyncAlways   bool          `json:"sync_always,omitempty"`
}

// JetStreamStats are JetStream's usage figures.
type JetStreamStats struct {
	Memory          uint64            `json:"memory"`
	Store           uint64            `json:"storage"`
	ReservedMemory  uint64            `json:"reserved_memory"`
	ReservedStorage uint64            `json:"reserved_storage"`
	Accounts        int               `json:"accounts"`
	HAAssets        int               `json:"ha_assets"`
	API             JetStreamAPIStats `json:"api"`
}

// JetStreamAPIStats count JetStream API requests.
type JetStreamAPIStats struct {
	Level  int    `json:"level"`
	Total  uint64 `json:"total"`
	Errors uint64 `json:"errors"`
}

// JSInfo is /jsz.
type JSInfo struct {
	JetStreamStats
	ID             string           `json:"server_id"`
	Now            time.Time        `json:"now"`
	Disabled       bool             `json:"disabled,omitempty"`
	Config         JetStreamConfig  `json:"config"`
	Limits         *struct{}        `json:"limits,omitempty"`
	Streams        int              `json:"streams"`
	Consumers      int              `json:"consumers"`
	Messages       uint64           `json:"messages"`
	Bytes          uint64           `json:"bytes"`
	MetaCluster    *MetaCluster     `json:"meta_cluster,omitempty"`
	AccountDetails []*AccountDetail `json:"account_details,omitempty"`
	Total          int              `json:"total"`
}

// AccountDetail is one account's JetStream in /jsz.
type AccountDetail struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	JetStreamStats
	Streams []StreamDetail `json:"stream_detail,omitempty"`
}

// StreamDetail is one stream in /jsz?streams=1.
type StreamDetail struct {
	Name      string                   `json:"name"`
	Created   time.Time                `json:"created"`
	Config    *jetstore.StreamConfig   `json:"config,omitempty"`
	State     jetstore.StreamState     `json:"state"`
	Consumers []*jetstore.ConsumerInfo `json:"consumer_detail,omitempty"`
}

// jszOptions are /jsz's query parameters.
type jszOptions struct {
	account                              string
	accounts, streams, consumers, config bool
	offset, limit                        int
}

func (s *Server) handleJsz(w http.ResponseWriter, r *http.Request) {
	q := query{r: r}
	o := jszOptions{
		account:   q.str("acc"),
		accounts:  q.boolean("accounts"),
		streams:   q.boolean("streams"),
		consumers: q.boolean("consumers"),
		config:    q.boolean("config"),
		offset:    q.integer("offset"),
		limit:     q.integer("limit"),
	}
	if q.err != nil {
		badRequest(w, q.err)
		return
	}
	writeJSON(w, http.StatusOK, s.jsz(o))
}

func (s *Server) jetStreamConfig() JetStreamConfig {
	return JetStreamConfig{
		MaxMemory:    s.opts().JetStreamMaxMemory,
		MaxStore:     s.opts().JetStreamMaxFile,
		StoreDir:     filepath.Join(s.opts().StoreDir, "jetstream"),
		SyncInterval: s.opts().SyncInterval,
		SyncAlways:   s.opts().SyncInterval <= 0,
	}
}

// jetStreamStats sums the usage and API counters of every account.
func (s *Server) jetStreamStats() JetStreamStats {
	var st JetStreamStats
	for _, ja := range s.jetStream() {
		a := ja.stats()
		st.API.Level = max(st.API.Level, a.API.Level)
		st.Memory += a.Memory
		st.Store += a.Store
		st.API.Total += a.API.Total
		st.API.Errors += a.API.Errors
		st.Accounts++
	}
	return st
}

func (ja *JetStreamAccount) stats() JetStreamStats {
	mem, file := ja.Store.Usage()
	return JetStreamStats{
		Memory: mem,
		Store:  file,
		API: JetStreamAPIStats{
			Level:  ja.APILevel,
			Total:  ja.APIRequests,
			Errors: ja.APIErrors,
		},
	}
}

func (s *Server) jsz(o jszOptions) *JSInfo {
	info := &JSInfo{ID: s.broker.ID(), Now: time.Now().UTC()}
	accounts := s.jetStream()
	if len(accounts) == 0 {
		info.Disabled = true
		return info
	}
	if o.consumers {
		o.streams = true
	}
	if o.streams && o.account == "" {
		o.accounts = true
	}
	if o.limit <= 0 {
		o.limit = 1024
	}
	info.JetStreamStats = s.jetStreamStats()
	info.Config = s.jetStreamConfig()
	info.Limits = &struct{}{}
	info.Total = len(accounts)
	if c := s.src.Cluster(); c != nil {
		info.MetaCluster = c.Meta
	}
	for _, ja := range accounts {
		for _, st := range ja.Store.Streams() {
			state := st.State("", false)
			info.Streams++
			info.Consumers += st.NumConsumers()
			info.Messages += state.Msgs
			info.Bytes += state.Bytes
		}
		if o.accounts || o.account == ja.Name {
			info.AccountDetails = append(info.AccountDetails, ja.detail(o))
		}
	}
	return info
}

// detail describes one account's JetStream, its streams paged by the
// options' offset and limit.
func (ja *JetStreamAccount) detail(o jszOptions) *AccountDetail {
	d := &AccountDetail{Name: ja.Name, ID: ja.Name, JetStreamStats: ja.stats()}
	if !o.streams {
		return d
	}
	streams := ja.Store.Streams()
	from, to := page(len(streams), o.offset, o.limit)
	for _, st := range streams[from:to] {
		sd := StreamDetail{Name: st.Name(), Created: st.Created().UTC(), State: st.State("", false)}
		sd.State.Consumers = st.NumConsumers()
		if o.config {
			cfg := st.Config()
			sd.Config = &cfg
		}
		if o.consumers {
			for _, c := range st.Consumers() {
				ci := c.Info()
				sd.Consumers = append(sd.Consumers, &ci)
			}
		}
		d.Streams = append(d.Streams, sd)
	}
	return d
}
