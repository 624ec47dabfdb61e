package sublist

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentUse runs writers and readers together under -race. Each
// writer owns a disjoint range of values, so the final state is known:
// every writer leaves exactly its odd-numbered subscriptions in place.
func TestConcurrentUse(t *testing.T) {
	const (
		writers        = 4
		readers        = 4
		perWriter      = 200
		readIterations = 2000
	)
	// No pattern matches the one-token subject "solo", whose answer must
	// therefore stay fixed throughout.
	patterns := []string{"a.b", "a.*", "a.>", "*.>", "*.b", "a.b.c"}
	queues := []string{"", "q1", "q2"}
	entryFor := func(writer, i int) referenceEntry {
		return referenceEntry{
			subject: patterns[i%len(patterns)],
			queue:   queues[i%len(queues)],
			value:   writer*perWriter + i,
		}
	}

	s := NewWithCacheSize[int](16) // small, so eviction races too
	mustInsert(t, s, "solo", "", -1)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				e := entryFor(w, i)
				if err := s.Insert(e.subject, e.queue, e.value); err != nil {
					t.Errorf("Insert(%+v): %v", e, err)
				}
			}
			for i := 0; i < perWriter; i += 2 {
				e := entryFor(w, i)
				if err := s.Remove(e.subject, e.queue, e.value); err != nil {
					t.Errorf("Remove(%+v): %v", e, err)
				}
			}
		})
	}
	subjects := []string{"a.b", "a.c", "x.b", "a.b.c", "a", "solo"}
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for range readIterations {
				subject := subjects[rng.IntN(len(subjects))]
				if _, err := canonicalize(s.Match(subject)); err != nil {
					t.Errorf("Match(%q): %v", subject, err)
				}
				s.HasInterest(subject)
				s.MatchBytes([]byte(subject))
				if solo := s.Match("solo"); len(solo.Plain) != 1 || solo.Plain[0] != -1 || len(solo.Queues) != 0 {
					t.Errorf("Match(solo) = %+v, want exactly [-1]", solo)
				}
			}
		})
	}
	wg.Wait()

	ref := newReferenceSublist()
	ref.insert("solo", "", -1)
	for w := range writers {
		for i := 1; i < perWriter; i += 2 {
			e := entryFor(w, i)
			ref.insert(e.subject, e.queue, e.value)
		}
	}
	if s.Count() != len(ref.entries) {
		t.Fatalf("Count() = %d, want %d", s.Count(), len(ref.entries))
	}
	if want := uint64(1 + writers*(perWriter+perWriter/2)); s.Generation() != want {
		t.Fatalf("Generation() = %d, want %d", s.Generation(), want)
	}
	for _, subject := range append(subjects, "a.b.c.d") {
		checkMatch(t, s, ref, subject)
	}
}
