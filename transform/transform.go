// Package transform maps subjects onto other subjects: the source and
// destination pairs of stream subject transforms, republish, mirror and
// source transforms, and account import remapping, in the reference
// server's syntax.
//
// A source is a subject that may hold wildcards ("orders.*.>", or "" for
// everything). A destination is a subject whose tokens may refer to the
// source's wildcards: "$1" or "{{wildcard(1)}}" for the first "*", and a
// trailing ">" for whatever the source's ">" matched. Other functions
// compute a token from wildcard tokens: partition(n, i...), split(i, sep),
// splitfromleft(i, pos), splitfromright(i, pos), slicefromleft(i, size),
// slicefromright(i, size), left(i, len), right(i, len) and random(n).
//
// A Transform is immutable once built and safe for concurrent use.
package transform

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/midgemq/midge/sublist"
)

// Errors of New; they come wrapped with the offending source, destination
// or token.
var (
	ErrInvalidSource      = errors.New("invalid source subject")
	ErrInvalidDestination = errors.New("invalid destination subject")
	// ErrWildcardMismatch: the source ends in ">" and the destination does
	// not, or the other way round; or the destination holds a "*".
	ErrWildcardMismatch = errors.New("source and destination wildcards do not match")
	ErrIndexOutOfRange  = errors.New("wildcard index out of range")
	ErrUnknownFunction  = errors.New("unknown transform function")
	ErrInvalidArgument  = errors.New("invalid transform function argument")
	ErrArgumentCount    = errors.New("wrong number of transform function arguments")
	// ErrNotReversible: a strict transform (an import's) uses a function
	// other than wildcard, or leaves a source wildcard unused.
	ErrNotReversible = errors.New("transform must use every wildcard and nothing but wildcard references")
)

// Transform maps matching subjects onto a destination.
type Transform struct {
	src, dest string
	srcTokens []string
	parts     []part // one per destination token, without a trailing ">"
	tail      bool   // the destination ends in ">": append the source's tail
	identity  bool   // everything maps onto itself
}

type kind uint8

const (
	literal kind = iota
	wildcard
	partition
	splitFromLeft
	splitFromRight
	sliceFromLeft
	sliceFromRight
	split
	left
	right
	random
)

// part renders one destination token.
type part struct {
	kind kind
	lit  string // literal
	pos  []int  // positions of the source tokens used
	n    int    // the function's numeric argument
	sep  string // split's separator
}

// New builds the transform of src (may be "" for ">") onto dest.
func New(src, dest string) (*Transform, error) { return build(src, dest, false) }

// NewStrict builds a transform that can be reversed: the destination uses
// every source wildcard and no function but wildcard references. Account
// imports need them.
func NewStrict(src, dest string) (*Transform, error) { return build(src, dest, true) }

// Validate reports whether src and dest make a valid transform.
func Validate(src, dest string) error {
	_, err := New(src, dest)
	return err
}

func build(src, dest string, strict bool) (*Transform, error) {
	if src == "" {
		src = ">"
	}
	if dest == "" {
		dest = ">"
	}
	if !sublist.ValidSubject(src) {
		return nil, fmt.Errorf("%w %q", ErrInvalidSource, src)
	}
	if !validDestination(dest) {
		return nil, fmt.Errorf("%w %q", ErrInvalidDestination, dest)
	}
	t := &Transform{src: src, dest: dest, srcTokens: strings.Split(src, ".")}
	if src == ">" && dest == ">" {
		t.identity = true
		return t, nil
	}
	// wildcardPos[i] is the token position of the (i+1)th "*" of src.
	var wildcardPos []int
	for i, tok := range t.srcTokens {
		if tok == "*" {
			wildcardPos = append(wildcardPos, i)
		}
	}
	srcTail := t.srcTokens[len(t.srcTokens)-1] == ">"
	destTokens := splitDestination(dest)
	if destTokens[len(destTokens)-1] == ">" {
		t.tail = true
		destTokens = destTokens[:len(destTokens)-1]
	}
	if srcTail != t.tail {
		return nil, fmt.Errorf("%w: %q onto %q", ErrWildcardMismatch, src, dest)
	}
	used := make([]bool, len(wildcardPos))
	for _, tok := range destTokens {
		p, err := parsePart(tok, wildcardPos)
		if err != nil {
			return nil, err
		}
		if strict && p.kind != literal && p.kind != wildcard {
			return nil, fmt.Errorf("%w: %q", ErrNotReversible, tok)
		}
		for _, pos := range p.pos {
			for i, wp := range wildcardPos {
				if wp == pos {
					used[i] = true
				}
			}
		}
		t.parts = append(t.parts, p)
	}
	if strict {
		for _, u := range used {
			if !u {
				return nil, fmt.Errorf("%w: %q onto %q", ErrNotReversible, src, dest)
			}
		}
	}
	return t, nil
}

