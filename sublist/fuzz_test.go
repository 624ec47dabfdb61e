package sublist

import (
	"errors"
	"strings"
	"testing"
)

// naiveValidSubject is the subject grammar written as plainly as possible,
// to check the single-pass scanner against.
func naiveValidSubject(s string, literalOnly bool) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n\f") {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, token := range tokens {
		switch {
		case token == "":
			return false
		case token == ">" && (literalOnly || i != len(tokens)-1):
			return false
		case token == "*" && literalOnly:
			return false
		}
	}
	return true
}

func FuzzValidSubject(f *testing.F) {
	for _, seed := range []string{
		"", "foo", "foo.bar", "*", ">", "foo.*", "foo.>", "a..b", ".a", "a.",
		"a.>.b", "foo*", "a>b", "a b", "a\tb", "a\r\n", "\f", "日本.*", ">.>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := naiveValidSubject(s, false)
		wantLiteral := naiveValidSubject(s, true)
		if got := ValidSubject(s); got != want {
			t.Fatalf("ValidSubject(%q) = %v, want %v", s, got, want)
		}
		if got := ValidSubjectBytes([]byte(s)); got != want {
			t.Fatalf("ValidSubjectBytes(%q) = %v, want %v", s, got, want)
		}
		if got := ValidLiteralSubject(s); got != wantLiteral {
			t.Fatalf("ValidLiteralSubject(%q) = %v, want %v", s, got, wantLiteral)
		}
		if got := ValidLiteralSubjectBytes([]byte(s)); got != wantLiteral {
			t.Fatalf("ValidLiteralSubjectBytes(%q) = %v, want %v", s, got, wantLiteral)
		}
		if want && IsLiteral(s) != wantLiteral {
			t.Fatalf("IsLiteral(%q) = %v, want %v", s, IsLiteral(s), wantLiteral)
		}
		if n := NumTokens(s); s != "" && n != strings.Count(s, ".")+1 {
			t.Fatalf("NumTokens(%q) = %d", s, n)
		}
	})
}

// FuzzMatch inserts a fuzzed, space-separated list of patterns (value i,
// queue chosen by i), matches a fuzzed subject, removes the patterns
// selected by removeMask and matches again, comparing with the reference
// each time.
func FuzzMatch(f *testing.F) {
	f.Add("foo.* foo.> foo.bar > *.bar", "foo.bar", uint16(0b01010))
	f.Add("a.b a.* a.> * >", "a.b.c", uint16(0xffff))
	f.Add("a..b a.>.b foo* *", "foo*", uint16(1))
	f.Fuzz(func(t *testing.T, patterns, subject string, removeMask uint16) {
		s := NewWithCacheSize[int](4)
		ref := newReferenceSublist()
		fields := strings.Fields(patterns)
		if len(fields) > 16 {
			fields = fields[:16]
		}
		for i, pattern := range fields {
			queue := queueNames[i%len(queueNames)]
			err := s.Insert(pattern, queue, i%5)
			if valid := naiveValidSubject(pattern, false); valid != (err == nil) {
				t.Fatalf("Insert(%q) = %v, valid=%v", pattern, err, valid)
			}
			if err == nil {
				ref.insert(pattern, queue, i%5)
			} else if !errors.Is(err, ErrInvalidSubject) {
				t.Fatalf("Insert(%q) = %v, want ErrInvalidSubject", pattern, err)
			}
		}
		checkMatch(t, s, ref, subject)
		for i, pattern := range fields {
			if removeMask&(1<<i) == 0 {
				continue
			}
			queue := queueNames[i%len(queueNames)]
			removed := ref.remove(pattern, queue, i%5)
			if err := s.Remove(pattern, queue, i%5); (err == nil) != removed {
				t.Fatalf("Remove(%q, %q, %d) = %v, reference removed=%v", pattern, queue, i%5, err, removed)
			}
		}
		checkMatch(t, s, ref, subject)
		if s.Count() != len(ref.entries) {
			t.Fatalf("Count() = %d, want %d", s.Count(), len(ref.entries))
		}
	})
}
