package multiraft

import (
	"errors"
	"fmt"
	"time"
)

// NodeID names a host (a midge process) in the cluster. 0 is not a valid ID.
type NodeID = uint64

// GroupID names one raft group; every host that carries a replica of the
// group uses the same ID. 0 is not a valid ID.
type GroupID = uint64

// Entry is one committed log entry handed to a StateMachine.
type Entry struct {
	Index uint64
	Term  uint64
	// Data is the proposal as given to Propose. It is only valid during the
	// Apply call; a state machine that keeps it must copy it.
	Data []byte
	// Result is set by the state machine; the host returns it to the caller
	// of Propose when the proposal was made on this host.
	Result any
}

// StateMachine is the replicated state a group drives. The host calls its
// methods from one goroutine at a time per group, in log order.
//
// A state machine is rebuilt on every open from its last snapshot plus the
// committed entries after it, so it need not be durable itself.
type StateMachine interface {
	// Apply applies committed entries, in index order, each exactly once per
	// incarnation of the state machine. An error stops the group (the
	// replica then needs to be rebuilt), because skipping an entry would
	// make this replica diverge from the others.
	Apply(entries []Entry) error
	// Snapshot returns the state as of the last applied entry. The host
	// persists it and compacts the log up to that entry.
	Snapshot() ([]byte, error)
	// Restore replaces the state with a snapshot's.
	Restore(data []byte) error
}

// Config tunes a Host. Zero fields take the defaults noted.
type Config struct {
	// ID is this host's node ID (required, non-zero).
	ID NodeID
	// Dir holds the log segments and group snapshots (required).
	Dir string
	// FS is the filesystem (default OSFS).
	FS FS
	// Transport carries frames between hosts (required).
	Transport Transport
	// TickInterval is the length of one raft tick (default 100ms).
	TickInterval time.Duration
	// HeartbeatTicks is the leader heartbeat period in ticks (default 2).
	HeartbeatTicks int
	// ElectionTicks is the election timeout in ticks (default 10). A node
	// that has not heard from a peer for this long counts it as down.
	ElectionTicks int
	// Workers is the number of goroutines that drive groups (default 2).
	Workers int
	// SnapshotEntries is how many applied entries trigger a state machine
	// snapshot and log compaction (default 10000).
	SnapshotEntries uint64
	// SegmentBytes is the size at which the log rolls to a new segment
	// (default 64 MiB).
	SegmentBytes int64
	// MaxSizePerMsg bounds the entry bytes of one append message
	// (default 1 MiB).
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds append messages in flight per follower
	// (default 256).
	MaxInflightMsgs int
	// DisableQuiescence keeps every group ticking and heartbeating even
	// when idle (for measurement and debugging).
	DisableQuiescence bool
	// OnFatal is called once when the log can no longer be written (a failed
	// write or fsync). The host then stops; the caller must reopen it.
	OnFatal func(error)
	// OnDamaged is called when a running replica finds that its log lost
	// entries it had acknowledged (raft detects this as a commit index past
	// its log). The replica has stopped and will not vote; the caller
	// should remove it from the group and rebuild it (see RecoveryReport).
	OnDamaged func(GroupID, error)
	// OnLeaderChange, when set, is told whenever a replica learns of a new
	// leader of its group (0 when it knows none) or of its own election;
	// isLeader says whether this host now leads. It runs on the worker
	// driving the group, so it must be quick (queue the work elsewhere).
	OnLeaderChange func(g GroupID, leader NodeID, isLeader bool)

	// unsafeNoSync makes the log skip fsync; only tests set it, to check
	// that the simulation notices lost writes.
	unsafeNoSync bool
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.ID == 0 {
		return out, errors.New("multiraft: Config.ID must be non-zero")
	}
	if out.Dir == "" {
		return out, errors.New("multiraft: Config.Dir is required")
	}
	if out.Transport == nil {
		return out, errors.New("multiraft: Config.Transport is required")
	}
	if out.FS == nil {
		out.FS = OSFS{}
	}
	if out.TickInterval <= 0 {
		out.TickInterval = 100 * time.Millisecond
	}
	if out.HeartbeatTicks <= 0 {
		out.HeartbeatTicks = 2
	}
	if out.ElectionTicks <= 0 {
		out.ElectionTicks = 10
	}
	if out.ElectionTicks <= out.HeartbeatTicks {
		return out, fmt.Errorf("multiraft: ElectionTicks (%d) must exceed HeartbeatTicks (%d)", out.ElectionTicks, out.HeartbeatTicks)
	}
	if out.Workers <= 0 {
		out.Workers = 2
	}
	if out.SnapshotEntries == 0 {
		out.SnapshotEntries = 10000
	}
	if out.SegmentBytes <= 0 {
		out.SegmentBytes = 64 << 20
	}
	if out.MaxSizePerMsg == 0 {
		out.MaxSizePerMsg = 1 << 20
	}
	if out.MaxInflightMsgs <= 0 {
		out.MaxInflightMsgs = 256
	}
	return out, nil
}

var (
	// ErrNotLeader is returned for a proposal or read on a replica that is
	// not the group's leader. NotLeaderError carries the known leader.
	ErrNotLeader = errors.New("multiraft: not the leader")
	// ErrDropped is returned when a proposal was accepted by a leader that
	// lost its leadership before the entry was committed; it was not applied.
	ErrDropped = errors.New("multiraft: proposal dropped by a leader change")
	// ErrStopped is returned when the group or host has stopped.
	ErrStopped = errors.New("multiraft: stopped")
	// ErrGroupExists is returned when creating a group the host already has.
	ErrGroupExists = errors.New("multiraft: group exists")
	// ErrNoGroup is returned for a group the host does not have.
	ErrNoGroup = errors.New("multiraft: no such group")
	// ErrDamaged is wrapped by the error recovery records for a replica
	// whose log failed verification.
	ErrDamaged = errors.New("multiraft: replica damaged")
)

// NotLeaderError says which node leads the group, as far as this replica
// knows (0 when it knows none).
type NotLeaderError struct {
	Group  GroupID
	Leader NodeID
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("multiraft: group %d: not the leader (leader %d)", e.Group, e.Leader)
}

// Unwrap makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }
