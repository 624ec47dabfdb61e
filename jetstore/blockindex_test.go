package jetstore

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strings"
	"testing"
)

// modelMsg is what the test stored under a sequence.
type modelMsg struct {
	subject      string
	header, data []byte
}

// hotBlocks counts the blocks other than the tail whose entries are in
// memory.
func hotBlocks(st *Stream) (hot, all int) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, b := range st.blocks[:len(st.blocks)-1] {
		if b.hot.Load() != nil {
			hot++
		}
	}
	return hot, len(st.blocks) - 1
}

// checkAgainstModel reads every sequence, the state and per-subject
// lookups of st and compares them with the model.
func checkAgainstModel(t *testing.T, st *Stream, model map[uint64]modelMsg, last uint64) {
	t.Helper()
	var wantBytes uint64
	counts := map[string]uint64{}
	var deleted []uint64
	first := uint64(0)
	for seq := uint64(1); seq <= last; seq++ {
		want, live := model[seq]
		m, err := st.Get(seq)
		if !live {
			if err == nil {
				t.Fatalf("deleted %d is back: %+v", seq, m)
			}
			if first != 0 {
				deleted = append(deleted, seq)
			}
			continue
		}
		if first == 0 {
			first = seq
		}
		if err != nil || m.Subject != want.subject || !bytes.Equal(m.Data, want.data) || !bytes.Equal(m.Header, want.header) {
			t.Fatalf("message %d: %+v (%v), want %+v", seq, m, err, want)
		}
		wantBytes += msgSize([]byte(want.subject), want.header, want.data)
		counts[want.subject]++
	}
	for len(deleted) > 0 && deleted[len(deleted)-1] > last {
		deleted = deleted[:len(deleted)-1]
	}
	// Deletions above the newest live message are no interior gaps.
	var newest uint64
	for seq := range model {
		newest = max(newest, seq)
	}
	deleted = slices.DeleteFunc(deleted, func(seq uint64) bool { return seq > newest })
	state := st.State(">", true)
	if state.Msgs != uint64(len(model)) || state.Bytes != wantBytes || state.FirstSeq != first ||
		fmt.Sprint(state.Subjects) != fmt.Sprint(counts) || fmt.Sprint(state.Deleted) != fmt.Sprint(deleted) {
		t.Fatalf("state %+v\nwant msgs %d bytes %d first %d subjects %v deleted %v",
			state, len(model), wantBytes, first, counts, deleted)
	}
	for subject := range counts {
		var seqs []uint64
		for seq, m := range model {
			if m.subject == subject {
				seqs = append(seqs, seq)
			}
		}
		slices.Sort(seqs)
		if m, err := st.LastBySubject(subject); err != nil || m.Seq != seqs[len(seqs)-1] {
			t.Fatalf("last of %s: %v (%v), want %d", subject, m, err, seqs[len(seqs)-1])
		}
		if m, err := st.NextBySubject(seqs[0]/2, subject); err != nil || m.Seq != seqs[0] {
			t.Fatalf("first of %s: %v (%v), want %d", subject, m, err, seqs[0])
		}
	}
}

