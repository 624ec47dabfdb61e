package multiraft

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// solo is one manually driven host whose groups have it as their only
// voter, for tests of the disk path.
type solo struct {
	t    *testing.T
	fs   *MemFS
	h    *Host
	m    *Manual
	sms  map[GroupID]*kv
	fail error
}

type nullTransport struct{}

func (nullTransport) Send(NodeID, []byte) bool { return false }
func (nullTransport) SetHandler(func([]byte))  {}

func openSolo(t *testing.T, fs *MemFS) *solo {
	t.Helper()
	s := &solo{t: t, fs: fs, sms: map[GroupID]*kv{}}
	h, m, err := OpenManual(Config{ID: 1, Dir: "/n", FS: fs, Transport: nullTransport{},
		SnapshotEntries: 1000, SegmentBytes: 2 << 10, OnFatal: func(err error) { s.fail = err }},
		func(g GroupID) (StateMachine, error) {
			sm := newKV()
			s.sms[g] = sm
			return sm, nil
		})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.h, s.m = h, m
	return s
}

// lead ticks until the group's only voter has elected itself.
func (s *solo) lead(g GroupID) {
	s.t.Helper()
	for range 100 {
		s.h.Tick()
		s.m.Run()
		if s.h.Group(g).Status().IsLeader {
			return
		}
	}
	s.t.Fatalf("group %d elected no leader", g)
}

// put proposes a put and runs the host until it is answered.
func (s *solo) put(g GroupID, key, value string) error {
	p := &proposal{id: s.h.nextID(), done: make(chan struct{})}
	p.data = append(make([]byte, proposalHeader), encodeOp(kvOp{Op: 'p', Key: key, Value: value})...)
	putID(p.data, p.id)
	s.h.lookup(g).push(func(in *inputs) { in.props = append(in.props, p) })
	s.m.Run()
	select {
	case <-p.done:
		return p.err
	default:
		return errors.New("proposal not answered")
	}
}

func (s *solo) crashAndReopen() *solo {
	s.fs.SetFaults(nil, nil)
	s.fs.Crash()
	return openSolo(s.t, s.fs)
}

func (s *solo) fill(g GroupID, n int) {
	s.t.Helper()
	for i := range n {
		if err := s.put(g, fmt.Sprintf("k%d", i), fmt.Sprintf("value-%d", i)); err != nil {
			s.t.Fatalf("put %d: %v", i, err)
		}
	}
}

func (s *solo) expectValues(g GroupID, n int) {
	s.t.Helper()
	for i := range n {
		if got, want := s.sms[g].get(fmt.Sprintf("k%d", i)), fmt.Sprintf("value-%d", i); got != want {
			s.t.Fatalf("group %d k%d = %q after recovery, want %q", g, i, got, want)
		}
	}
}

func segments(t *testing.T, fs *MemFS) []string {
	names, err := fs.ReadDir("/n/log")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ".log") {
			out = append(out, filepath.Join("/n/log", n))
		}
	}
	return out
}

func TestRecoveryRestoresAcknowledgedEntriesAfterCrash(t *testing.T) {
	s := openSolo(t, NewMemFS())
	for _, g := range []GroupID{1, 2} {
		if _, err := s.h.CreateGroup(g, []NodeID{1}); err != nil {
			t.Fatal(err)
		}
		s.lead(g)
		s.fill(g, 40)
	}
	s = s.crashAndReopen()
	rep := s.h.Report()
	if len(rep.Damaged) != 0 || len(rep.Groups) != 2 {
		t.Fatalf("report after a clean crash: %+v", rep)
	}
	s.lead(1)
	s.lead(2)
	s.expectValues(1, 40)
	s.expectValues(2, 40)
	if err := s.put(1, "after", "restart"); err != nil {
		t.Fatalf("put after restart: %v", err)
	}
}

func TestRecoveryCutsTornTailWithoutDamage(t *testing.T) {
	s := openSolo(t, NewMemFS())
	s.h.CreateGroup(1, []NodeID{1})
	s.lead(1)
	s.fill(1, 10)
	// Half a record reached the disk before the power went.
	segs := segments(t, s.fs)
	last := segs[len(segs)-1]
	f, _ := s.fs.OpenFile(last, 1, 0)
	rec := appendEntryRecord(nil, 1, entry(99, 9, "torn"))
	f.Write(rec[:len(rec)-3])
	f.Sync()
	s = s.crashAndReopen()
	rep := s.h.Report()
	if len(rep.Damaged) != 0 || rep.TornBytes != int64(len(rec)-3) {
		t.Fatalf("torn tail: report %+v, want %d torn bytes and no damage", rep, len(rec)-3)
	}
	s.lead(1)
	s.expectValues(1, 10)
	// The cut is permanent: the next open finds a clean log.
	s = s.crashAndReopen()
	if rep := s.h.Report(); rep.TornBytes != 0 || len(rep.Damaged) != 0 {
		t.Fatalf("second open: %+v", rep)
	}
	s.lead(1)
	s.expectValues(1, 10)
}

