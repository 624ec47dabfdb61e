package sublist

import (
	"errors"
	"fmt"
	"testing"
	"unsafe"
)

func mustInsert(t testing.TB, s *Sublist[int], subject, queue string, v int) {
	t.Helper()
	if err := s.Insert(subject, queue, v); err != nil {
		t.Fatalf("Insert(%q, %q, %d): %v", subject, queue, v, err)
	}
}

func mustRemove(t testing.TB, s *Sublist[int], subject, queue string, v int) {
	t.Helper()
	if err := s.Remove(subject, queue, v); err != nil {
		t.Fatalf("Remove(%q, %q, %d): %v", subject, queue, v, err)
	}
}

func TestMatchBasics(t *testing.T) {
	s := New[int]()
	ref := newReferenceSublist()
	subs := []referenceEntry{
		{"foo", "", 1}, {"foo.bar", "", 2}, {"foo.*", "", 3}, {"foo.>", "", 4},
		{">", "", 5}, {"*.bar", "", 6}, {"foo*", "", 7}, {"Foo.bar", "", 8},
		{"foo.*", "", 2}, // same value under a second pattern
	}
	for _, e := range subs {
		mustInsert(t, s, e.subject, e.queue, e.value)
		ref.insert(e.subject, e.queue, e.value)
	}
	for _, subject := range []string{
		"foo", "foo.bar", "foo.baz", "foo.bar.baz", "bar", "x.bar", "foo*",
		"Foo.bar", "foo.*", "foo.>", "a..b", "", ".foo", "foo.",
	} {
		checkMatch(t, s, ref, subject)
	}
	if got := s.Match("foo.bar").Len(); got != 6 {
		t.Fatalf("Match(foo.bar).Len() = %d, want 6", got)
	}
}

func TestQueueGroupsMergeAcrossPatterns(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo.*", "q1", 1)
	mustInsert(t, s, "foo.bar", "q1", 2)
	mustInsert(t, s, "foo.>", "q2", 3)
	mustInsert(t, s, "foo.bar", "", 4)
	r := s.Match("foo.bar")
	if len(r.Plain) != 1 || r.Plain[0] != 4 {
		t.Fatalf("Plain = %v, want [4]", r.Plain)
	}
	groups := map[string]int{}
	for _, g := range r.Queues {
		groups[g.Name] = len(g.Members)
	}
	if len(r.Queues) != 2 || groups["q1"] != 2 || groups["q2"] != 1 {
		t.Fatalf("Queues = %+v, want q1 with 2 members and q2 with 1", r.Queues)
	}
	if r.Len() != 4 {
		t.Fatalf("Len() = %d, want 4", r.Len())
	}
}

func TestManyQueueGroupsOnOneSubject(t *testing.T) {
	s := New[int]()
	ref := newReferenceSublist()
	for i := range 40 {
		q := fmt.Sprintf("q%d", i%20)
		pattern := []string{"a.b", "a.*", "a.>", ">"}[i%4]
		mustInsert(t, s, pattern, q, i)
		ref.insert(pattern, q, i)
	}
	checkMatch(t, s, ref, "a.b")
}

func TestInsertErrors(t *testing.T) {
	s := New[int]()
	for _, subject := range []string{"", "a..b", ".a", "a.", "a.>.b", "a b"} {
		if err := s.Insert(subject, "", 1); !errors.Is(err, ErrInvalidSubject) {
			t.Errorf("Insert(%q) error = %v, want ErrInvalidSubject", subject, err)
		}
	}
	if err := s.Insert("foo", "bad queue", 1); !errors.Is(err, ErrInvalidQueue) {
		t.Errorf("Insert with whitespace queue error = %v, want ErrInvalidQueue", err)
	}
	if s.Count() != 0 || s.Generation() != 0 {
		t.Fatalf("failed inserts changed state: count %d generation %d", s.Count(), s.Generation())
	}
}

