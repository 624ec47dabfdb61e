package jetstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Storage limits, as the reference server applies them. A store (one
// account's JetStream) may have Limits; every store of a server may share
// a Pool (the server's max_memory_store and max_file_store).
//
//   - A stream with max_bytes reserves them when it is created: a create
//     (or an update) whose reservation does not fit what the account, or
//     the server, has left is refused. A stream without max_bytes reserves
//     nothing but needs room for one byte.
//   - A publish that would take the bytes the account's streams hold past
//     its limit is refused, and so is one that would take the server's
//     past the pool's.
//   - The account's stream count, its consumers per stream, a consumer's
//     max_ack_pending, and the max_bytes of each stream may be bounded too.
//
// Bytes are counted as stream state counts them (msgSize), once durable:
// each stream adds what it holds to its store's and the pool's usage when a
// write becomes durable (commitWritten) or the stream is loaded.

// Limits bound one store. Sizes and counts of 0 or less mean no limit.
type Limits struct {
	MaxMemory, MaxFile int64 // bytes held by memory and by file streams
	MaxStreams         int
	MaxConsumers       int // consumers per stream
	MaxAckPending      int // a consumer's max_ack_pending
	// MemoryMaxStreamBytes and FileMaxStreamBytes bound one stream's
	// max_bytes; MaxBytesRequired refuses streams without max_bytes.
	MemoryMaxStreamBytes, FileMaxStreamBytes int64
	MaxBytesRequired                         bool
}

// Pool bounds the bytes of every store that shares it. Its fields are set
// before it is shared.
type Pool struct {
	MaxMemory, MaxFile int64 // 0 or less: no limit

	usage usage
}

// usage is the bytes held and reserved, for memory ([0]) and file ([1]).
type usage struct {
	used [2]atomic.Int64
	mu   sync.Mutex
	res  [2]int64 // reserved by streams with max_bytes
}

func kindOf(storage string) int {
	if storage == StorageMemory {
		return 0
	}
	return 1
}

// Errors of the limits.
var (
	ErrMaxStreams          = errors.New("maximum number of streams reached")
	ErrInsufficientStorage = errors.New("insufficient storage resources available")
	ErrInsufficientMemory  = errors.New("insufficient memory resources available")
	ErrMaxBytesRequired    = errors.New("account requires a stream config to have max bytes set")
	ErrStreamMaxBytes      = errors.New("stream max bytes exceeds account limit max stream bytes")
	// ErrAccountResources refuses a publish past the account's limit;
	// ErrInsufficientResources one past the server's.
	ErrAccountResources      = errors.New("resource limits exceeded for account")
	ErrInsufficientResources = errors.New("insufficient resources")
)

// MaxAckPendingError refuses a consumer asking for more pending acks than
// the account allows.
type MaxAckPendingError struct{ Limit int }

func (e *MaxAckPendingError) Error() string {
	return fmt.Sprintf("consumer max ack pending exceeds system limit of %d", e.Limit)
}

func insufficient(kind int) error {
	if kind == 0 {
		return ErrInsufficientMemory
	}
	return ErrInsufficientStorage
}

// reservation is what a stream configuration reserves.
func reservation(c *StreamConfig) int64 { return max(c.MaxBytes, 0) }

// reserveFor checks that cfg's reservation fits what the store and the
// pool have left after giving back old (an update's previous reservation)
// and takes it. Store.mu held.
func (s *Store) reserveFor(cfg *StreamConfig, old int64) error {
	k := kindOf(cfg.Storage)
	want := reservation(cfg)
	need := max(want, 1) // a stream without max_bytes needs room for a byte
	lim := s.opts.Limits
	if max := [2]int64{lim.MaxMemory, lim.MaxFile}[k]; max > 0 && s.usage.reservedPlus(k, need-old) > max {
		return insufficient(k)
	}
	if p := s.opts.Pool; p != nil {
		p.usage.mu.Lock()
		defer p.usage.mu.Unlock()
		if max := [2]int64{p.MaxMemory, p.MaxFile}[k]; max > 0 && p.usage.res[k]+need-old > max {
			return insufficient(k)
		}
		p.usage.res[k] += want - old
	}
	s.usage.mu.Lock()
	s.usage.res[k] += want - old
	s.usage.mu.Unlock()
	return nil
}

// reserveStored takes a stored stream's reservation without checking it.
func (s *Store) reserveStored(cfg *StreamConfig) {
	k, r := kindOf(cfg.Storage), reservation(cfg)
	s.usage.mu.Lock()
	s.usage.res[k] += r
	s.usage.mu.Unlock()
	if p := s.opts.Pool; p != nil {
		p.usage.mu.Lock()
		p.usage.res[k] += r
		p.usage.mu.Unlock()
	}
}

// release gives back a deleted stream's reservation.
func (s *Store) release(cfg *StreamConfig) {
	k, r := kindOf(cfg.Storage), reservation(cfg)
	s.usage.mu.Lock()
	s.usage.res[k] -= r
	s.usage.mu.Unlock()
	if p := s.opts.Pool; p != nil {
		p.usage.mu.Lock()
		p.usage.res[k] -= r
		p.usage.mu.Unlock()
	}
}

func (u *usage) reservedPlus(k int, n int64) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.res[k] + n
}

