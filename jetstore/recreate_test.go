package jetstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// damageMeta overwrites both copies of a stream's meta file with bytes
// that fail their checksum, as a torn or bit-rotted disk would leave them.
func damageMeta(t *testing.T, dir, stream string) {
	t.Helper()
	for _, name := range []string{metaFile, metaBackupFile} {
		if err := os.WriteFile(filepath.Join(dir, "streams", stream, name), []byte("{\"config\":garbage\n0000\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// storeWithDamagedMeta stores n messages on r.1 and r.2 in stream R, stops
// the store cleanly, damages both meta copies and reopens: the stream is
// left unopened, its directory untouched.
func storeWithDamagedMeta(t *testing.T, n int) *testStore {
	t.Helper()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	st := mustAdd(t, s, StreamConfig{Name: "R", Subjects: []string{"r.*"}})
	for i := 1; i <= n; i++ {
		if ack := publish(t, s, st, fmt.Sprintf("r.%d", 1+i%2), nil, payloadFor(uint64(i))); ack.Err != nil {
			t.Fatal(ack.Err)
		}
	}
	damageMeta(t, dir, "R")
	s = s.reopen(t)
	if _, err := s.Stream("R"); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("stream with damaged meta was opened: %v", err)
	}
	return s
}

func blockFiles(t *testing.T, dir, stream string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "streams", stream, "blocks", "*.blk"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRecreateAdoptsStoredBlocks: creating a stream again whose meta files
// were damaged keeps its messages (before the fix the create failed on the
// existing block file and removed the whole directory).
func TestRecreateAdoptsStoredBlocks(t *testing.T) {
	s := storeWithDamagedMeta(t, 100)
	st, created, err := s.AddStream(StreamConfig{Name: "R", Subjects: []string{"r.>"}})
	if err != nil {
		t.Fatalf("re-create: %v (blocks left: %v)", err, blockFiles(t, s.dir, "R"))
	}
	if !created || !st.Adopted() {
		t.Fatalf("created=%v adopted=%v", created, st.Adopted())
	}
	check := func(st *Stream) {
		t.Helper()
		if state := st.State("", false); state.Msgs != 100 || state.FirstSeq != 1 || state.LastSeq != 100 {
			t.Fatalf("adopted state %+v", state)
		}
		for seq := uint64(1); seq <= 100; seq++ {
			m, err := st.Get(seq)
			if err != nil || string(m.Data) != string(payloadFor(seq)) {
				t.Fatalf("seq %d: %v", seq, err)
			}
		}
	}
	check(st)
	if ack := publish(t, s, st, "r.new", nil, []byte("after")); ack.Err != nil || ack.Seq != 101 {
		t.Fatalf("publish after adoption: %+v", ack)
	}
	damaged, _ := filepath.Glob(filepath.Join(s.dir, "streams", "R", metaFile+".damaged*"))
	if len(damaged) == 0 {
		t.Fatal("the damaged meta file was not kept aside")
	}
	// The new meta holds: the next start opens the stream as adopted.
	s = s.reopen(t)
	st, err = s.Stream("R")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.Config(); cfg.Subjects[0] != "r.>" {
		t.Fatalf("config after restart: %+v", cfg)
	}
	if state := st.State("", false); state.Msgs != 101 {
		t.Fatalf("after restart: %+v", state)
	}
}

// TestRecreateRefusesIncompatibleConfigAndKeepsData: a configuration that
// cannot hold the stored messages as they are is refused with an error
// that says so, and nothing on disk changes.
func TestRecreateRefusesIncompatibleConfigAndKeepsData(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  StreamConfig
		want string
	}{
		{"subjects", StreamConfig{Name: "R", Subjects: []string{"r.1"}}, `subject "r.2"`},
		{"max_msgs", StreamConfig{Name: "R", Subjects: []string{"r.*"}, MaxMsgs: 10}, "max_msgs"},
		{"max_bytes", StreamConfig{Name: "R", Subjects: []string{"r.*"}, MaxBytes: 100}, "max_bytes"},
		{"per subject", StreamConfig{Name: "R", Subjects: []string{"r.*"}, MaxMsgsPerSubject: 2}, "max_msgs_per_subject"},
		{"first_seq", StreamConfig{Name: "R", Subjects: []string{"r.*"}, FirstSeq: 50}, "first_seq"},
		{"memory", StreamConfig{Name: "R", Subjects: []string{"r.*"}, Storage: StorageMemory}, "file stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storeWithDamagedMeta(t, 100)
			before := blockFiles(t, s.dir, "R")
			_, _, err := s.AddStream(tc.cfg)
			var ed *ExistingDataError
			if !errors.As(err, &ed) {
				t.Fatalf("err = %v, want ExistingDataError", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, s.dir) {
				t.Fatalf("error %q: want it to name %q and no server path", msg, tc.want)
			}
			if after := blockFiles(t, s.dir, "R"); len(after) != len(before) || len(after) == 0 {
				t.Fatalf("blocks before %v, after %v", before, after)
			}
			// Still recoverable with a configuration that fits.
			st, _, err := s.AddStream(StreamConfig{Name: "R", Subjects: []string{"r.*"}})
			if err != nil {
				t.Fatal(err)
			}
			if state := st.State("", false); state.Msgs != 100 {
				t.Fatalf("after refusal then adoption: %+v", state)
			}
		})
	}
}

// TestCreateFailureRemovesOnlyWhatItCreated: a create that fails half way
// in a fresh directory leaves nothing behind; one that finds a directory
// it did not create never removes it.
func TestCreateFailureRemovesOnlyWhatItCreated(t *testing.T) {
	ffs := &faultFS{}
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.FS = ffs })
	ffs.set(errDiskFull, nil)
	if _, _, err := s.AddStream(StreamConfig{Name: "N", Subjects: []string{"n"}}); err == nil {
		t.Fatal("create on a full disk succeeded")
	}
	ffs.set(nil, nil)
	if _, err := os.Stat(filepath.Join(s.dir, "streams", "N")); !os.IsNotExist(err) {
		t.Fatalf("half-created stream directory left behind: %v", err)
	}

	foreign := filepath.Join(s.dir, "streams", "F")
	if err := os.MkdirAll(filepath.Join(foreign, "blocks"), 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(foreign, "blocks", blockFileName(1))
	if err := os.WriteFile(keep, []byte("not a record"), 0o644); err != nil {
		t.Fatal(err)
	}
	ffs.set(errDiskFull, nil)
	if _, _, err := s.AddStream(StreamConfig{Name: "F", Subjects: []string{"f"}}); err == nil {
		t.Fatal("create over a foreign directory on a full disk succeeded")
	}
	ffs.set(nil, nil)
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("a file the create did not make was removed: %v", err)
	}
}