func TestRemoveErrorsAndPruning(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "a.b.c", "", 1)
	mustInsert(t, s, "a.*.>", "q", 2)
	for _, e := range []referenceEntry{
		{"a.b.c", "", 2}, {"a.b.c", "q", 1}, {"a.b", "", 1}, {"a.b.c.d", "", 1},
		{"a.*.>", "", 2}, {"a.*.>", "r", 2}, {"x", "", 1}, {"a..b", "", 1},
	} {
		if err := s.Remove(e.subject, e.queue, e.value); !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove(%+v) error = %v, want ErrNotFound", e, err)
		}
	}
	mustRemove(t, s, "a.b.c", "", 1)
	mustRemove(t, s, "a.*.>", "q", 2)
	if err := s.Remove("a.b.c", "", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove error = %v, want ErrNotFound", err)
	}
	if !s.root.isEmpty() {
		t.Fatalf("trie not pruned after removing everything: %+v", s.root)
	}
	if s.Count() != 0 {
		t.Fatalf("Count() = %d, want 0", s.Count())
	}
}

func TestGenerationCountsSuccessfulChanges(t *testing.T) {
	s := New[int]()
	steps := []struct {
		op      string
		subject string
		queue   string
		changes bool
	}{
		{"insert", "foo", "", true},
		{"insert", "foo", "", false}, // duplicate
		{"insert", "foo", "q", true}, // same value, different queue
		{"insert", "a..b", "", false},
		{"remove", "bar", "", false},
		{"remove", "foo", "", true},
		{"remove", "foo", "", false},
		{"remove", "foo", "q", true},
	}
	var want uint64
	for _, step := range steps {
		if step.op == "insert" {
			_ = s.Insert(step.subject, step.queue, 1)
		} else {
			_ = s.Remove(step.subject, step.queue, 1)
		}
		if step.changes {
			want++
		}
		if got := s.Generation(); got != want {
			t.Fatalf("after %s %q %q: Generation() = %d, want %d", step.op, step.subject, step.queue, got, want)
		}
	}
}

func TestDuplicateInsertStoresOnce(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo", "", 1)
	mustInsert(t, s, "foo", "", 1)
	if s.Count() != 1 || s.Match("foo").Len() != 1 {
		t.Fatalf("Count %d Len %d, want 1 and 1", s.Count(), s.Match("foo").Len())
	}
	mustRemove(t, s, "foo", "", 1)
	if s.Match("foo").Len() != 0 {
		t.Fatal("value still matched after one Remove of a duplicate insert")
	}
}