// Older blocks keep only a summary of their messages once more than
// maxHotBlocks of them were used; reads, deletes, purges, per-subject
// limits and subject walks through such cold blocks answer as a model
// says, and so do restarts from the index file and from the blocks alone.
// The number of hot blocks stays bounded throughout.
func TestColdBlocksAnswerAsTheModel(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.BlockSize = 1024 })
	cfg := StreamConfig{Name: "C", Subjects: []string{"c.>"}}
	st := mustAdd(t, s, cfg)
	model := map[uint64]modelMsg{}
	var last uint64
	publishSome := func(n int) {
		for range n {
			m := modelMsg{subject: fmt.Sprintf("c.%d", rng.Intn(5)), data: []byte(fmt.Sprintf("data-%d", rng.Int()))}
			switch rng.Intn(20) {
			case 0:
				m.subject = "c.rare"
			case 1:
				m.subject = fmt.Sprintf("c.key.%d", rng.Intn(50))
			case 2:
				m.header = []byte("NATS/1.0\r\nX: y\r\n\r\n")
			}
			res := publish(t, s, st, m.subject, m.header, m.data)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			model[res.Seq] = m
			last = res.Seq
		}
	}
	checkBounded := func(when string) {
		t.Helper()
		hot, all := hotBlocks(st)
		t.Logf("%s: %d of %d older blocks hot", when, hot, all)
		if hot > maxHotBlocks || all < 4*maxHotBlocks {
			t.Fatalf("%s: %d of %d older blocks hot, want at most %d of at least %d", when, hot, all, maxHotBlocks, 4*maxHotBlocks)
		}
	}
	publishSome(3000)
	checkBounded("after publishing")
	checkAgainstModel(t, st, model, last)
	checkBounded("after reading everything")

	for range 600 {
		seq := uint64(rng.Int63n(int64(last))) + 1
		err := st.DeleteMsg(seq)
		if _, live := model[seq]; live != (err == nil) {
			t.Fatalf("delete %d: %v, live in the model: %v", seq, err, live)
		}
		delete(model, seq)
	}
	checkAgainstModel(t, st, model, last)
	if _, err := st.Purge(PurgeRequest{Filter: "c.rare", Keep: 10}); err != nil {
		t.Fatal(err)
	}
	var rare []uint64
	for seq, m := range model {
		if m.subject == "c.rare" {
			rare = append(rare, seq)
		}
	}
	slices.Sort(rare)
	for _, seq := range rare[:len(rare)-10] {
		delete(model, seq)
	}
	checkAgainstModel(t, st, model, last)
	checkBounded("after deletes")

	s = s.reopen(t)
	st, _ = s.Stream("C")
	checkBounded("after a clean restart")
	checkAgainstModel(t, st, model, last)

	cfg.MaxMsgsPerSubject = 40
	st, err := s.UpdateStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	trim := func() {
		per := map[string][]uint64{}
		for seq, m := range model {
			per[m.subject] = append(per[m.subject], seq)
		}
		for _, seqs := range per {
			slices.Sort(seqs)
			for len(seqs) > 40 {
				delete(model, seqs[0])
				seqs = seqs[1:]
			}
		}
	}
	trim()
	checkAgainstModel(t, st, model, last)
	publishSome(500)
	trim()
	checkAgainstModel(t, st, model, last)

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := removeIndexFiles(s.dir); err != nil {
		t.Fatal(err)
	}
	s = openWithSink(t, s.dir, s.acks, func(o *Options) { *o = s.opts })
	st, _ = s.Stream("C")
	checkBounded("after a restart from the blocks")
	checkAgainstModel(t, st, model, last)
}

// A record damaged on disk while the store runs, in a block whose entries
// are cold, is never handed out: reads of it fail (and say so in the log),
// every other message still reads back, the message can still be deleted,
// and walks over the block (a subject's messages) skip it.
func TestDamageInAColdBlockIsNeverHandedOut(t *testing.T) {
	logs := &logLines{}
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.BlockSize = 1024; o.Log = logs })
	st := mustAdd(t, s, StreamConfig{Name: "D", Subjects: []string{"d.>"}})
	const n = 2000
	for i := 1; i <= n; i++ {
		if r := publish(t, s, st, "d."+itoa(i%3), nil, []byte(fmt.Sprintf("data-%04d", i))); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	st.mu.RLock()
	b := st.blocks[2]
	first, path := b.first, b.path
	cold := b.hot.Load() == nil
	st.mu.RUnlock()
	if !cold {
		t.Fatal("the third block is still hot")
	}
	victim := first + 1
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(fmt.Sprintf("data-%04d", victim)))
	if i < 0 {
		t.Fatalf("message %d not in %s", victim, path)
	}
	data[i] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	if m, err := st.Get(victim); err == nil {
		t.Fatalf("the damaged message %d was handed out: %q", victim, m.Data)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if seq == victim {
			continue
		}
		if m, err := st.Get(seq); err != nil || string(m.Data) != fmt.Sprintf("data-%04d", seq) {
			t.Fatalf("message %d: %v %v", seq, m, err)
		}
	}
	subject := "d." + itoa(int(victim%3))
	var walked []uint64
	for from := uint64(1); ; {
		m, err := st.NextBySubject(from, subject)
		if err != nil {
			break
		}
		walked = append(walked, m.Seq)
		from = m.Seq + 1
	}
	if slices.Contains(walked, victim) || len(walked) < n/3-1 {
		t.Fatalf("walk of %s: %d messages, the damaged one among them: %v", subject, len(walked), slices.Contains(walked, victim))
	}
	if err := st.DeleteMsg(victim); err != nil {
		t.Fatalf("deleting the damaged message: %v", err)
	}
	if state := st.State("", false); state.Msgs != n-1 {
		t.Fatalf("%d messages after deleting the damaged one, want %d", state.Msgs, n-1)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !strings.Contains(strings.Join(logs.lines, "\n"), "failed its checksum") {
		t.Fatalf("the damage was not logged: %v", logs.lines)
	}
}

