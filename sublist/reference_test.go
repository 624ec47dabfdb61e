package sublist

import (
	"fmt"
	"maps"
	"testing"
)

// referenceEntry is one stored (subject, queue, value) triple.
type referenceEntry struct {
	subject, queue string
	value          int
}

// referenceSublist is the obviously-correct model Sublist is checked
// against: a set of entries scanned with MatchLiteral.
type referenceSublist struct {
	entries map[referenceEntry]struct{}
}

func newReferenceSublist() *referenceSublist {
	return &referenceSublist{entries: make(map[referenceEntry]struct{})}
}

func (r *referenceSublist) insert(subject, queue string, v int) bool {
	e := referenceEntry{subject, queue, v}
	if _, ok := r.entries[e]; ok {
		return false
	}
	r.entries[e] = struct{}{}
	return true
}

func (r *referenceSublist) remove(subject, queue string, v int) bool {
	e := referenceEntry{subject, queue, v}
	if _, ok := r.entries[e]; !ok {
		return false
	}
	delete(r.entries, e)
	return true
}

func (r *referenceSublist) match(subject string) canonicalResult {
	want := newCanonicalResult()
	for e := range r.entries {
		if !MatchLiteral(subject, e.subject) {
			continue
		}
		if e.queue == "" {
			want.plain[e.value]++
			continue
		}
		if want.queues[e.queue] == nil {
			want.queues[e.queue] = make(map[int]int)
		}
		want.queues[e.queue][e.value]++
	}
	return want
}

// canonicalResult is a Result as order-free multisets, for comparison.
type canonicalResult struct {
	plain  map[int]int
	queues map[string]map[int]int
}

func newCanonicalResult() canonicalResult {
	return canonicalResult{plain: make(map[int]int), queues: make(map[string]map[int]int)}
}

func canonicalize(r *Result[int]) (canonicalResult, error) {
	c := newCanonicalResult()
	for _, v := range r.Plain {
		c.plain[v]++
	}
	for _, g := range r.Queues {
		if _, dup := c.queues[g.Name]; dup {
			return c, fmt.Errorf("queue group %q listed twice", g.Name)
		}
		if len(g.Members) == 0 {
			return c, fmt.Errorf("queue group %q has no members", g.Name)
		}
		c.queues[g.Name] = make(map[int]int)
		for _, v := range g.Members {
			c.queues[g.Name][v]++
		}
	}
	return c, nil
}

func (c canonicalResult) equal(o canonicalResult) bool {
	return maps.Equal(c.plain, o.plain) &&
		maps.EqualFunc(c.queues, o.queues, func(a, b map[int]int) bool { return maps.Equal(a, b) })
}

// checkMatch compares Match, MatchBytes and HasInterest with the reference.
func checkMatch(t testing.TB, s *Sublist[int], ref *referenceSublist, subject string) {
	t.Helper()
	want := ref.match(subject)
	for _, r := range []*Result[int]{s.Match(subject), s.MatchBytes([]byte(subject))} {
		if r == nil {
			t.Fatalf("Match(%q) returned nil", subject)
		}
		got, err := canonicalize(r)
		if err != nil {
			t.Fatalf("Match(%q): %v", subject, err)
		}
		if !got.equal(want) {
			t.Fatalf("Match(%q) = %+v, want %+v", subject, got, want)
		}
	}
	wantInterest := len(want.plain) > 0 || len(want.queues) > 0
	if got := s.HasInterest(subject); got != wantInterest {
		t.Fatalf("HasInterest(%q) = %v, want %v", subject, got, wantInterest)
	}
}
