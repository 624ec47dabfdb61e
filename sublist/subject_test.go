package sublist

import (
	"strings"
	"testing"
)

func TestValidSubject(t *testing.T) {
	tests := []struct {
		subject      string
		valid        bool
		validLiteral bool
	}{
		{"foo", true, true},
		{"foo.bar.baz", true, true},
		{"$JS.API.STREAM.INFO.x", true, true},
		{"_INBOX.abc123", true, true},
		{"foo*", true, true},
		{"a>b", true, true},
		{"foo.*bar.>baz", true, true},
		{"*", true, false},
		{">", true, false},
		{"foo.*", true, false},
		{"foo.>", true, false},
		{"*.*.>", true, false},
		{"foo.*.bar", true, false},
		{"", false, false},
		{".", false, false},
		{"a..b", false, false},
		{".a", false, false},
		{"a.", false, false},
		{"a.>.b", false, false},
		{">.a", false, false},
		{">.>", false, false},
		{"foo bar", false, false},
		{"foo\tbar", false, false},
		{"foo\r", false, false},
		{"\nfoo", false, false},
		{"fo\fo", false, false},
		{" ", false, false},
		{"foo.*.", false, false},
		{"ü.日本", true, true},
	}
	for _, tt := range tests {
		if got := ValidSubject(tt.subject); got != tt.valid {
			t.Errorf("ValidSubject(%q) = %v, want %v", tt.subject, got, tt.valid)
		}
		if got := ValidSubjectBytes([]byte(tt.subject)); got != tt.valid {
			t.Errorf("ValidSubjectBytes(%q) = %v, want %v", tt.subject, got, tt.valid)
		}
		if got := ValidLiteralSubject(tt.subject); got != tt.validLiteral {
			t.Errorf("ValidLiteralSubject(%q) = %v, want %v", tt.subject, got, tt.validLiteral)
		}
		if got := ValidLiteralSubjectBytes([]byte(tt.subject)); got != tt.validLiteral {
			t.Errorf("ValidLiteralSubjectBytes(%q) = %v, want %v", tt.subject, got, tt.validLiteral)
		}
	}
}

func TestIsLiteral(t *testing.T) {
	tests := map[string]bool{
		"foo": true, "foo.bar": true, "foo*": true, "a>": true, "": true,
		"*": false, ">": false, "foo.*": false, "foo.>": false, "*.foo": false,
	}
	for subject, want := range tests {
		if got := IsLiteral(subject); got != want {
			t.Errorf("IsLiteral(%q) = %v, want %v", subject, got, want)
		}
	}
}

func TestNumTokensAndTokenAt(t *testing.T) {
	tests := []struct {
		subject string
		tokens  []string
	}{
		{"", nil},
		{"foo", []string{"foo"}},
		{"foo.bar.baz", []string{"foo", "bar", "baz"}},
		{"a.*.>", []string{"a", "*", ">"}},
	}
	for _, tt := range tests {
		if got := NumTokens(tt.subject); got != len(tt.tokens) {
			t.Errorf("NumTokens(%q) = %d, want %d", tt.subject, got, len(tt.tokens))
		}
		for i, want := range tt.tokens {
			if got := TokenAt(tt.subject, i+1); got != want {
				t.Errorf("TokenAt(%q, %d) = %q, want %q", tt.subject, i+1, got, want)
			}
		}
		for _, i := range []int{-1, 0, len(tt.tokens) + 1} {
			if got := TokenAt(tt.subject, i); got != "" {
				t.Errorf("TokenAt(%q, %d) = %q, want empty", tt.subject, i, got)
			}
		}
	}
}

func TestMatchLiteral(t *testing.T) {
	tests := []struct {
		subject, pattern string
		want             bool
	}{
		{"foo", "foo", true},
		{"foo", "Foo", false},
		{"foo.bar", "foo.bar", true},
		{"foo.bar", "foo", false},
		{"foo", "foo.bar", false},
		{"foo.bar", "foo.*", true},
		{"foo.bar", "*.bar", true},
		{"foo.bar", "*.*", true},
		{"foo.bar", "*", false},
		{"foo.bar.baz", "foo.*", false},
		{"foo.bar", "foo.>", true},
		{"foo.bar.baz", "foo.>", true},
		{"foo", "foo.>", false},
		{"foo", ">", true},
		{"foo.bar.baz", ">", true},
		{"foo.bar.baz", "*.>", true},
		{"foo", "*.>", false},
		{"foo*", "foo*", true},
		{"foox", "foo*", false},
		{"foo.*", "foo.*", true},    // '*' in the subject is just text
		{"foo.*", "foo.bar", false}, // and is not a wildcard there
		{"foo.>", "foo.*", true},
		{"a..b", "a.*.b", false},
		{"a.", ">", false},
		{"", ">", false},
		{"foo", "", false},
		{"a.b.c", "a.>.c", false},
	}
	for _, tt := range tests {
		if got := MatchLiteral(tt.subject, tt.pattern); got != tt.want {
			t.Errorf("MatchLiteral(%q, %q) = %v, want %v", tt.subject, tt.pattern, got, tt.want)
		}
	}
}