// validDestination checks a destination as a subject whose function tokens
// (which may hold dots and spaces inside the braces) count as one token.
func validDestination(dest string) bool {
	tokens := splitDestination(dest)
	for i, tok := range tokens {
		switch {
		case isFunction(tok):
		case tok == "" || tok == "*" || strings.ContainsAny(tok, " \t\r\n"):
			return false
		case tok == ">" && i != len(tokens)-1:
			return false
		}
	}
	return true
}

// splitDestination splits a destination on the dots outside "{{...}}".
func splitDestination(dest string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(dest); i++ {
		switch {
		case strings.HasPrefix(dest[i:], "{{"):
			depth++
			i++
		case strings.HasPrefix(dest[i:], "}}") && depth > 0:
			depth--
			i++
		case dest[i] == '.' && depth == 0:
			out = append(out, dest[start:i])
			start = i + 1
		}
	}
	return append(out, dest[start:])
}

func isFunction(tok string) bool {
	return len(tok) > 4 && strings.HasPrefix(tok, "{{") && strings.HasSuffix(tok, "}}")
}

// parsePart reads one destination token.
func parsePart(tok string, wildcardPos []int) (part, error) {
	wildcardRef := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("%w in %q", ErrInvalidArgument, tok)
		}
		if n < 1 || n > len(wildcardPos) {
			return 0, fmt.Errorf("%w: %q", ErrIndexOutOfRange, tok)
		}
		return wildcardPos[n-1], nil
	}
	if len(tok) > 1 && tok[0] == '$' {
		if _, err := strconv.Atoi(tok[1:]); err != nil {
			return part{kind: literal, lit: tok}, nil // "$foo" is just a token
		}
		pos, err := wildcardRef(tok[1:])
		return part{kind: wildcard, pos: []int{pos}}, err
	}
	if !isFunction(tok) {
		return part{kind: literal, lit: tok}, nil
	}
	name, args, ok := parseCall(strings.TrimSpace(tok[2 : len(tok)-2]))
	if !ok {
		return part{}, fmt.Errorf("%w: %q", ErrUnknownFunction, tok)
	}
	intArg := func(s string) (int, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%w in %q", ErrInvalidArgument, tok)
		}
		return int(n), nil
	}
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%w: %q", ErrArgumentCount, tok)
		}
		return nil
	}
	switch name {
	case "wildcard":
		if err := want(1); err != nil {
			return part{}, err
		}
		pos, err := wildcardRef(args[0])
		return part{kind: wildcard, pos: []int{pos}}, err
	case "partition":
		if len(args) < 1 {
			return part{}, fmt.Errorf("%w: %q", ErrArgumentCount, tok)
		}
		n, err := intArg(args[0])
		if err != nil || n < 0 {
			return part{}, fmt.Errorf("%w in %q", ErrInvalidArgument, tok)
		}
		p := part{kind: partition, n: n}
		for _, a := range args[1:] {
			pos, err := wildcardRef(a)
			if err != nil {
				return part{}, err
			}
			p.pos = append(p.pos, pos)
		}
		return p, nil
	case "random":
		if err := want(1); err != nil {
			return part{}, err
		}
		n, err := intArg(args[0])
		return part{kind: random, n: n}, err
	case "split":
		if err := want(2); err != nil {
			return part{}, err
		}
		pos, err := wildcardRef(args[0])
		if err != nil {
			return part{}, err
		}
		if args[1] == "" || strings.ContainsAny(args[1], " .") {
			return part{}, fmt.Errorf("%w in %q", ErrInvalidArgument, tok)
		}
		return part{kind: split, pos: []int{pos}, sep: args[1]}, nil
	}
	kinds := map[string]kind{
		"splitfromleft": splitFromLeft, "splitfromright": splitFromRight,
		"slicefromleft": sliceFromLeft, "slicefromright": sliceFromRight,
		"left": left, "right": right,
	}
	k, known := kinds[name]
	if !known {
		return part{}, fmt.Errorf("%w: %q", ErrUnknownFunction, tok)
	}
	if err := want(2); err != nil {
		return part{}, err
	}
	pos, err := wildcardRef(args[0])
	if err != nil {
		return part{}, err
	}
	n, err := intArg(args[1])
	return part{kind: k, pos: []int{pos}, n: n}, err
}

