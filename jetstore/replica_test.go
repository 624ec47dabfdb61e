package jetstore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func rmsgs(from, to uint64, subject string) []ReplicatedMsg {
	var out []ReplicatedMsg
	for seq := from; seq <= to; seq++ {
		out = append(out, ReplicatedMsg{Seq: seq, Time: int64(seq) * 1000, Subject: subject, Data: payloadFor(seq)})
	}
	return out
}

// A replica stores the leader's messages with their sequences; a replay of
// what it has is skipped, a gap is refused (or, catching up, left as
// deleted), and everything survives a reopen.
func TestApplyReplicatedIsIdempotentAndKeepsSequences(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, func(o *Options) { o.BlockSize = 1024 })
	st := mustAdd(t, s, StreamConfig{Name: "R", Subjects: []string{"r.>"}})
	if n, err := st.ApplyReplicated(rmsgs(1, 50, "r.a"), false); err != nil || n != 50 {
		t.Fatalf("apply: %d %v", n, err)
	}
	if n, err := st.ApplyReplicated(rmsgs(40, 60, "r.a"), false); err != nil || n != 10 {
		t.Fatalf("replay overlapping: stored %d, %v", n, err)
	}
	if _, err := st.ApplyReplicated(rmsgs(70, 71, "r.a"), false); !errors.Is(err, ErrSequenceGap) {
		t.Fatalf("gap accepted: %v", err)
	}
	if n, err := st.ApplyReplicated(rmsgs(70, 71, "r.b"), true); err != nil || n != 2 {
		t.Fatalf("catch-up with a gap: %d %v", n, err)
	}
	if err := st.AdvanceReplicated(80); err != nil {
		t.Fatal(err)
	}
	check := func(st *Stream) {
		t.Helper()
		state := st.State("", false)
		if state.Msgs != 62 || state.FirstSeq != 1 || state.LastSeq != 80 {
			t.Fatalf("state %+v", state)
		}
		m, err := st.Get(33)
		if err != nil || string(m.Data) != string(payloadFor(33)) || m.Time.UnixNano() != 33000 {
			t.Fatalf("seq 33: %+v %v", m, err)
		}
		if _, err := st.Get(65); err == nil {
			t.Fatal("a sequence of the gap is readable")
		}
		if got := st.Deleted(1, 80); !slices.Equal(got, []SeqRange{{61, 69}, {72, 80}}) {
			t.Fatalf("deleted ranges %v", got)
		}
	}
	check(st)
	if err := st.Sync(); err != nil {
		t.Fatal(err)
	}
	s = s.reopen(t)
	st, _ = s.Stream("R")
	check(st)
	if err := st.RecoveryDamage(); err != nil {
		t.Fatalf("a clean reopen reported damage: %v", err)
	}
	// New messages continue after the advanced last sequence.
	if n, err := st.ApplyReplicated(rmsgs(81, 81, "r.c"), false); err != nil || n != 1 {
		t.Fatalf("apply after reopen: %d %v", n, err)
	}
	got := st.ReadFrom(60, 90, 1<<20)
	var seqs []uint64
	for _, m := range got {
		seqs = append(seqs, m.Seq)
	}
	if !slices.Equal(seqs, []uint64{60, 70, 71, 81}) {
		t.Fatalf("ReadFrom returned %v", seqs)
	}
}

// Deletes and bounded purges are idempotent: replaying them after newer
// messages arrived removes nothing more.
func TestReplicatedPurgeIsBoundedAndIdempotent(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	st := mustAdd(t, s, StreamConfig{Name: "P", Subjects: []string{"p.>"}})
	st.ApplyReplicated(rmsgs(1, 10, "p.a"), false)
	if n, err := st.PurgeReplicated(PurgeRequest{Keep: 3}, 10); err != nil || n != 7 {
		t.Fatalf("purge keep 3: %d %v", n, err)
	}
	st.ApplyReplicated(rmsgs(11, 15, "p.a"), false)
	if n, _ := st.PurgeReplicated(PurgeRequest{Keep: 3}, 10); n != 0 {
		t.Fatalf("replayed purge removed %d more", n)
	}
	if n, _ := st.DeleteReplicated([]SeqRange{{9, 9}, {12, 12}}); n != 2 {
		t.Fatalf("delete removed %d", n)
	}
	if n, _ := st.DeleteReplicated([]SeqRange{{9, 9}, {12, 12}}); n != 0 {
		t.Fatalf("replayed delete removed %d", n)
	}
	if state := st.State("", false); state.Msgs != 6 || state.FirstSeq != 8 {
		t.Fatalf("state %+v", state)
	}
}

