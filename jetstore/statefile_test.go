package jetstore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func stateOf(st *Stream) StreamState {
	s := st.State(">", true)
	s.FirstTime, s.LastTime = s.FirstTime.UTC(), s.LastTime.UTC()
	return s
}

func sameState(t *testing.T, a, b StreamState) {
	t.Helper()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("state differs:\n%+v\n%+v", a, b)
	}
}

func TestCleanRestartUsesIndex(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, func(o *Options) { o.BlockSize = 1024 })
	st := mustAdd(t, s, StreamConfig{Name: "I", Subjects: []string{"i.*"}, MaxMsgsPerSubject: 5})
	for i := 0; i < 300; i++ {
		publish(t, s, st, fmt.Sprintf("i.%d", i%11), nil, []byte(fmt.Sprint(i)))
	}
	st.DeleteMsg(299)
	before := stateOf(st)
	s = s.reopen(t)
	index := filepath.Join(dir, "streams", "I", indexFile)
	if _, err := os.Stat(index); !os.IsNotExist(err) {
		t.Fatalf("index file not consumed on load: %v", err)
	}
	st, _ = s.Stream("I")
	sameState(t, before, stateOf(st))
	if ack := publish(t, s, st, "i.1", nil, nil); ack.Seq != 301 {
		t.Fatalf("next seq %d", ack.Seq)
	}
}

// A crash after more appends than the index holds: the index's blocks are
// trusted up to their recorded sizes and the rest is scanned.
func TestStaleIndexPlusAppendedRecords(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, func(o *Options) { o.BlockSize = 1024 })
	st := mustAdd(t, s, StreamConfig{Name: "I", Subjects: []string{"i.*"}})
	for i := 0; i < 100; i++ {
		publish(t, s, st, fmt.Sprintf("i.%d", i%3), nil, []byte(fmt.Sprint(i)))
	}
	s = s.reopen(t) // writes, then consumes, the index
	index := filepath.Join(dir, "streams", "I", indexFile)
	st, _ = s.Stream("I")
	s.mu.Lock()
	st.mu.Lock()
	if err := st.storage.saveIndex(st); err != nil { // the snapshot a crash would leave
		t.Fatal(err)
	}
	st.mu.Unlock()
	s.mu.Unlock()
	saved, _ := os.ReadFile(index)
	for i := 100; i < 250; i++ {
		publish(t, s, st, fmt.Sprintf("i.%d", i%3), nil, []byte(fmt.Sprint(i)))
	}
	st.Purge(PurgeRequest{Filter: "i.2", Keep: 10})
	want := stateOf(st)
	s.Close()
	os.WriteFile(index, saved, 0o644) // as if the process died with it there
	s2 := openTestStore(t, dir)
	st2, _ := s2.Stream("I")
	sameState(t, want, stateOf(st2))
	for seq := want.FirstSeq; seq <= want.LastSeq; seq++ {
		if m, err := st2.Get(seq); err == nil && string(m.Data) != fmt.Sprint(seq-1) {
			t.Fatalf("seq %d has %q", seq, m.Data)
		}
	}
}
