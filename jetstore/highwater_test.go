package jetstore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// damageTail overwrites the last n bytes of the stream's newest block, as
// a crash that lost (or a disk that damaged) the final record leaves it.
func damageTail(t *testing.T, dir, stream string, n int64) {
	t.Helper()
	blocks := blockFiles(t, dir, stream)
	if len(blocks) == 0 {
		t.Fatal("no blocks")
	}
	path := blocks[len(blocks)-1]
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	if _, err := f.WriteAt(make([]byte, n), info.Size()-n); err != nil {
		t.Fatal(err)
	}
}

// TestSequenceNeverReusedAfterLostTail: publish, a clean restart, then the
// final record is lost and recovery has no index file. The next publish
// must get a sequence never handed out before (before the fix it got the
// lost message's sequence again).
func TestSequenceNeverReusedAfterLostTail(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	st := mustAdd(t, s, StreamConfig{Name: "H", Subjects: []string{"h"}})
	for i := 1; i <= 500; i++ {
		if ack := publish(t, s, st, "h", nil, []byte(fmt.Sprint(i))); ack.Err != nil || ack.Seq != uint64(i) {
			t.Fatalf("publish %d: %+v", i, ack)
		}
	}
	s = s.reopen(t) // clean: the index file is written and used
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := removeIndexFiles(dir); err != nil {
		t.Fatal(err)
	}
	damageTail(t, dir, "H", 40)

	s = openTestStore(t, dir)
	st, err := s.Stream("H")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(500); err == nil {
		t.Fatal("the damaged final record was recovered")
	}
	// The 40 bytes cover the final record (35 bytes) and the end of the
	// one before it.
	ack := publish(t, s, st, "h", nil, []byte("next"))
	if ack.Err != nil || ack.Seq <= 500 {
		t.Fatalf("publish after losing the tail got %+v; sequence 500 was handed out before", ack)
	}
	state := st.State("", false)
	if state.LastSeq != ack.Seq || state.Msgs != 499 {
		t.Fatalf("state %+v", state)
	}
	if m, err := st.Get(498); err != nil || string(m.Data) != "498" {
		t.Fatalf("seq 498: %v", err)
	}
}

// TestCleanStopLeavesNoSequenceGap: a clean stop records the exact last
// sequence, so the next start continues right after it.
func TestCleanStopLeavesNoSequenceGap(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	st := mustAdd(t, s, StreamConfig{Name: "G", Subjects: []string{"g"}})
	for i := 1; i <= 10; i++ {
		publish(t, s, st, "g", nil, nil)
	}
	s = s.reopen(t)
	st, _ = s.Stream("G")
	if ack := publish(t, s, st, "g", nil, nil); ack.Seq != 11 {
		t.Fatalf("after a clean restart: %+v", ack)
	}
	if _, err := os.Stat(filepath.Join(dir, "streams", "G", highWaterFile)); err != nil {
		t.Fatalf("no high-water file: %v", err)
	}
}

// TestHighWaterFileIsReadBack: reservations are read back as the highest
// intact record; a torn record is ignored; a settle replaces them all.
func TestHighWaterFileIsReadBack(t *testing.T) {
	dir := t.TempDir()
	f := &fileStorage{fs: OSFS{}, log: nopLogger{}, dir: dir}
	if got := f.readHighWater(); got != 0 {
		t.Fatalf("empty: %d", got)
	}
	for _, seq := range []uint64{5, 70, 900} {
		if err := f.reserve(seq, time.Now()); err != nil {
			t.Fatal(err)
		}
		if f.hw.reserved.Load() < seq {
			t.Fatalf("reserved %d < %d", f.hw.reserved.Load(), seq)
		}
	}
	want := f.hw.reserved.Load()
	// A torn record at the end is ignored.
	fh, _ := os.OpenFile(filepath.Join(dir, highWaterFile), os.O_WRONLY|os.O_APPEND, 0)
	fh.Write([]byte{1, 2, 3})
	fh.Close()
	g := &fileStorage{fs: OSFS{}, log: nopLogger{}, dir: dir}
	if got := g.readHighWater(); got != want {
		t.Fatalf("read back %d, want %d", got, want)
	}
	if err := g.closeHighWater(42, true); err != nil {
		t.Fatal(err)
	}
	h := &fileStorage{fs: OSFS{}, log: nopLogger{}, dir: dir}
	if got := h.readHighWater(); got != 42 {
		t.Fatalf("after settle: %d", got)
	}
}