// The leader's sequencer counts ordered but unapplied messages: an id
// ordered twice is a duplicate, expected sequences see pending messages,
// and a reset forgets what was never applied.
func TestSequencerChecksAgainstPendingMessages(t *testing.T) {
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.MessageID = func(h []byte) []byte { return h } })
	st := mustAdd(t, s, StreamConfig{Name: "Q", Subjects: []string{"q.>"}, Discard: DiscardNew, MaxMsgs: 3})
	q := st.NewSequencer()
	now := time.Unix(100, 0)
	order := func(subject, id string, o *PublishOptions) (ReplicatedMsg, PublishResult, bool) {
		m := NewInMsg([]byte(subject), nil, []byte(id), []byte("x"))
		if o == nil && id != "" {
			o = &PublishOptions{MsgID: id}
		}
		m.Options = o
		return q.Order(m, now)
	}
	a, ra, ok := order("q.a", "id1", nil)
	if !ok || ra.Seq != 1 || a.Seq != 1 || a.Time != now.UnixNano() {
		t.Fatalf("first: %+v %+v", a, ra)
	}
	if _, r, ok := order("q.a", "id1", nil); ok || !r.Duplicate || r.Seq != 1 {
		t.Fatalf("pending duplicate: %+v", r)
	}
	if _, r, ok := order("q.b", "", &PublishOptions{ExpectedLastSeq: SeqExpectation{Set: true, Seq: 1}}); !ok || r.Seq != 2 {
		t.Fatalf("expected last 1: %+v", r)
	}
	if _, r, _ := order("q.a", "", &PublishOptions{ExpectedLastSubjectSeq: SeqExpectation{Set: true, Seq: 0}}); r.Err == nil {
		t.Fatal("expected no message on q.a, but one is pending")
	}
	order("q.c", "", nil)
	if _, r, _ := order("q.d", "", nil); !errors.Is(r.Err, ErrMaxMsgsExceeded) {
		t.Fatalf("fourth message under max 3 with discard new: %+v", r)
	}
	// Apply the first two; the third is dropped by the group: reset.
	if _, err := q.Apply([]ReplicatedMsg{a, {Seq: 2, Time: now.UnixNano(), Subject: "q.b", Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := order("q.a", "id1", nil); !r.Duplicate {
		t.Fatalf("applied duplicate not found: %+v", r)
	}
	q.Reset()
	if n := q.Next(); n != 3 {
		t.Fatalf("after reset the next sequence is %d, want 3 (the third was never applied)", n)
	}
}

// Recovery reports a damaged record in the middle, and a cut older block,
// but not a torn tail of the newest block; a quarantined stream moves out
// of the store whole.
func TestRecoveryDamageAndQuarantine(t *testing.T) {
	dir := t.TempDir()
	files := fillStream(t, dir, 200)
	os.Remove(filepath.Join(dir, "streams", "C", indexFile))
	last := files[len(files)-1]
	info, _ := os.Stat(last)
	os.Truncate(last, info.Size()-3)
	s := openTestStore(t, dir)
	st, _ := s.Stream("C")
	if err := st.RecoveryDamage(); err != nil {
		t.Fatalf("a torn tail reported as damage: %v", err)
	}
	s.Close()

	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 0x10
	os.WriteFile(files[0], data, 0o644)
	os.Remove(filepath.Join(dir, "streams", "C", indexFile))
	s = openTestStore(t, dir)
	st, _ = s.Stream("C")
	if err := st.RecoveryDamage(); !errors.Is(err, ErrRecoveryDamage) {
		t.Fatalf("a flipped bit in an old block: %v", err)
	}
	where, err := s.Quarantine("C")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stream("C"); !errors.Is(err, ErrStreamNotFound) {
		t.Fatal("quarantined stream still in the store")
	}
	moved, _ := filepath.Glob(filepath.Join(where, "blocks", "*.blk"))
	if len(moved) != len(files) {
		t.Fatalf("quarantine kept %d of %d block files at %s", len(moved), len(files), where)
	}
}
