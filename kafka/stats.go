package kafka

import "sync/atomic"

// counters are the listener's running totals; Stats copies them.
type counters struct {
	connections      atomic.Int64
	totalConnections atomic.Uint64
	requests         atomic.Uint64
	unsupported      atomic.Uint64
	malformed        atomic.Uint64
	authFailures     atomic.Uint64
	bytesIn          atomic.Uint64
	bytesOut         atomic.Uint64
	recordsIn        atomic.Uint64
	recordBytesIn    atomic.Uint64
	recordsOut       atomic.Uint64
	recordBytesOut   atomic.Uint64
	produceErrors    atomic.Uint64
}

// Stats is a snapshot of the listener's counters, for /varz and /metrics.
// Record bytes count keys, values and headers.
type Stats struct {
	Connections      int64  `json:"connections"`
	TotalConnections uint64 `json:"total_connections"`
	Requests         uint64 `json:"requests"`
	Unsupported      uint64 `json:"unsupported_requests"` // answered UNSUPPORTED_VERSION or closed
	Malformed        uint64 `json:"malformed_requests"`   // connections closed for an undecodable frame
	AuthFailures     uint64 `json:"auth_failures"`
	BytesIn          uint64 `json:"in_bytes"`
	BytesOut         uint64 `json:"out_bytes"`
	RecordsIn        uint64 `json:"in_records"`
	RecordBytesIn    uint64 `json:"in_record_bytes"`
	RecordsOut       uint64 `json:"out_records"`
	RecordBytesOut   uint64 `json:"out_record_bytes"`
	ProduceErrors    uint64 `json:"produce_errors"` // partitions answered with an error
	Groups           int    `json:"groups"`         // consumer groups with members
}

// Stats returns the listener's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Connections:      s.stats.connections.Load(),
		TotalConnections: s.stats.totalConnections.Load(),
		Requests:         s.stats.requests.Load(),
		Unsupported:      s.stats.unsupported.Load(),
		Malformed:        s.stats.malformed.Load(),
		AuthFailures:     s.stats.authFailures.Load(),
		BytesIn:          s.stats.bytesIn.Load(),
		BytesOut:         s.stats.bytesOut.Load(),
		RecordsIn:        s.stats.recordsIn.Load(),
		RecordBytesIn:    s.stats.recordBytesIn.Load(),
		RecordsOut:       s.stats.recordsOut.Load(),
		RecordBytesOut:   s.stats.recordBytesOut.Load(),
		ProduceErrors:    s.stats.produceErrors.Load(),
	}
	s.mu.Lock()
	accounts := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accounts = append(accounts, a)
	}
	s.mu.Unlock()
	for _, a := range accounts {
		st.Groups += a.groups.activeGroups()
	}
	return st
}