// TestReadingPastAReservedGapBetweenBlocks: sequences reserved before a
// crash and never stored become a gap; when the next message starts a new
// block, the gap lies between blocks, and readers (consumers, mirrors and
// sources, expiry) must step over it to the messages after it.
func TestReadingPastAReservedGapBetweenBlocks(t *testing.T) {
	dir := t.TempDir()
	small := func(o *Options) { o.BlockSize = 512 }
	s := openTestStore(t, dir, small)
	st := mustAdd(t, s, StreamConfig{Name: "GAP", Subjects: []string{"gap"}})
	big := make([]byte, 400) // one message per block
	for i := 1; i <= 3; i++ {
		publish(t, s, st, "gap", nil, big)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// As a crash leaves it: a reservation above the last stored sequence.
	hw := filepath.Join(dir, "streams", "GAP", highWaterFile)
	if err := os.WriteFile(hw, encodeHighWater(nil, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s = openTestStore(t, dir, small, func(o *Options) { o.NewSender = rec.newSender })
	st, err := s.Stream("GAP")
	if err != nil {
		t.Fatal(err)
	}
	if ack := publish(t, s, st, "gap", nil, big); ack.Err != nil || ack.Seq != 101 {
		t.Fatalf("publish after the gap: %+v", ack)
	}
	for _, from := range []uint64{4, 50, 100, 101} {
		m, err := st.NextBySubject(from, "")
		if err != nil || m.Seq != 101 {
			t.Fatalf("next from %d: %v %v, want 101", from, m, err)
		}
		if m, err := st.NextBySubject(from, "gap"); err != nil || m.Seq != 101 {
			t.Fatalf("next on subject from %d: %v %v, want 101", from, m, err)
		}
	}
	if _, err := st.NextBySubject(102, ""); err == nil {
		t.Fatal("a message after the last one")
	}
	// A consumer walks over the gap too.
	c, _, err := st.AddConsumer(ConsumerConfig{Durable: "C", AckPolicy: AckNone}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Pull(PullRequest{Reply: []byte("all"), Batch: 10, NoWait: true})
	for _, want := range []uint64{1, 2, 3, 101} {
		if d := rec.next(t); d.StreamSeq != want {
			t.Fatalf("consumer delivered %+v, want stream sequence %d", d, want)
		}
	}
}

// TestReplicaForgetsLostTail: a replica's local stream, whose sequences are
// its group's, takes back the sequences recovery counted as deleted, so
// that the lost messages can be stored again under their own sequences.
func TestReplicaForgetsLostTail(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	st := mustAdd(t, s, StreamConfig{Name: "H", Subjects: []string{"h"}})
	for i := 1; i <= 500; i++ {
		if ack := publish(t, s, st, "h", nil, []byte(fmt.Sprint(i))); ack.Err != nil {
			t.Fatalf("publish %d: %+v", i, ack)
		}
	}
	s = s.reopen(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := removeIndexFiles(dir); err != nil {
		t.Fatal(err)
	}
	damageTail(t, dir, "H", 40) // the last record and part of the one before

	s = openTestStore(t, dir)
	st, err := s.Stream("H")
	if err != nil {
		t.Fatal(err)
	}
	if last := st.LastSeq(); last != 500 {
		t.Fatalf("recovered last sequence %d, want the mark 500", last)
	}
	from, to := st.ForgetLostTail()
	if from != 499 || to != 500 || st.LastSeq() != 498 {
		t.Fatalf("forgot %d..%d, last now %d; want 499..500 and 498", from, to, st.LastSeq())
	}
	if f, l := st.ForgetLostTail(); f <= l {
		t.Fatalf("a second call took back %d..%d", f, l)
	}
	var msgs []ReplicatedMsg
	for seq := uint64(499); seq <= 500; seq++ {
		msgs = append(msgs, ReplicatedMsg{Seq: seq, Subject: "h", Data: []byte(fmt.Sprint(seq)), Time: time.Now().UnixNano()})
	}
	if _, err := st.ApplyReplicated(msgs, false); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(497); seq <= 500; seq++ {
		if m, err := st.Get(seq); err != nil || string(m.Data) != fmt.Sprint(seq) {
			t.Fatalf("seq %d after storing the lost tail again: %v", seq, err)
		}
	}
}