func TestRecoveryReportsBitFlipAsDamage(t *testing.T) {
	s := openSolo(t, NewMemFS())
	s.h.CreateGroup(1, []NodeID{1})
	s.h.CreateGroup(2, []NodeID{1})
	s.lead(1)
	s.fill(1, 30)
	segs := segments(t, s.fs)
	if err := s.fs.CorruptDurable(segs[0], segmentHeaderLen+recordHeaderLen+3); err != nil {
		t.Fatal(err)
	}
	s = s.crashAndReopen()
	rep := s.h.Report()
	for _, g := range []GroupID{1, 2} {
		if !errors.Is(rep.Damaged[g], ErrDamaged) {
			t.Fatalf("group %d not reported damaged after a bit flip: %+v", g, rep)
		}
		if s.h.Group(g) != nil {
			t.Fatalf("damaged group %d was started", g)
		}
	}
	if _, err := s.fs.ReadFile(segs[0] + ".corrupt"); err != nil {
		t.Fatalf("corrupt segment not kept aside: %v", err)
	}
	// The verdict survives restarts until the caller drops the replica.
	s = s.crashAndReopen()
	if len(s.h.Report().Damaged) != 2 {
		t.Fatalf("damage forgotten at the next open: %+v", s.h.Report())
	}
	if _, err := s.h.JoinGroup(1); err == nil {
		t.Fatal("joined over a damaged replica without dropping it")
	}
	if err := s.h.DropGroup(1); err != nil {
		t.Fatalf("drop damaged group: %v", err)
	}
	if _, err := s.h.JoinGroup(1); err != nil {
		t.Fatalf("rejoin after drop: %v", err)
	}
	s = s.crashAndReopen()
	rep = s.h.Report()
	if rep.Damaged[1] != nil || rep.Damaged[2] == nil || s.h.Group(1) == nil {
		t.Fatalf("after rebuilding group 1: %+v", rep)
	}
	if st := s.h.Group(1).Status(); st.Applied != 0 || len(st.Voters) != 0 {
		t.Fatalf("rejoined replica inherited old state: %+v", st)
	}
}

func TestRecoveryReportsLostSuffixOfSealedSegment(t *testing.T) {
	s := openSolo(t, NewMemFS())
	s.h.CreateGroup(1, []NodeID{1})
	s.lead(1)
	s.fill(1, 60)
	segs := segments(t, s.fs)
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %d", len(segs))
	}
	if err := s.fs.TruncateDurable(segs[0], s.fs.Size(segs[0])-20); err != nil {
		t.Fatal(err)
	}
	s = s.crashAndReopen()
	if err := s.h.Report().Damaged[1]; !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "segment") {
		t.Fatalf("truncated sealed segment: damage %v", err)
	}
}

func TestRecoveryReportsCommitPastLog(t *testing.T) {
	fs := NewMemFS()
	s := openSolo(t, fs)
	s.h.CreateGroup(1, []NodeID{1})
	s.lead(1)
	s.fill(1, 5)
	// Append a hard state claiming entries the log does not have, as if
	// the entries' records had been lost while the state record survived.
	segs := segments(t, fs)
	f, _ := fs.OpenFile(segs[len(segs)-1], 1, 0)
	f.Write(appendHardStateRecord(nil, 1, hardState(2, 1, 500)))
	f.Sync()
	s = s.crashAndReopen()
	if err := s.h.Report().Damaged[1]; err == nil || !strings.Contains(err.Error(), "lost log suffix") {
		t.Fatalf("commit past the log: damage %v", err)
	}
}

func TestFsyncFailureStopsHostWithoutAck(t *testing.T) {
	s := openSolo(t, NewMemFS())
	s.h.CreateGroup(1, []NodeID{1})
	s.lead(1)
	s.fill(1, 5)
	s.fs.SetFaults(nil, errors.New("injected fsync failure"))
	if err := s.put(1, "k5", "value-5"); err == nil {
		t.Fatal("a proposal was acknowledged although its fsync failed")
	}
	if s.fail == nil {
		t.Fatal("OnFatal not called after an fsync failure")
	}
	if err := s.put(1, "k6", "value-6"); err == nil {
		t.Fatal("the host went on after an fsync failure")
	}
	s = s.crashAndReopen()
	if len(s.h.Report().Damaged) != 0 {
		t.Fatalf("fsync failure left damage: %+v", s.h.Report())
	}
	s.lead(1)
	s.expectValues(1, 5)
}

func TestSnapshotsCompactLogAndRecover(t *testing.T) {
	fs := NewMemFS()
	s := openSolo(t, fs)
	s.h.cfg.SnapshotEntries = 20
	s.h.CreateGroup(1, []NodeID{1})
	s.lead(1)
	s.fill(1, 300)
	if n := len(segments(t, fs)); n > 6 {
		t.Fatalf("%d log segments remain after snapshots; old ones were not collected", n)
	}
	if idx := s.h.Group(1).g.snapIndex.Load(); idx < 280 {
		t.Fatalf("snapshot index %d, want at least 280", idx)
	}
	s = s.crashAndReopen()
	if len(s.h.Report().Damaged) != 0 {
		t.Fatalf("report: %+v", s.h.Report())
	}
	s.lead(1)
	s.expectValues(1, 300)
}

func TestSnapshotFileChecksum(t *testing.T) {
	fs := NewMemFS()
	s := openSolo(t, fs)
	s.h.CreateGroup(1, []NodeID{1})
	if err := fs.CorruptDurable(snapName("/n/groups", 1), 20); err != nil {
		t.Fatal(err)
	}
	s = s.crashAndReopen()
	if err := s.h.Report().Damaged[1]; !errors.Is(err, ErrDamaged) {
		t.Fatalf("corrupt snapshot file: damage %v", err)
	}
}

func TestRecoveryReportsMissingSegmentAsHole(t *testing.T) {
	s := openSolo(t, NewMemFS())
	s.h.CreateGroup(1, []NodeID{1})
	s.lead(1)
	s.fill(1, 60)
	segs := segments(t, s.fs)
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %d", len(segs))
	}
	s.fs.Remove(segs[1])
	s.fs.SyncDir("/n/log")
	s = s.crashAndReopen()
	if err := s.h.Report().Damaged[1]; !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "hole") {
		t.Fatalf("missing middle segment: damage %v", err)
	}
}
