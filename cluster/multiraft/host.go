package multiraft

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Host runs the raft replicas of one node: many groups sharing one log,
// one ticker, one worker pool and one connection per peer.
type Host struct {
	cfg     Config
	id      NodeID
	fs      FS
	logDir  string
	snapDir string
	newSM   func(GroupID) (StateMachine, error)

	mu      sync.Mutex // guards the fields below
	groups  map[GroupID]*group
	order   []*group // by ID, for deterministic iteration
	damaged map[GroupID]error
	tick    uint64
	peers   map[NodeID]*peerState

	livenessEpoch atomic.Uint64
	propSeq       atomic.Uint64

	ctlMu   sync.Mutex
	control map[NodeID]*frameBuilder // quiesce items waiting for a frame

	log *logWriter // owned by the committer

	drv      driver
	fatalMu  sync.Mutex
	fatalErr error
	report   RecoveryReport
	stats    hostStats
}

type peerState struct {
	lastHeard uint64
	lastSent  uint64
	live      bool
}

// driver decides where group runs and persistence batches execute: on
// goroutines (runtime.go) or in a caller-driven loop (Manual).
type driver interface {
	schedule(g *group)
	submit(j *job)
	stop()
}

// RecoveryReport says what Open found on disk.
type RecoveryReport struct {
	// Groups are the replicas recovered and running.
	Groups []GroupID
	// Damaged are replicas whose log or snapshot failed verification (a bad
	// checksum, a lost suffix, a hole) now or at an earlier open. They are
	// not started and do not vote. The caller must remove each from its
	// group's membership through the leader, drop it here (DropGroup) and
	// re-add it as a learner (JoinGroup), which rebuilds it from its peers.
	Damaged map[GroupID]error
	// TornBytes is the length of an unfinished batch cut from the log's
	// tail: writes whose fsync never returned, on which nothing depended.
	TornBytes int64
}

// Open recovers a host from cfg.Dir and starts it. newSM makes the state
// machine of each group, for recovered groups now and for groups created
// or joined later.
func Open(cfg Config, newSM func(GroupID) (StateMachine, error)) (*Host, error) {
	h, err := open(cfg, newSM)
	if err != nil {
		return nil, err
	}
	r := newRuntime(h)
	h.drv = r
	r.start()
	h.cfg.Transport.SetHandler(h.receive)
	for _, g := range h.order {
		h.schedule(g)
	}
	return h, nil
}

func open(cfg Config, newSM func(GroupID) (StateMachine, error)) (*Host, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.ID >= 1<<48 {
		return nil, errors.New("multiraft: Config.ID must be below 2^48")
	}
	h := &Host{
		cfg: c, id: c.ID, fs: c.FS, newSM: newSM,
		logDir: filepath.Join(c.Dir, "log"), snapDir: filepath.Join(c.Dir, "groups"),
		groups: make(map[GroupID]*group), peers: make(map[NodeID]*peerState),
		control: make(map[NodeID]*frameBuilder),
	}
	h.propSeq.Store(rand.Uint64())
	for _, d := range []string{c.Dir, h.logDir, h.snapDir} {
		if err := h.fs.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("multiraft: %w", err)
		}
	}
	if err := h.recover(); err != nil {
		return nil, err
	}
	return h, nil
}

// Report returns what Open found on disk.
func (h *Host) Report() RecoveryReport { return h.report }

// ID returns the host's node ID.
func (h *Host) ID() NodeID { return h.id }

func (h *Host) schedule(g *group) {
	if g.scheduled.CompareAndSwap(false, true) {
		h.drv.schedule(g)
	}
}

// runGroup is what a driver does with a scheduled group.
func (h *Host) runGroup(g *group) {
	g.scheduled.Store(false)
	if j := g.process(); j != nil {
		h.drv.submit(j)
	}
}

// commitBatch is what a driver does with a batch of jobs.
func (h *Host) commitBatch(jobs []*job) {
	if err := h.fatal(); err != nil {
		failDrops(jobs, err)
		return
	}
	if err := h.persist(jobs); err != nil {
		h.fail(err)
		failDrops(jobs, err)
		return
	}
	h.release(jobs)
	h.collectLog()
}

// maxSealedSegments is how many sealed log segments may be kept alive by
// groups that have not snapshotted past them before they are made to.
const maxSealedSegments = 4

func (h *Host) collectLog() {
	if len(h.log.sealed) == 0 {
		return
	}
	pinned, err := h.log.collect(func(g GroupID) (uint64, bool) {
		h.mu.Lock()
		gr := h.groups[g]
		h.mu.Unlock()
		if gr == nil {
			return 0, false
		}
		return gr.snapIndex.Load(), true
	})
	if err != nil {
		h.fail(err)
		return
	}
	// Snapshots cost a state machine copy; force them only when the log
	// holds several sealed segments that lagging snapshots keep alive.
	if len(h.log.sealed) <= maxSealedSegments {
		return
	}
	for _, id := range pinned {
		if g := h.lookup(id); g != nil {
			g.push(func(in *inputs) {
				in.ops = append(in.ops, func(g *group) { g.forceSnap = true; g.maybeSnapshot() })
			})
		}
	}
}