func TestSubjectsCollide(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{"foo.*", "foo.bar", true},
		{"foo.*", "*.bar", true},
		{"foo.*", "bar.*", false},
		{"foo.>", "foo.bar.baz", true},
		{"foo.>", "foo", false},
		{"foo.>", "*.*.*", true},
		{"foo.*", "foo.*.*", false},
		{"foo.*", "foo.>", true},
		{">", "a.b.c", true},
		{">", "*", true},
		{"*", "a.b", false},
		{"a.*.c", "a.b.*", true},
		{"a.*.c", "a.b.d", false},
		{"foo", "foo.bar", false},
		{"a..b", "a.*.b", false},
		{"", ">", false},
	}
	for _, tt := range tests {
		if got := SubjectsCollide(tt.a, tt.b); got != tt.want {
			t.Errorf("SubjectsCollide(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := SubjectsCollide(tt.b, tt.a); got != tt.want {
			t.Errorf("SubjectsCollide(%q, %q) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestIsSubsetMatch(t *testing.T) {
	tests := []struct {
		subject, pattern string
		want             bool
	}{
		{"foo.bar", "foo.bar", true},
		{"foo.bar", "foo.*", true},
		{"foo.bar", "foo.>", true},
		{"foo.bar", ">", true},
		{"foo.*", "foo.*", true},
		{"foo.*", "foo.>", true},
		{"foo.*", "*.*", true},
		{"foo.*", "foo.bar", false},
		{"foo.>", "foo.*", false},
		{"foo.>", "foo.>", true},
		{"foo.>", ">", true},
		{">", "foo.>", false},
		{">", ">", true},
		{"*", ">", true},
		{"*.>", ">", true},
		{">", "*.>", false},
		{"foo.bar.baz", "foo.*", false},
		{"foo", "foo.>", false},
		{"foo.bar", "foo", false},
		{"foo", "foo.bar", false},
		{"a..b", ">", false},
		{"foo", "", false},
	}
	for _, tt := range tests {
		if got := IsSubsetMatch(tt.subject, tt.pattern); got != tt.want {
			t.Errorf("IsSubsetMatch(%q, %q) = %v, want %v", tt.subject, tt.pattern, got, tt.want)
		}
	}
}

// TestSubjectHelpersDoNotAllocate guards the "allocation-free" promise the
// per-message path relies on.
func TestSubjectHelpersDoNotAllocate(t *testing.T) {
	subject := strings.Repeat("tok.", 20) + "end"
	subjectBytes := []byte(subject)
	allocs := testing.AllocsPerRun(100, func() {
		_ = ValidSubject(subject)
		_ = ValidLiteralSubject(subject)
		_ = ValidSubjectBytes(subjectBytes)
		_ = ValidLiteralSubjectBytes(subjectBytes)
		_ = IsLiteral(subject)
		_ = MatchLiteral(subject, "tok.*.>")
		_ = SubjectsCollide(subject, "tok.>")
		_ = IsSubsetMatch(subject, ">")
		_ = NumTokens(subject)
		_ = TokenAt(subject, 7)
	})
	if allocs != 0 {
		t.Fatalf("subject helpers allocated %v times per run", allocs)
	}
}

// TestOverlapHelpersAgainstEnumeration checks SubjectsCollide and
// IsSubsetMatch against brute force. Patterns use tokens a, b, * and >
// with up to three tokens; subjects use a, b and c (c stands for "any
// other token") with up to four, which is long enough to witness every
// difference between such patterns.
func TestOverlapHelpersAgainstEnumeration(t *testing.T) {
	patterns := enumerateSubjects([]string{"a", "b", "*", ">"}, 3)
	subjects := enumerateSubjects([]string{"a", "b", "c"}, 4)
	matches := make(map[string][]bool, len(patterns))
	for _, p := range patterns {
		for _, s := range subjects {
			matches[p] = append(matches[p], MatchLiteral(s, p))
		}
	}
	for _, p := range patterns {
		for _, q := range patterns {
			collide, subset := false, true
			for i := range subjects {
				collide = collide || (matches[p][i] && matches[q][i])
				subset = subset && (!matches[p][i] || matches[q][i])
			}
			if got := SubjectsCollide(p, q); got != collide {
				t.Errorf("SubjectsCollide(%q, %q) = %v, want %v", p, q, got, collide)
			}
			if got := IsSubsetMatch(p, q); got != subset {
				t.Errorf("IsSubsetMatch(%q, %q) = %v, want %v", p, q, got, subset)
			}
		}
	}
}

// enumerateSubjects returns every valid subject of 1..maxTokens tokens.
func enumerateSubjects(tokens []string, maxTokens int) []string {
	var out []string
	current := []string{""}
	for range maxTokens {
		var next []string
		for _, prefix := range current {
			for _, token := range tokens {
				subject := token
				if prefix != "" {
					subject = prefix + "." + token
				}
				next = append(next, subject)
				if ValidSubject(subject) {
					out = append(out, subject)
				}
			}
		}
		current = next
	}
	return out
}