// parseCall splits "name(a, b)" into its lower-cased name and its
// arguments (spaces around them removed).
func parseCall(s string) (name string, args []string, ok bool) {
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return "", nil, false
	}
	name = strings.ToLower(strings.TrimSpace(s[:open]))
	inner := s[open+1 : len(s)-1]
	for a := range strings.SplitSeq(inner, ",") {
		args = append(args, strings.TrimSpace(a))
	}
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	return name, args, true
}

// Source is the transform's source subject.
func (t *Transform) Source() string { return t.src }

// Destination is the transform's destination.
func (t *Transform) Destination() string { return t.dest }

// Match maps a literal subject that matches the source; ok is false when
// it does not match.
func (t *Transform) Match(subject string) (string, bool) {
	if t.identity {
		return subject, true
	}
	if !sublist.MatchLiteral(subject, t.src) {
		return "", false
	}
	return t.apply(subject), true
}

// apply renders the destination for a subject known to match.
func (t *Transform) apply(subject string) string {
	tokens := strings.Split(subject, ".")
	var b strings.Builder
	b.Grow(len(subject) + len(t.dest))
	for i, p := range t.parts {
		if i > 0 {
			b.WriteByte('.')
		}
		p.render(&b, tokens)
	}
	if t.tail {
		rest := tokens[len(t.srcTokens)-1:]
		if len(t.parts) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strings.Join(rest, "."))
	}
	return b.String()
}

func (p *part) render(b *strings.Builder, tokens []string) {
	if p.kind == literal {
		b.WriteString(p.lit)
		return
	}
	if p.kind == random {
		if p.n <= 0 {
			b.WriteByte('0')
			return
		}
		b.WriteString(strconv.Itoa(rand.IntN(p.n)))
		return
	}
	if p.kind == partition {
		h := fnv.New32a()
		if len(p.pos) == 0 {
			h.Write([]byte(strings.Join(tokens, ".")))
		}
		for _, pos := range p.pos {
			h.Write([]byte(tokens[pos]))
		}
		if p.n <= 0 {
			b.WriteByte('0')
			return
		}
		b.WriteString(strconv.FormatUint(uint64(h.Sum32()%uint32(p.n)), 10))
		return
	}
	tok := tokens[p.pos[0]]
	switch p.kind {
	case wildcard:
		b.WriteString(tok)
	case splitFromLeft, splitFromRight:
		at := p.n
		if p.kind == splitFromRight {
			at = len(tok) - p.n
		}
		if p.n <= 0 || p.n >= len(tok) {
			b.WriteString(tok)
			return
		}
		b.WriteString(tok[:at])
		b.WriteByte('.')
		b.WriteString(tok[at:])
	case sliceFromLeft, sliceFromRight:
		b.WriteString(slice(tok, p.n, p.kind == sliceFromRight))
	case split:
		var pieces []string
		for piece := range strings.SplitSeq(tok, p.sep) {
			if piece != "" {
				pieces = append(pieces, piece)
			}
		}
		b.WriteString(strings.Join(pieces, "."))
	case left, right:
		if p.n <= 0 || p.n >= len(tok) {
			b.WriteString(tok)
		} else if p.kind == left {
			b.WriteString(tok[:p.n])
		} else {
			b.WriteString(tok[len(tok)-p.n:])
		}
	}
}

// slice cuts tok into pieces of size joined by dots; the short piece is
// the last one, or with fromRight the first one.
func slice(tok string, size int, fromRight bool) string {
	if size <= 0 || size >= len(tok) {
		return tok
	}
	var pieces []string
	start := 0
	if fromRight {
		if r := len(tok) % size; r > 0 {
			pieces = append(pieces, tok[:r])
			start = r
		}
	}
	for ; start < len(tok); start += size {
		pieces = append(pieces, tok[start:min(start+size, len(tok))])
	}
	return strings.Join(pieces, ".")
}
