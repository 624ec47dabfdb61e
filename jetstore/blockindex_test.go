package jetstore

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
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
