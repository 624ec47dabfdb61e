package jetstore

import (
	"math/rand"
	"slices"
	"testing"
)

// subjectModel is what the stream must hold: the live subject of every
// sequence.
type subjectModel map[uint64]string

func (m subjectModel) seqs(subject string) []uint64 {
	var out []uint64
	for seq, s := range m {
		if s == subject {
			out = append(out, seq)
		}
	}
	slices.Sort(out)
	return out
}

// checkSubjects compares every subject lookup of st with the model: the
// next, previous and last message of each subject from many positions,
// the per-subject counts and the counts from a position.
func checkSubjects(t *testing.T, st *Stream, model subjectModel, subjects []string, rng *rand.Rand) {
	t.Helper()
	counts := st.SubjectsCount(">")
	last := st.State("", false).LastSeq
	for _, subject := range subjects {
		want := model.seqs(subject)
		if got := counts[subject]; got != uint64(len(want)) {
			t.Fatalf("%s: count %d, want %d", subject, got, len(want))
		}
		m, err := st.LastBySubject(subject)
		switch {
		case len(want) == 0 && err == nil:
			t.Fatalf("%s: last is %d, want none", subject, m.Seq)
		case len(want) > 0 && (err != nil || m.Seq != want[len(want)-1]):
			t.Fatalf("%s: last %v (%v), want %d", subject, m, err, want[len(want)-1])
		}
		for range 40 {
			from := uint64(rng.Int63n(int64(last)+2)) + 1
			i, _ := slices.BinarySearch(want, from)
			var next, prev uint64
			if i < len(want) {
				next = want[i]
			}
			if i > 0 {
				prev = want[i-1]
			}
			m, err := st.NextBySubject(from, subject)
			if (next == 0) != (err != nil) || (err == nil && m.Seq != next) {
				t.Fatalf("%s: next from %d is %v (%v), want %d", subject, from, m, err, next)
			}
			st.mu.RLock()
			gotPrev := st.prevMatchingLocked(subject, from)
			gotCount := 0
			if info := st.subj.lookup(subject); info != nil {
				gotCount = st.subjectCountFrom(info, from)
			}
			st.mu.RUnlock()
			if gotPrev != prev {
				t.Fatalf("%s: previous below %d is %d, want %d", subject, from, gotPrev, prev)
			}
			if gotCount != len(want)-i {
				t.Fatalf("%s: %d messages from %d, want %d", subject, gotCount, from, len(want)-i)
			}
		}
	}
}

// A subject with more messages than it lists (a wide one) answers every
// lookup as a listed one does, through deletes, purges, per-subject limits
// and a restart from the index file; sparse and dense subjects are mixed
// so that the walks cross blocks and deleted entries.
func TestWideSubjectLookupsMatchAModel(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.BlockSize = 4096 })
	cfg := StreamConfig{Name: "W", Subjects: []string{"w.*"}}
	st := mustAdd(t, s, cfg)
	subjects := []string{"w.dense", "w.sparse", "w.rest", "w.few"}
	model := subjectModel{}
	publishSome := func(n int) {
		for range n {
			subject := subjects[2]
			switch r := rng.Intn(100); {
			case r < 50:
				subject = subjects[0]
			case r < 60:
				subject = subjects[1]
			case r < 62:
				subject = subjects[3]
			}
			res := publish(t, s, st, subject, nil, []byte("x"))
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			model[res.Seq] = subject
		}
	}
	publishSome(600)
	checkSubjects(t, st, model, subjects, rng)

	for range 150 {
		seq := uint64(rng.Intn(600)) + 1
		err := st.DeleteMsg(seq)
		if _, live := model[seq]; live != (err == nil) {
			t.Fatalf("delete %d: %v, live in the model: %v", seq, err, live)
		}
		delete(model, seq)
	}
	checkSubjects(t, st, model, subjects, rng)
	// The newest message of each subject goes too: its bound moves back.
	for range 2 {
		for _, subject := range subjects {
			if seqs := model.seqs(subject); len(seqs) > 0 {
				if err := st.DeleteMsg(seqs[len(seqs)-1]); err != nil {
					t.Fatal(err)
				}
				delete(model, seqs[len(seqs)-1])
			}
		}
		checkSubjects(t, st, model, subjects, rng)
	}

	if _, err := st.Purge(PurgeRequest{Filter: "w.rest", Keep: 20}); err != nil {
		t.Fatal(err)
	}
	rest := model.seqs("w.rest")
	for _, seq := range rest[:len(rest)-20] {
		delete(model, seq)
	}
	checkSubjects(t, st, model, subjects, rng)

	s = s.reopen(t)
	st, err := s.Stream("W")
	if err != nil {
		t.Fatal(err)
	}
	checkSubjects(t, st, model, subjects, rng)

	// A per-subject limit keeps the newest of each subject, now and for
	// every later publish.
	cfg.MaxMsgsPerSubject = 30
	if st, err = s.UpdateStream(cfg); err != nil {
		t.Fatal(err)
	}
	trim := func() {
		for _, subject := range subjects {
			if seqs := model.seqs(subject); len(seqs) > 30 {
				for _, seq := range seqs[:len(seqs)-30] {
					delete(model, seq)
				}
			}
		}
	}
	trim()
	checkSubjects(t, st, model, subjects, rng)
	for range 10 {
		publishSome(20)
		trim()
		checkSubjects(t, st, model, subjects, rng)
	}
}