// checkStreamLimits applies the limits that do not involve bytes to a new
// stream (count: streams the store has) or an update (count < 0).
func (s *Store) checkStreamLimits(cfg *StreamConfig, count int) error {
	lim := s.opts.Limits
	if count >= 0 && lim.MaxStreams > 0 && count >= lim.MaxStreams {
		return ErrMaxStreams
	}
	if lim.MaxConsumers > 0 && cfg.MaxConsumers > lim.MaxConsumers {
		return ErrMaxConsumers
	}
	if lim.MaxBytesRequired && cfg.MaxBytes <= 0 {
		return ErrMaxBytesRequired
	}
	streamMax := lim.FileMaxStreamBytes
	if cfg.Storage == StorageMemory {
		streamMax = lim.MemoryMaxStreamBytes
	}
	if streamMax > 0 && cfg.MaxBytes > streamMax {
		return ErrStreamMaxBytes
	}
	return nil
}

// checkConsumerLimits applies the store's limits to a new consumer of st.
func (st *Stream) checkConsumerLimitsLocked(cfg *ConsumerConfig) error {
	lim := st.store.opts.Limits
	if lim.MaxConsumers > 0 && len(st.consumers) >= lim.MaxConsumers {
		return ErrMaxConsumers
	}
	if lim.MaxAckPending > 0 && cfg.MaxAckPending > lim.MaxAckPending {
		return &MaxAckPendingError{Limit: lim.MaxAckPending}
	}
	return nil
}

// admitLocked refuses a message of size bytes that would take the
// account's or the server's streams past their limit. Bytes applied but
// not yet durable count as held.
func (st *Stream) admitLocked(m *InMsg) error {
	s := st.store
	lim := s.opts.Limits
	if lim.MaxMemory <= 0 && lim.MaxFile <= 0 && s.opts.Pool == nil {
		return nil
	}
	k := kindOf(st.cfg.Storage)
	size := int64(30 + len(m.Subject) + len(m.Data)) // msgSize's formula
	if len(m.Header) > 0 {
		size += int64(4 + len(m.Header))
	}
	inFlight := int64(st.state.bytes) - st.counted + size
	if max := [2]int64{lim.MaxMemory, lim.MaxFile}[k]; max > 0 && s.usage.used[k].Load()+inFlight > max {
		return ErrAccountResources
	}
	if p := s.opts.Pool; p != nil {
		if max := [2]int64{p.MaxMemory, p.MaxFile}[k]; max > 0 && p.usage.used[k].Load()+inFlight > max {
			return ErrInsufficientResources
		}
	}
	return nil
}

// countUsageLocked brings the store's and the pool's usage up to the bytes the
// stream shows (after a durable write or a load).
func (st *Stream) countUsageLocked() {
	delta := int64(st.shown.bytes) - st.counted
	st.addUsage(delta)
}

// uncount takes a deleted stream's bytes out of the usage.
func (st *Stream) uncount() {
	st.mu.Lock()
	st.addUsage(-st.counted)
	st.mu.Unlock()
}

func (st *Stream) addUsage(delta int64) {
	if delta == 0 {
		return
	}
	k := kindOf(st.cfg.Storage)
	st.counted += delta
	st.store.usage.used[k].Add(delta)
	if p := st.store.opts.Pool; p != nil {
		p.usage.used[k].Add(delta)
	}
}

// Reserved returns the bytes reserved by memory and by file streams with
// max_bytes.
func (s *Store) Reserved() (memory, file uint64) {
	s.usage.mu.Lock()
	defer s.usage.mu.Unlock()
	return uint64(max(s.usage.res[0], 0)), uint64(max(s.usage.res[1], 0))
}

// Limits returns the store's limits.
func (s *Store) Limits() Limits { return s.opts.Limits }