// Readers heat and cool blocks while holding only the stream's read lock
// (a walk heats the block it walks and may cool the coldest hot one):
// several readers doing point reads and walks over many blocks at once,
// beside a publisher, each get what was stored (run with -race).
func TestConcurrentReadersOverColdBlocks(t *testing.T) {
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.BlockSize = 1024 })
	st := mustAdd(t, s, StreamConfig{Name: "R", Subjects: []string{"r.>"}})
	const stored = 2000
	subjects := []string{"r.a", "r.b", "r.c", "r.wide"}
	model := make(map[uint64]string, stored)
	lastOf := map[string]uint64{}
	for i := range stored {
		subj := subjects[i%len(subjects)]
		res := publish(t, s, st, subj, nil, []byte(fmt.Sprintf("m%d", i)))
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		model[res.Seq] = subj
		lastOf[subj] = res.Seq
	}
	if _, all := hotBlocks(st); all < 4*maxHotBlocks {
		t.Fatalf("only %d older blocks; the test needs more than the hot ones", all)
	}
	errs := make(chan error, 4)
	for r := range 4 {
		go func() {
			rng := rand.New(rand.NewSource(int64(r)))
			for i := range 3000 {
				seq := uint64(rng.Intn(stored)) + 1
				m, err := st.Get(seq)
				if err != nil || m.Subject != model[seq] {
					errs <- fmt.Errorf("reader %d: seq %d: %v, %v; want subject %s", r, seq, m, err, model[seq])
					return
				}
				if i%50 == 0 { // a walk from an early sequence heats old blocks
					subj := subjects[rng.Intn(len(subjects))]
					from := uint64(rng.Intn(stored/2)) + 1
					next, err := st.NextBySubject(from, subj)
					if err != nil || next.Subject != subj || next.Seq < from || model[next.Seq] != subj {
						errs <- fmt.Errorf("reader %d: next %s from %d: %v, %v", r, subj, from, next, err)
						return
					}
					for s := from; s < next.Seq; s++ {
						if model[s] == subj {
							errs <- fmt.Errorf("reader %d: next %s from %d gave %d, skipping %d", r, subj, from, next.Seq, s)
							return
						}
					}
				}
			}
			errs <- nil
		}()
	}
	// The publisher is this goroutine: new blocks are sealed (and heated)
	// under the write lock while the readers walk.
	for i := range 500 {
		if res := publish(t, s, st, "r.new", nil, []byte(fmt.Sprintf("n%d", i))); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for subj, want := range lastOf {
		m, err := st.LastBySubject(subj)
		if err != nil || m.Seq != want {
			t.Fatalf("last of %s: %v, %v; want %d", subj, m, err, want)
		}
	}
	if hot, _ := hotBlocks(st); hot > maxHotBlocks {
		t.Fatalf("%d older blocks hot after the readers, want at most %d", hot, maxHotBlocks)
	}
}
