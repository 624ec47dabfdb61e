package jetstore

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The store written by an earlier version (testdata/golden-v1, described in
// its README) must open unchanged, and the same operations must write the
// same bytes today.

var goldenTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func goldenSubject(i int) string { return []string{"g.a", "g.b", "g.c"}[i%3] }

func goldenHeader(i int) []byte {
	if i%3 != 0 {
		return nil
	}
	return []byte(fmt.Sprintf("NATS/1.0\r\nNats-Msg-Id: id-%d\r\nX-N: %d\r\n\r\n", i, i))
}

// goldenMsgID reads the ids of the golden headers, as the server's reader
// would; the store itself never parses headers.
func goldenMsgID(hdr []byte) []byte {
	const key = "\r\nNats-Msg-Id: "
	i := bytes.Index(hdr, []byte(key))
	if i < 0 {
		return nil
	}
	rest := hdr[i+len(key):]
	return rest[:bytes.IndexByte(rest, '\r')]
}

// copyTree copies the golden store to a scratch directory (opening a store
// consumes its index files).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The golden store opens from its blocks alone, with its version 1 index
// files (no longer read: the blocks are) and with the version 2 index
// files the same operations write today.
func TestGoldenStoreOpens(t *testing.T) {
	for _, index := range []string{"v1", "v2", "none"} {
		t.Run("index="+index, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, "testdata/golden-v1/store", dir)
			switch index {
			case "none":
				if err := removeIndexFiles(dir); err != nil {
					t.Fatal(err)
				}
			case "v2":
				copyTree(t, goldenIndexV2, filepath.Join(dir, "streams"))
			}
			clock := &fakeClock{now: goldenTime.Add(time.Minute)}
			logs := &logLines{}
			s := openTestStore(t, dir, func(o *Options) {
				o.Now, o.MessageID, o.BlockSize = clock.Now, goldenMsgID, 512
				o.NewSender = newRecorder().newSender
				o.Log = logs
			})
			logs.mu.Lock()
			rebuilt := strings.Count(strings.Join(logs.lines, "\n"), "index file unusable")
			logs.mu.Unlock()
			if want := map[string]int{"v1": 2, "v2": 0, "none": 0}[index]; rebuilt != want {
				t.Errorf("%d streams rebuilt from blocks for an unusable index, want %d: %v", rebuilt, want, logs.lines)
			}
			g, err := s.Stream("G")
			if err != nil {
				t.Fatal(err)
			}
			state := g.State(">", true)
			if state.Msgs != 21 || state.FirstSeq != 3 || state.LastSeq != 30 || state.Bytes != 1342 ||
				fmt.Sprint(state.Deleted) != "[5 8 11 14 17 20 23]" || fmt.Sprint(state.Subjects) != "map[g.a:10 g.b:9 g.c:2]" {
				t.Fatalf("state of G: %+v", state)
			}
			for i := 3; i <= 30; i++ {
				m, err := g.Get(uint64(i))
				if i == 5 || i%3 == 2 && i < 26 {
					if err == nil {
						t.Fatalf("deleted %d is back", i)
					}
					continue
				}
				if err != nil || m.Subject != goldenSubject(i) || string(m.Data) != fmt.Sprintf("payload-%d", i) ||
					!bytes.Equal(m.Header, goldenHeader(i)) || !m.Time.Equal(goldenTime) {
					t.Fatalf("message %d: %+v %v", i, m, err)
				}
			}
			if r := publishWith(t, s, g, "g.a", nil, nil, &PublishOptions{MsgID: "id-27"}); !r.Duplicate || r.Seq != 27 {
				t.Fatalf("duplicate window not restored: %+v", r)
			}
			r := publishWith(t, s, g, "g.a", nil, nil, &PublishOptions{HasExpectedLastMsgID: true, ExpectedLastMsgID: "id-30"})
			if r.Err != nil || r.Seq != 31 {
				t.Fatalf("last msg id or next sequence: %+v", r)
			}
			f, _ := s.Stream("F")
			if st := f.State("", false); st.Msgs != 2 || st.FirstSeq != 101 || st.LastSeq != 102 {
				t.Fatalf("state of F: %+v", st)
			}
			c, err := g.Consumer("D")
			if err != nil {
				t.Fatal(err)
			}
			c.settle()
			info := c.Info()
			if info.Delivered != (SequenceInfo{Consumer: 5, Stream: 9}) || info.AckFloor != (SequenceInfo{Consumer: 1, Stream: 3}) ||
				info.NumAckPending != 4 || info.NumPending != 17 || info.Config.AckWait != time.Hour {
				t.Fatalf("consumer D: %+v", info)
			}
		})
	}
}

// The same operations write the same bytes as the earlier version did.
func TestGoldenStoreBytes(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, func(o *Options) {
		o.Now, o.BlockSize = func() time.Time { return goldenTime }, 512
	})
	g := mustAdd(t, s, StreamConfig{Name: "G", Subjects: []string{"g.>"}})
	for i := 1; i <= 30; i++ {
		var o *PublishOptions
		if i%3 == 0 {
			o = &PublishOptions{MsgID: fmt.Sprintf("id-%d", i)}
		}
		if r := publishWith(t, s, g, goldenSubject(i), goldenHeader(i), []byte(fmt.Sprintf("payload-%d", i)), o); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if err := g.DeleteMsg(5); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Purge(PurgeRequest{Filter: "g.c", Keep: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Purge(PurgeRequest{Seq: 3}); err != nil {
		t.Fatal(err)
	}
	f := mustAdd(t, s, StreamConfig{Name: "F", Subjects: []string{"f"}, FirstSeq: 100, MaxMsgsPerSubject: 2})
	for i := 0; i < 3; i++ {
		publish(t, s, f, "f", nil, []byte("x"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/golden-v1/store/streams"
	files, _ := filepath.Glob(filepath.Join(golden, "*", "*.*"))
	blocks, _ := filepath.Glob(filepath.Join(golden, "*", "blocks", "*.blk"))
	if len(files) != 6 || len(blocks) != 5 {
		t.Fatalf("golden files: %v %v", files, blocks)
	}
	compare := func(want, rel string) {
		t.Helper()
		wantBytes, _ := os.ReadFile(want)
		got, err := os.ReadFile(filepath.Join(dir, "streams", rel))
		if err != nil || !bytes.Equal(got, wantBytes) {
			t.Errorf("%s differs from the golden file %s (%v)", rel, want, err)
		}
	}
	for _, want := range append(files, blocks...) {
		rel, _ := filepath.Rel(golden, want)
		if filepath.Base(rel) == indexFile {
			// The index file has a later version: its own golden files.
			want = filepath.Join(goldenIndexV2, rel)
		}
		compare(want, rel)
	}
}

// goldenIndexV2 holds the index files (version 2) that the operations of
// golden-v1 write today.
const goldenIndexV2 = "testdata/index-v2"