// fail stops the host after a write or fsync error (invariant 5).
func (h *Host) fail(err error) {
	h.fatalMu.Lock()
	first := h.fatalErr == nil
	if first {
		h.fatalErr = err
	}
	h.fatalMu.Unlock()
	if first && h.cfg.OnFatal != nil {
		h.cfg.OnFatal(err)
	}
}

func (h *Host) fatal() error {
	h.fatalMu.Lock()
	defer h.fatalMu.Unlock()
	return h.fatalErr
}

func (h *Host) lookup(id GroupID) *group {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.groups[id]
}

// startGroup builds a replica from its snapshot, log entries and hard
// state and registers it.
func (h *Host) startGroup(id GroupID, snap *pb.Snapshot, ents []*pb.Entry, hs *pb.HardState) (*group, error) {
	sm, err := h.newSM(id)
	if err != nil {
		return nil, fmt.Errorf("multiraft: group %d: state machine: %w", id, err)
	}
	store := raft.NewMemoryStorage()
	if err := store.ApplySnapshot(snap); err != nil {
		return nil, err
	}
	if err := store.Append(ents); err != nil {
		return nil, err
	}
	if hs != nil {
		if err := store.SetHardState(hs); err != nil {
			return nil, err
		}
	}
	md := snap.GetMetadata()
	// A founding snapshot (foundingIndex, no data) is the empty state a
	// new state machine already has.
	if md.GetIndex() > 0 && !(md.GetIndex() == foundingIndex && len(snap.GetData()) == 0) {
		if err := sm.Restore(snap.GetData()); err != nil {
			return nil, fmt.Errorf("multiraft: group %d: restore snapshot: %w", id, err)
		}
	}
	g := &group{
		h: h, id: id, store: store, sm: sm,
		confState: md.GetConfState(), applied: md.GetIndex(),
		waiters: map[uint64]*proposal{}, byIndex: map[uint64]*proposal{},
		reads: map[uint64]*readRequest{}, leaderChanged: make(chan struct{}),
		epoch: h.livenessEpoch.Load(),
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        h.id,
		ElectionTick:              h.cfg.ElectionTicks,
		HeartbeatTick:             h.cfg.HeartbeatTicks,
		Storage:                   groupStorage{MemoryStorage: store, g: g},
		Applied:                   md.GetIndex(),
		MaxSizePerMsg:             h.cfg.MaxSizePerMsg,
		MaxInflightMsgs:           h.cfg.MaxInflightMsgs,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		DisableProposalForwarding: true,
		StepDownOnRemoval:         true,
		Logger:                    quietLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("multiraft: group %d: %w", id, err)
	}
	g.rn = rn
	g.snapIndex.Store(md.GetIndex())
	g.term = hs.GetTerm()
	h.notePeers(g.confState)
	h.mu.Lock()
	h.groups[id] = g
	i, _ := slices.BinarySearchFunc(h.order, id, func(a *group, id GroupID) int { return cmpID(a.id, id) })
	h.order = slices.Insert(slices.Clone(h.order), i, g) // copy: readers iterate without the lock
	h.mu.Unlock()
	return g, nil
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// notePeers makes the host track the liveness of every member of cs.
func (h *Host) notePeers(cs *pb.ConfState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ids := range [][]uint64{cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext()} {
		for _, id := range ids {
			if id != h.id && h.peers[id] == nil {
				h.peers[id] = &peerState{lastHeard: h.tick, live: true}
			}
		}
	}
}

func (h *Host) isLive(id NodeID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.peers[id]
	return p != nil && p.live
}

// Close stops the host's goroutines and closes the log. Groups stop; their
// waiting callers get ErrStopped.
func (h *Host) Close() error {
	h.fatalMu.Lock()
	if h.fatalErr == nil {
		h.fatalErr = ErrStopped // stops the pipeline; not a failure to report
	}
	h.fatalMu.Unlock()
	if h.drv != nil {
		h.drv.stop()
	}
	h.mu.Lock()
	groups := slices.Clone(h.order)
	h.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.stop(ErrStopped)
		g.mu.Unlock()
	}
	if h.log != nil {
		return h.log.close()
	}
	return nil
}

// quietLogger drops raft's logging; raft's panics still panic.
type quietLogger struct{}

func (quietLogger) Debug(...any)              {}
func (quietLogger) Debugf(string, ...any)     {}
func (quietLogger) Error(...any)              {}
func (quietLogger) Errorf(string, ...any)     {}
func (quietLogger) Info(...any)               {}
func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Warning(...any)            {}
func (quietLogger) Warningf(string, ...any)   {}
func (quietLogger) Fatal(v ...any)            { panic(fmt.Sprint(v...)) }
func (quietLogger) Fatalf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
func (quietLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (quietLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
