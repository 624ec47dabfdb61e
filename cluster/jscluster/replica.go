package jscluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/jetstore"
)

// replica is this server's replica of one replicated stream: the state
// machine of the stream's raft group, over a local jetstore stream.
//
// The replicated state is small — the last sequence the group assigned,
// the configuration, the durable consumers and their last exported state —
// and is what a raft snapshot holds. The messages live in the local
// jetstore stream, which the replica keeps equal to what the group
// committed:
//
//   - synced: every committed entry is applied to the local stream as it
//     comes (the normal case);
//   - behind: the local stream misses messages the group committed (a
//     replica that was installed from a snapshot, restarted after losing
//     the unsynced tail of its blocks beyond what the raft log still
//     holds, or found a gap). Entries are buffered while a catch-up reads
//     the missing messages and the deletions from a peer (catchup.go),
//     then replayed;
//   - damaged: the local blocks failed their checksums (or the replica
//     found its state inconsistent in a way a catch-up cannot mend); it is
//     rebuilt from its peers (repair.go).
//
// Every entry's effect is idempotent (messages carry their sequences,
// deletes and purges their bounds), so replaying the raft log over a
// local stream that already holds part of it converges to the same state.
type replica struct {
	c       *Cluster
	gid     uint64
	account string
	name    string
	store   *jetstore.Store

	group atomic.Pointer[multiraft.Group]
	// leadMu serialises taking and giving up leadership (leadership.go).
	leadMu sync.Mutex

	mu        sync.Mutex
	st        *jetstore.Stream
	lastSeq   uint64
	config    jetstore.StreamConfig
	created   time.Time
	consumers map[string]*consumerRec
	mode      replicaMode
	damage    error
	buffered  [][]byte // entries applied while behind, in order
	bufBytes  int
	overflow  bool   // the buffer was dropped: catch up to target again
	target    uint64 // what a catch-up must reach before replaying the buffer
	catching  bool
	seq       *jetstore.Sequencer // while leading
	lead      *leader             // while leading
	stopped   bool
}

type replicaMode int

const (
	modeSynced replicaMode = iota
	modeBehind
	modeDamaged
)

func (m replicaMode) String() string {
	return [...]string{"synced", "behind", "damaged"}[m]
}

// consumerRec is a replicated consumer.
type consumerRec struct {
	Config  jetstore.ConsumerConfig `json:"config"`
	Created time.Time               `json:"created"`
	State   []byte                  `json:"state,omitempty"`
}

// replicaSnapshot is what a raft snapshot of the group holds.
type replicaSnapshot struct {
	LastSeq   uint64                  `json:"last_seq"`
	Config    jetstore.StreamConfig   `json:"config"`
	Created   time.Time               `json:"created"`
	Consumers map[string]*consumerRec `json:"consumers,omitempty"`
}

// maxBuffered bounds the entries a replica that is behind keeps in memory;
// past it they are dropped and the catch-up goes further instead.
const maxBuffered = 64 << 20

// errStale refuses a message entry that does not continue the group's
// sequence (its proposer's earlier entry was dropped); it changes nothing.
var errStale = errors.New("jscluster: entry does not continue the stream's sequence")

// msgsResult is the Result of an applied message entry.
type msgsResult struct{ first, last uint64 }

// Apply applies committed entries (multiraft.StateMachine).
func (r *replica) Apply(ents []multiraft.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range ents {
		e := &ents[i]
		if len(e.Data) == 0 {
			continue
		}
		res, err := r.applyLocked(e.Data)
		if err != nil {
			return err
		}
		e.Result = res
	}
	return nil
}