func TestCacheInvalidation(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo.bar", "", 1)
	before := s.Match("foo.bar")
	unrelated := s.Match("baz")
	if s.CacheCount() != 2 {
		t.Fatalf("CacheCount() = %d, want 2", s.CacheCount())
	}
	if s.Match("foo.bar") != before {
		t.Fatal("cache hit returned a different Result")
	}
	mustInsert(t, s, "foo.*", "", 2)
	after := s.Match("foo.bar")
	if after == before || after.Len() != 2 || before.Len() != 1 {
		t.Fatalf("stale or mutated Result: before %+v after %+v", before, after)
	}
	if s.Match("baz") != unrelated {
		t.Fatal("unrelated cache entry was invalidated")
	}
	mustRemove(t, s, "foo.bar", "", 1)
	if got := s.Match("foo.bar"); got.Len() != 1 || got.Plain[0] != 2 {
		t.Fatalf("after Remove: %+v", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	const capacity = 64
	s := NewWithCacheSize[int](capacity)
	mustInsert(t, s, ">", "", 1)
	for i := range 10 * capacity {
		subject := fmt.Sprintf("s.%d", i)
		if s.Match(subject).Len() != 1 {
			t.Fatalf("Match(%q) lost its subscriber", subject)
		}
		if s.CacheCount() > capacity {
			t.Fatalf("CacheCount() = %d exceeds capacity %d", s.CacheCount(), capacity)
		}
	}
}

func TestDisabledCache(t *testing.T) {
	s := NewWithCacheSize[int](0)
	mustInsert(t, s, "foo.*", "q", 1)
	for range 3 {
		if s.Match("foo.x").Len() != 1 || !s.HasInterest("foo.x") || s.HasInterest("bar") {
			t.Fatal("wrong answer with cache disabled")
		}
	}
	if s.CacheCount() != 0 {
		t.Fatalf("CacheCount() = %d with cache disabled", s.CacheCount())
	}
}

func TestEmptyResultIsNeverNil(t *testing.T) {
	s := New[int]()
	for _, subject := range []string{"foo", "", "a..b"} {
		if r := s.Match(subject); r == nil || r.Len() != 0 {
			t.Fatalf("Match(%q) = %v, want empty non-nil Result", subject, r)
		}
	}
}

func TestManySubscribersOnOneSubject(t *testing.T) {
	const n = 10000
	s := New[int]()
	for i := range n {
		mustInsert(t, s, "big", "", i)
		mustInsert(t, s, "big", "workers", i)
	}
	if got := s.Match("big").Len(); got != 2*n {
		t.Fatalf("Len() = %d, want %d", got, 2*n)
	}
	for i := 0; i < n; i += 2 {
		mustRemove(t, s, "big", "", i)
		mustRemove(t, s, "big", "workers", i)
	}
	r := s.Match("big")
	if r.Len() != n {
		t.Fatalf("Len() after removing half = %d, want %d", r.Len(), n)
	}
	for _, v := range r.Plain {
		if v%2 == 0 {
			t.Fatalf("removed subscriber %d still matched", v)
		}
	}
}

func TestMatchBytesHitDoesNotAllocate(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo.*", "", 1)
	subject := []byte("foo.bar")
	s.MatchBytes(subject)
	if allocs := testing.AllocsPerRun(100, func() { s.MatchBytes(subject) }); allocs != 0 {
		t.Fatalf("MatchBytes cache hit allocated %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { s.HasInterest("foo.bar") }); allocs != 0 {
		t.Fatalf("HasInterest allocated %v times", allocs)
	}
}

// TestMatchDoesNotRetainSubject mimics a parser that hands Match a string
// aliasing its read buffer and then reuses the buffer.
func TestMatchDoesNotRetainSubject(t *testing.T) {
	s := New[int]()
	mustInsert(t, s, "foo.bar", "", 1)
	buf := []byte("foo.bar")
	if s.Match(unsafe.String(&buf[0], len(buf))).Len() != 1 {
		t.Fatal("no match for foo.bar")
	}
	copy(buf, "foo.baz")
	if s.cache.get("foo.bar") == nil || s.cache.get("foo.baz") != nil {
		t.Fatal("cache key changed with the caller's buffer")
	}
}

func TestMatchOnceDoesNotCache(t *testing.T) {
	s := New[int]()
	s.Insert("_INBOX.abc.*", "", 1)
	s.Insert("_INBOX.>", "q", 2)
	before := s.CacheCount()
	r := s.MatchOnce([]byte("_INBOX.abc.xyz"))
	if len(r.Plain) != 1 || r.Plain[0] != 1 || len(r.Queues) != 1 || r.Queues[0].Members[0] != 2 {
		t.Fatalf("MatchOnce result %+v", r)
	}
	if s.CacheCount() != before {
		t.Fatalf("MatchOnce cached: %d -> %d entries", before, s.CacheCount())
	}
	if r := s.MatchOnce([]byte("other.subject")); r.Len() != 0 {
		t.Fatalf("no match expected, got %+v", r)
	}
	if r := s.MatchOnce([]byte("_INBOX..x")); r.Len() != 0 {
		t.Fatalf("empty token matched")
	}
}

// One-time matches against a single wildcard subscription (reply inboxes)
// share the node's result: no allocation, and the result follows changes.
func TestMatchOnceSharesSingleNodeResults(t *testing.T) {
	s := New[int]()
	if err := s.Insert("_INBOX.abc.*", "", 1); err != nil {
		t.Fatal(err)
	}
	subject := []byte("_INBOX.abc.17")
	if allocs := testing.AllocsPerRun(100, func() { s.MatchOnce(subject) }); allocs != 0 {
		t.Fatalf("MatchOnce allocates %v times", allocs)
	}
	if r := s.MatchOnce(subject); len(r.Plain) != 1 || r.Plain[0] != 1 {
		t.Fatalf("result %+v", r)
	}
	if err := s.Insert("_INBOX.abc.*", "", 2); err != nil {
		t.Fatal(err)
	}
	if r := s.MatchOnce(subject); len(r.Plain) != 2 {
		t.Fatalf("after a second subscription: %+v", r)
	}
	if err := s.Insert("_INBOX.abc.17", "", 3); err != nil {
		t.Fatal(err)
	}
	if r := s.MatchOnce(subject); len(r.Plain) != 3 {
		t.Fatalf("with a literal subscription too: %+v", r)
	}
	if err := s.Remove("_INBOX.abc.*", "", 1); err != nil {
		t.Fatal(err)
	}
	if r := s.MatchOnce([]byte("_INBOX.abc.18")); len(r.Plain) != 1 || r.Plain[0] != 2 {
		t.Fatalf("after a removal: %+v", r)
	}
}
