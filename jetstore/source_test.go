package jetstore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testHeaders is a Headers of the tests' own making: a copied message
// carries "Src: <key>|<seq>|<ident>".
type testHeaders struct{}

func (testHeaders) MessageTTL([]byte) (time.Duration, bool) { return 0, false }
func (testHeaders) IsDeleteMarker([]byte) bool              { return false }
func (testHeaders) DeleteMarker(string, time.Duration) []byte {
	return []byte("NATS/1.0\r\nMarker: 1\r\n\r\n")
}

func (testHeaders) SourcePosition(hdr []byte) (string, uint64, string, bool) {
	_, v, ok := bytes.Cut(hdr, []byte("Src: "))
	if !ok {
		return "", 0, "", false
	}
	v, _, _ = bytes.Cut(v, []byte("\r\n"))
	f := strings.Split(string(v), "|")
	seq, _ := strconv.ParseUint(f[1], 10, 64)
	return f[0], seq, f[2], true
}

func (testHeaders) Sourced(_ []byte, key string, seq uint64, _, ident string) ([]byte, *PublishOptions) {
	return []byte(fmt.Sprintf("NATS/1.0\r\nSrc: %s|%d|%s\r\n\r\n", key, seq, ident)), nil
}

// waitLast waits until a stream's seq is readable.
func waitLast(t *testing.T, st *Stream, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := st.Get(seq); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no message %d; state %+v", st.Name(), seq, st.State("", false))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The positions of sources survive a crash (no index file), also for a
// source whose copies were all removed by limits and whose blocks were
// retired: the position is in the first record of every later block.
func TestSourcePositionsSurviveACrash(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, func(o *Options) { o.Headers, o.BlockSize = testHeaders{}, 256 })
	a := mustAdd(t, s, StreamConfig{Name: "A", Subjects: []string{"a"}})
	b := mustAdd(t, s, StreamConfig{Name: "B", Subjects: []string{"b"}})
	for i := 0; i < 5; i++ {
		publish(t, s, a, "a", nil, []byte("a"+itoa(i)))
	}
	agg := mustAdd(t, s, StreamConfig{Name: "AGG", MaxMsgs: 3, Sources: []*StreamSource{{Name: "A"}, {Name: "B"}}})
	waitLast(t, agg, 5)
	for i := 0; i < 20; i++ {
		publish(t, s, b, "b", nil, []byte("b"+itoa(i)))
	}
	waitLast(t, agg, 25)
	if _, err := os.Stat(filepath.Join(dir, "streams", "AGG", "blocks", blockFileName(1))); err == nil {
		t.Fatal("the block of A's copies was not retired: the test needs it gone")
	}
	keyA := (&StreamSource{Name: "A"}).Key()
	if got := agg.SourcePositions()[keyA]; got != 5 {
		t.Fatalf("position of A %d", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := removeIndexFiles(dir); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "streams", "AGG", sourcesFile))

	s2 := openTestStore(t, dir, func(o *Options) { o.Headers, o.BlockSize = testHeaders{}, 256 })
	agg2, _ := s2.Stream("AGG")
	if got := agg2.SourcePositions()[keyA]; got != 5 {
		t.Fatalf("position of A after the crash %d", got)
	}
	a2, _ := s2.Stream("A")
	publish(t, s2, a2, "a", nil, []byte("after"))
	waitLast(t, agg2, 26)
	m, _ := agg2.Get(26)
	if string(m.Data) != "after" || !bytes.Contains(m.Header, []byte("|6|")) {
		t.Fatalf("first copy after the crash: %q %q", m.Data, m.Header)
	}
}

// A source whose origin is deleted and created again copies the new one
// from its start: the origin's identity changed.
func TestSourceFollowsARecreatedOrigin(t *testing.T) {
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.Headers = testHeaders{} })
	a := mustAdd(t, s, StreamConfig{Name: "A", Subjects: []string{"a"}})
	for i := 0; i < 3; i++ {
		publish(t, s, a, "a", nil, []byte("old"))
	}
	agg := mustAdd(t, s, StreamConfig{Name: "AGG", Sources: []*StreamSource{{Name: "A"}}})
	waitLast(t, agg, 3)
	if err := s.DeleteStream("A"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a different creation time
	a = mustAdd(t, s, StreamConfig{Name: "A", Subjects: []string{"a"}})
	publish(t, s, a, "a", nil, []byte("new"))
	waitLast(t, agg, 4)
	if m, _ := agg.Get(4); string(m.Data) != "new" {
		t.Fatalf("copy of the new origin: %q", m.Data)
	}
}
