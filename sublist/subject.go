package sublist

// Subject helpers. Every function here scans its input in place: no
// splitting, no allocation. They are used on the per-message path (PUB
// validation in pedantic mode, cache invalidation) as well as on the
// configuration path (stream subject overlap checks).

const (
	tokenSeparator = '.'
	singleWildcard = "*"
	fullWildcard   = ">"
)

// isSubjectWhitespace reports the bytes the protocol forbids inside a subject.
func isSubjectWhitespace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'
}

// subjectText lets validation share one implementation for string and
// []byte inputs without converting (and so copying) either.
type subjectText interface{ ~string | ~[]byte }

// validSubject checks the subscription-subject grammar. When literalOnly is
// set, whole-token wildcards are rejected as well.
func validSubject[S subjectText](s S, literalOnly bool) bool {
	if len(s) == 0 {
		return false
	}
	tokenStart := 0
	sawFullWildcard := false
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != tokenSeparator {
			if isSubjectWhitespace(s[i]) {
				return false
			}
			continue
		}
		// s[tokenStart:i] is a complete token.
		tokenLen := i - tokenStart
		if tokenLen == 0 || sawFullWildcard {
			// Empty token, or something follows a '>' token.
			return false
		}
		if tokenLen == 1 {
			switch s[tokenStart] {
			case '*':
				if literalOnly {
					return false
				}
			case '>':
				if literalOnly {
					return false
				}
				sawFullWildcard = true
			}
		}
		tokenStart = i + 1
	}
	return true
}

// ValidSubject reports whether s is a valid subscription subject: non-empty
// dot-separated tokens, no whitespace, and '>' only as the last whole token.
// '*' and '>' are wildcards only as whole tokens; "foo*" is a literal token.
func ValidSubject(s string) bool { return validSubject(s, false) }

// ValidLiteralSubject reports whether s is a valid subject without wildcard
// tokens, i.e. one that can be published to.
func ValidLiteralSubject(s string) bool { return validSubject(s, true) }

// ValidSubjectBytes is ValidSubject for a []byte subject.
func ValidSubjectBytes(b []byte) bool { return validSubject(b, false) }

// ValidLiteralSubjectBytes is ValidLiteralSubject for a []byte subject.
func ValidLiteralSubjectBytes(b []byte) bool { return validSubject(b, true) }

// IsLiteral reports whether s has no whole-token wildcards. It does not
// check that s is otherwise valid.
func IsLiteral(s string) bool {
	for start := 0; start <= len(s); {
		end := tokenEnd(s, start)
		if isWildcardToken(s[start:end]) {
			return false
		}
		start = end + 1
	}
	return true
}

func isWildcardToken(token string) bool {
	return token == singleWildcard || token == fullWildcard
}

// tokenEnd returns the index of the separator ending the token that starts
// at start, or len(s) when it is the last token.
func tokenEnd(s string, start int) int {
	for i := start; i < len(s); i++ {
		if s[i] == tokenSeparator {
			return i
		}
	}
	return len(s)
}

// hasEmptyToken reports whether s is empty or has an empty token. Such a
// subject can never be produced by a valid publisher, so it matches nothing.
func hasEmptyToken(s string) bool {
	if len(s) == 0 || s[0] == tokenSeparator || s[len(s)-1] == tokenSeparator {
		return true
	}
	for i := 1; i < len(s); i++ {
		if s[i] == tokenSeparator && s[i-1] == tokenSeparator {
			return true
		}
	}
	return false
}

// NumTokens returns the number of dot-separated tokens in s (0 for "").
func NumTokens(s string) int {
	if len(s) == 0 {
		return 0
	}
	n := 1
	for i := 0; i < len(s); i++ {
		if s[i] == tokenSeparator {
			n++
		}
	}
	return n
}

// TokenAt returns the i-th token of s, counting from 1, or "" when i is out
// of range.
func TokenAt(s string, i int) string {
	if i < 1 || len(s) == 0 {
		return ""
	}
	start := 0
	for n := 1; ; n++ {
		end := tokenEnd(s, start)
		if n == i {
			return s[start:end]
		}
		if end == len(s) {
			return ""
		}
		start = end + 1
	}
}

// tokenCursor walks the tokens of a subject without allocating.
type tokenCursor struct {
	s     string
	start int // start of the next token; > len(s) once exhausted
}

func newTokenCursor(s string) tokenCursor { return tokenCursor{s: s} }

func (c *tokenCursor) done() bool { return c.start > len(c.s) }

// next returns the next token and whether it is the subject's last one.
func (c *tokenCursor) next() (token string, last bool) {
	end := tokenEnd(c.s, c.start)
	token = c.s[c.start:end]
	c.start = end + 1
	return token, c.done()
}

// MatchLiteral reports whether the literal subject is matched by pattern,
// which may contain '*' and '>' wildcards. Wildcard characters in subject
// are ordinary token text. A subject with an empty token matches nothing,
// and so does a pattern whose '>' is not the last token.
func MatchLiteral(subject, pattern string) bool {
	if hasEmptyToken(subject) || len(pattern) == 0 {
		return false
	}
	subj, pat := newTokenCursor(subject), newTokenCursor(pattern)
	for !subj.done() && !pat.done() {
		subjToken, _ := subj.next()
		patToken, patLast := pat.next()
		switch {
		case patToken == fullWildcard:
			// '>' takes this token and everything after it.
			return patLast
		case patToken == singleWildcard:
		case patToken != subjToken:
			return false
		}
	}
	return subj.done() && pat.done()
}

// SubjectsCollide reports whether some literal subject is matched by both
// patterns a and b. Invalid subjects collide with nothing.
func SubjectsCollide(a, b string) bool {
	if !ValidSubject(a) || !ValidSubject(b) {
		return false
	}
	ca, cb := newTokenCursor(a), newTokenCursor(b)
	for !ca.done() && !cb.done() {
		ta, _ := ca.next()
		tb, _ := cb.next()
		switch {
		case ta == fullWildcard || tb == fullWildcard:
			// The other side has at least this token left, which is all
			// '>' needs; validity guarantees '>' is last.
			return true
		case ta == singleWildcard || tb == singleWildcard:
		case ta != tb:
			return false
		}
	}
	return ca.done() && cb.done()
}

// IsSubsetMatch reports whether every literal subject matched by subject
// (which may itself contain wildcards) is also matched by pattern. Invalid
// inputs are never subsets.
func IsSubsetMatch(subject, pattern string) bool {
	if !ValidSubject(subject) || !ValidSubject(pattern) {
		return false
	}
	cs, cp := newTokenCursor(subject), newTokenCursor(pattern)
	for !cs.done() && !cp.done() {
		ts, _ := cs.next()
		tp, _ := cp.next()
		switch {
		case tp == fullWildcard:
			return true
		case ts == fullWildcard:
			// subject covers arbitrarily long tails; only '>' covers those.
			return false
		case tp == singleWildcard:
		case ts == singleWildcard:
			// subject covers every token here; a literal covers one.
			return false
		case ts != tp:
			return false
		}
	}
	return cs.done() && cp.done()
}