func (r *replica) applyLocked(data []byte) (any, error) {
	switch opKind(data[0]) {
	case opMsgs:
		first, msgs, err := decodeMsgs(data[1:])
		if err != nil {
			return nil, err
		}
		if first != r.lastSeq+1 {
			return errStale, nil
		}
		r.lastSeq = msgs[len(msgs)-1].Seq
		r.storeLocked(data, msgs)
		return msgsResult{first, r.lastSeq}, nil
	case opDelete, opPurge:
		return r.storeLocked(data, nil), nil
	case opConfig:
		var ce configEntry
		if err := json.Unmarshal(data[1:], &ce); err != nil {
			return nil, errBadEntry
		}
		return nil, r.applyConfigLocked(ce)
	case opConsumer:
		var ce consumerEntry
		if err := json.Unmarshal(data[1:], &ce); err != nil {
			return nil, errBadEntry
		}
		return r.applyConsumerLocked(ce), nil
	case opStates:
		var states map[string]json.RawMessage
		if err := json.Unmarshal(data[1:], &states); err != nil {
			return nil, errBadEntry
		}
		for name, s := range states {
			if rec := r.consumers[name]; rec != nil {
				rec.State = bytes.Clone(s)
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("%w: op %d", errBadEntry, data[0])
}

// storeLocked gives an entry's effect on the local stream (messages,
// deletes, purges) when the replica is synced, and buffers the entry when
// it is behind. msgs are the decoded messages of an opMsgs entry.
func (r *replica) storeLocked(data []byte, msgs []jetstore.ReplicatedMsg) any {
	switch r.mode {
	case modeDamaged:
		return nil // rebuilt from scratch
	case modeBehind:
		r.bufferLocked(data)
		return nil
	}
	res, err := r.effectLocked(data, msgs)
	switch {
	case err == nil:
	case errors.Is(err, jetstore.ErrSequenceGap):
		// The local stream lost messages the group committed: fetch them.
		r.behindLocked(r.st.LastSeq())
		r.bufferLocked(data)
	default:
		r.damagedLocked(fmt.Errorf("applying to the local stream: %w", err))
	}
	return res
}

// effectLocked applies an entry's effect to the local stream.
func (r *replica) effectLocked(data []byte, msgs []jetstore.ReplicatedMsg) (any, error) {
	switch opKind(data[0]) {
	case opMsgs:
		if msgs == nil {
			var err error
			if _, msgs, err = decodeMsgs(data[1:]); err != nil {
				return nil, err
			}
		}
		return nil, r.applyMsgsLocked(msgs)
	case opDelete:
		ranges, err := decodeDelete(data[1:])
		if err != nil {
			return nil, err
		}
		var n uint64
		r.withSeq(func() { n, err = r.st.DeleteReplicated(ranges) })
		return n, err
	case opPurge:
		req, upTo, err := decodePurge(data[1:])
		if err != nil {
			return nil, err
		}
		var n uint64
		r.withSeq(func() { n, err = r.st.PurgeReplicated(req, upTo) })
		return n, err
	}
	return nil, nil
}

func (r *replica) applyMsgsLocked(msgs []jetstore.ReplicatedMsg) error {
	var err error
	if r.seq != nil {
		_, err = r.seq.Apply(msgs)
	} else {
		_, err = r.st.ApplyReplicated(msgs, false)
	}
	return err
}

// withSeq runs fn under the leader's sequencer lock, if leading.
func (r *replica) withSeq(fn func()) {
	if r.seq != nil {
		r.seq.Locked(fn)
		return
	}
	fn()
}

func (r *replica) bufferLocked(data []byte) {
	if r.overflow {
		return
	}
	r.bufBytes += len(data)
	if r.bufBytes > maxBuffered {
		r.buffered, r.bufBytes, r.overflow = nil, 0, true
		return
	}
	r.buffered = append(r.buffered, bytes.Clone(data))
}

// behindLocked starts catching up to the group's state from what the local
// stream holds. target is the last sequence the local stream must reach
// before the buffered entries (those after target) can be replayed.
func (r *replica) behindLocked(target uint64) {
	if r.mode == modeDamaged {
		return
	}
	if r.mode != modeBehind {
		r.buffered, r.bufBytes, r.overflow = nil, 0, false
	}
	r.mode = modeBehind
	r.target = target
	if !r.catching && !r.stopped {
		r.catching = true
		r.c.wg.Add(1)
		go r.catchup()
	}
}

func (r *replica) damagedLocked(err error) {
	if r.mode == modeDamaged {
		return
	}
	r.c.log.Error("stream replica damaged; it will be rebuilt from its peers",
		"account", r.account, "stream", r.name, "group", r.gid, "error", err)
	r.mode, r.damage = modeDamaged, err
	r.buffered, r.bufBytes = nil, 0
	r.c.requestRepair(r.gid)
}

// Snapshot returns the replicated state (multiraft.StateMachine). The
// local stream is fsynced first: the raft log may be compacted up to here.
func (r *replica) Snapshot() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == modeSynced {
		if err := r.st.Sync(); err != nil {
			return nil, err
		}
	}
	return json.Marshal(replicaSnapshot{LastSeq: r.lastSeq, Config: r.config, Created: r.created, Consumers: r.consumers})
}

// Restore replaces the replicated state with a snapshot's
// (multiraft.StateMachine). At open it is this replica's own last
// snapshot: the local stream, fsynced when it was taken, holds at least
// as much unless it was damaged since. Otherwise it was sent by the
// leader, and the local stream catches up to it from a peer (messages and
// deletions alike).
func (r *replica) Restore(data []byte) error {
	var s replicaSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("jscluster: group %d: snapshot: %w", r.gid, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastSeq, r.config, r.created = s.LastSeq, s.Config, s.Created
	r.consumers = s.Consumers
	if r.consumers == nil {
		r.consumers = make(map[string]*consumerRec)
	}
	if r.mode == modeDamaged {
		return nil
	}
	if r.c.opening.Load() && r.st.LastSeq() >= s.LastSeq {
		return nil
	}
	r.mode = modeSynced // a snapshot replaces whatever was buffered
	r.behindLocked(s.LastSeq)
	return nil
}

func (r *replica) applyConfigLocked(ce configEntry) error {
	r.config = ce.Config
	if r.mode == modeDamaged {
		return nil
	}
	if _, err := r.store.UpdateStream(localConfig(ce.Config)); err != nil {
		r.c.log.Warn("applying a stream configuration locally", "stream", r.name, "error", err)
	}
	if r.lead != nil {
		r.lead.configChanged(ce.Reply)
	}
	return nil
}

func (r *replica) applyConsumerLocked(ce consumerEntry) any {
	if ce.Delete {
		delete(r.consumers, ce.Name)
		if r.lead != nil {
			if err := r.st.DeleteConsumer(ce.Name); err != nil && !errors.Is(err, jetstore.ErrConsumerNotFound) {
				return err
			}
		}
		return nil
	}
	rec := r.consumers[ce.Name]
	if rec == nil {
		rec = &consumerRec{Created: ce.Created}
		r.consumers[ce.Name] = rec
	}
	rec.Config = ce.Config
	if r.lead == nil {
		return nil
	}
	c, err := r.lead.startConsumer(ce.Name, rec, ce.Action)
	if err != nil {
		return err
	}
	return c
}

// localConfig is the configuration of the local copy of a replicated
// stream: the same, kept by one server.
func localConfig(cfg jetstore.StreamConfig) jetstore.StreamConfig {
	cfg.Replicas = 1
	return cfg
}

// status is the replica's view for monitoring and the stream info.
func (r *replica) status() (mode replicaMode, lastSeq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mode, r.lastSeq
}
