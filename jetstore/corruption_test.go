package jetstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// payloadFor is the content written for a sequence, so that any message a
// damaged store returns can be checked against what was stored.
func payloadFor(seq uint64) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("<%d>", seq)), 1+int(seq%5))
}

// fillStream writes n messages over several small blocks and closes the
// store, returning the block files.
func fillStream(t *testing.T, dir string, n int) []string {
	t.Helper()
	s := openTestStore(t, dir, func(o *Options) { o.BlockSize = 2048 })
	st := mustAdd(t, s, StreamConfig{Name: "C", Subjects: []string{"c.*"}})
	for i := 1; i <= n; i++ {
		if ack := publish(t, s, st, fmt.Sprintf("c.%d", i%3), nil, payloadFor(uint64(i))); ack.Err != nil {
			t.Fatal(ack.Err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "streams", "C", "blocks", "*.blk"))
	if len(files) < 3 {
		t.Fatalf("want several blocks, got %d", len(files))
	}
	return files
}

// checkIntact opens the damaged store and asserts the stream is there and
// that every message it returns is exactly what was written.
func checkIntact(t *testing.T, dir string, n int) (present int) {
	t.Helper()
	s := openTestStore(t, dir)
	st, err := s.Stream("C")
	if err != nil {
		t.Fatalf("stream lost after damage: %v", err)
	}
	for seq := uint64(1); seq <= uint64(n); seq++ {
		m, err := st.Get(seq)
		if err != nil {
			continue
		}
		if !bytes.Equal(m.Data, payloadFor(seq)) {
			t.Fatalf("seq %d returned damaged data %q", seq, m.Data)
		}
		present++
	}
	if state := st.State("", false); state.Msgs != uint64(present) {
		t.Fatalf("state counts %d messages, %d readable", state.Msgs, present)
	}
	// The stream still takes writes after recovery.
	if ack := publish(t, s, st, "c.x", nil, []byte("new")); ack.Err != nil || ack.Seq <= st.State("", false).FirstSeq-1 {
		t.Fatalf("publish after recovery: %+v", ack)
	}
	s.Close()
	return present
}

func TestTruncatedTailKeepsEverythingBefore(t *testing.T) {
	const n = 200
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 10; iter++ {
		dir := t.TempDir()
		files := fillStream(t, dir, n)
		last := files[len(files)-1]
		info, _ := os.Stat(last)
		cut := rng.Int64N(info.Size())
		if err := os.Truncate(last, cut); err != nil {
			t.Fatal(err)
		}
		present := checkIntact(t, dir, n)
		if present == 0 || present > n {
			t.Fatalf("cut at %d: %d messages present", cut, present)
		}
	}
}

func TestBitFlipsNeverReturnCorruptMessages(t *testing.T) {
	const n = 200
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 20; iter++ {
		dir := t.TempDir()
		files := fillStream(t, dir, n)
		for flips := 0; flips < 1+iter%4; flips++ {
			f := files[rng.IntN(len(files))]
			data, _ := os.ReadFile(f)
			pos := rng.IntN(len(data))
			data[pos] ^= 1 << rng.IntN(8)
			os.WriteFile(f, data, 0o644)
		}
		present := checkIntact(t, dir, n)
		// A flip damages one record; the others survive.
		if present < n-4*2 {
			t.Fatalf("iteration %d: only %d of %d messages survived", iter, present, n)
		}
	}
}

func TestGarbageAppendedAndMissingBlock(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	files := fillStream(t, dir, n)
	f, _ := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.Write(bytes.Repeat([]byte{0xff, 0x00, 0x13}, 100))
	f.Close()
	os.Remove(files[1]) // a whole middle block vanished
	present := checkIntact(t, dir, n)
	if present >= n || present < n/2 {
		t.Fatalf("%d messages present", present)
	}
}

func TestDamagedMetaKeepsStream(t *testing.T) {
	dir := t.TempDir()
	fillStream(t, dir, 200)
	meta := filepath.Join(dir, "streams", "C", metaFile)
	data, _ := os.ReadFile(meta)
	data[10] ^= 0x20
	os.WriteFile(meta, data, 0o644)
	if present := checkIntact(t, dir, 200); present != 200 {
		t.Fatalf("%d of 200 messages after meta damage", present)
	}
}

// logLines records what a store logs, by level.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(level, msg string, kv []any) {
	l.mu.Lock()
	l.lines = append(l.lines, level+" "+msg+" "+fmt.Sprint(kv...))
	l.mu.Unlock()
}
func (l *logLines) Info(msg string, kv ...any)  { l.add("INFO", msg, kv) }
func (l *logLines) Warn(msg string, kv ...any)  { l.add("WARN", msg, kv) }
func (l *logLines) Error(msg string, kv ...any) { l.add("ERROR", msg, kv) }

// TestRecoveryReportsOneLinePerDamagedBlock: a block damaged in many
// places is reported in one warning with the ranges and bytes lost (it
// used to log one line per damaged range: hundreds after a bad crash).
func TestRecoveryReportsOneLinePerDamagedBlock(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	files := fillStream(t, dir, n)
	if err := removeIndexFiles(dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(files[0])
	for pos := 100; pos < len(data)-200; pos += 97 { // many separate damaged records
		data[pos] ^= 0xff
	}
	os.WriteFile(files[0], data, 0o644)
	logs := &logLines{}
	s := openTestStore(t, dir, func(o *Options) { o.Log = logs })
	if _, err := s.Stream("C"); err != nil {
		t.Fatal(err)
	}
	var about []string
	for _, line := range logs.lines {
		if strings.Contains(line, files[0]) {
			about = append(about, line)
		}
	}
	if len(about) != 1 {
		t.Fatalf("%d log lines about the damaged block, want 1:\n%s", len(about), strings.Join(about, "\n"))
	}
	for _, want := range []string{"damaged_ranges", "lost_bytes", "ranges", "more)"} {
		if !strings.Contains(about[0], want) {
			t.Fatalf("summary lacks %s: %s", want, about[0])
		}
	}
}
