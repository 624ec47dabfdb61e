// Package sublist owns everything midge knows about subjects: validation
// and tokenizing helpers, the wildcard subscription trie, queue-group
// grouping of match results, and the cache of match results that keeps
// the per-message path to a single map lookup.
//
// Subjects are dot-separated, case-sensitive tokens. A whole token "*"
// matches exactly one token; a whole last token ">" matches one or more.
package sublist

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
)

var (
	// ErrInvalidSubject is returned for a subscription subject that breaks
	// the subject grammar (see ValidSubject).
	ErrInvalidSubject = errors.New("sublist: invalid subject")
	// ErrInvalidQueue is returned for a queue name containing whitespace.
	ErrInvalidQueue = errors.New("sublist: invalid queue name")
	// ErrNotFound is returned by Remove for an entry that is not stored.
	ErrNotFound = errors.New("sublist: subscription not found")
)

// Sublist maps subject patterns to subscribers of type T and answers
// "who is interested in this literal subject?".
//
// Concurrency: all methods are safe for concurrent use. Lock order is the
// trie lock, then the cache lock; a cache hit takes only the cache's read
// lock. Every successful Insert or Remove changes the trie, invalidates
// the affected cache entries and bumps Generation, all under the trie's
// write lock, so a Result is never older than the Generation read before
// the Match that returned it.
type Sublist[T comparable] struct {
	mu         sync.RWMutex // guards root
	root       level[T]
	cache      *matchCache[T]
	count      atomic.Int64
	inserts    atomic.Uint64 // for Stats; moved only under the write lock
	removes    atomic.Uint64
	generation atomic.Uint64
	empty      *Result[T] // shared no-interest answer
}

// New returns an empty Sublist with a match cache of DefaultCacheSize entries.
func New[T comparable]() *Sublist[T] { return NewWithCacheSize[T](DefaultCacheSize) }

// NewWithCacheSize returns an empty Sublist whose match cache holds up to
// n entries; n <= 0 disables the cache.
func NewWithCacheSize[T comparable](n int) *Sublist[T] {
	return &Sublist[T]{cache: newMatchCache[T](n), empty: &Result[T]{}}
}

// Insert registers v under subject, which may contain wildcards; queue ""
// means a plain subscriber. Registering the same (subject, queue, v) again
// stores nothing, returns nil and leaves Generation unchanged.
func (s *Sublist[T]) Insert(subject, queue string, v T) error {
	if !ValidSubject(subject) {
		return ErrInvalidSubject
	}
	if strings.ContainsAny(queue, " \t\r\n\f") {
		return ErrInvalidQueue
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.root.insert(subject, queue, v) {
		return nil
	}
	s.changed(subject, 1)
	return nil
}

// Remove unregisters v from subject and queue, pruning trie nodes left
// empty. It returns ErrNotFound if that entry is not stored.
func (s *Sublist[T]) Remove(subject, queue string, v T) error {
	if !ValidSubject(subject) {
		return ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.root.remove(subject, 0, queue, v) {
		return ErrNotFound
	}
	s.changed(subject, -1)
	return nil
}

// changed publishes a trie change; the caller holds the write lock.
// Generation moves last so a reader that sees the new value is
// guaranteed to miss any cache entry the change made stale.
func (s *Sublist[T]) changed(pattern string, delta int64) {
	s.cache.invalidate(pattern)
	s.count.Add(delta)
	if delta > 0 {
		s.inserts.Add(1)
	} else {
		s.removes.Add(1)
	}
	s.generation.Add(1)
}

// Match returns the subscribers whose patterns match the literal subject.
// The Result is shared and must not be modified; it is never nil. A
// subject with an empty token matches nothing.
//
// Match does not retain subject: on a cache miss the cache key is a copy,
// so callers may pass a string that aliases a reused read buffer.
func (s *Sublist[T]) Match(subject string) *Result[T] {
	if r := s.cache.get(subject); r != nil {
		return r
	}
	return s.matchSlow(subject, false)
}

// MatchBytes is Match for a []byte subject. A cache hit does not allocate;
// a miss copies the subject once to use as the cache key.
func (s *Sublist[T]) MatchBytes(subject []byte) *Result[T] {
	if r := s.cache.getBytes(subject); r != nil {
		return r
	}
	return s.matchSlow(string(subject), true)
}

// MatchOnce is Match for a subject that is not expected to come again
// (a reply inbox, a JetStream ack subject): it walks the trie without
// looking in the cache or adding to it, so unique subjects neither pay for
// the insert nor push useful entries out. A subject matching one node's
// subscriptions gets that node's shared result, without an allocation.
func (s *Sublist[T]) MatchOnce(subject []byte) *Result[T] {
	if hasEmptyToken(string(subject)) {
		return s.empty
	}
	var scratch [16]*node[T]
	s.mu.RLock()
	defer s.mu.RUnlock()
	matched := s.root.collect(string(subject), 0, scratch[:0])
	switch len(matched) {
	case 0:
		return s.empty
	case 1:
		return matched[0].result()
	}
	return buildResult(matched)
}

// matchSlow walks the trie and caches the answer. The cache is filled
// while still holding the read lock; see matchCache for why. keyOwned
// says subject is already a private copy that the cache may keep.
func (s *Sublist[T]) matchSlow(subject string, keyOwned bool) *Result[T] {
	if hasEmptyToken(subject) {
		return s.empty
	}
	// Most subjects match a handful of patterns; the array keeps the
	// node list off the heap for them.
	var scratch [16]*node[T]
	s.mu.RLock()
	defer s.mu.RUnlock()
	matched := s.root.collect(subject, 0, scratch[:0])
	r := s.empty
	if len(matched) > 0 {
		r = buildResult(matched)
	}
	if s.cache != nil {
		if !keyOwned {
			subject = strings.Clone(subject)
		}
		s.cache.put(subject, r)
	}
	return r
}

// HasInterest reports whether any subscriber matches the literal subject.
// It answers from the cache when it can and otherwise walks the trie
// without building (or caching) a Result.
func (s *Sublist[T]) HasInterest(subject string) bool {
	if r := s.cache.get(subject); r != nil {
		return r.Len() > 0
	}
	if hasEmptyToken(subject) {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.root.hasSubscribers(subject, 0)
}

// Generation returns a counter bumped by every successful Insert and
// Remove. Callers may cache Results keyed by it without locking: read
// Generation first, then Match, and treat the Result as valid while
// Generation still returns the value read.
func (s *Sublist[T]) Generation() uint64 { return s.generation.Load() }

// Count returns the number of stored (subject, queue, v) entries.
func (s *Sublist[T]) Count() int { return int(s.count.Load()) }

// CacheCount returns the number of cached match results.
func (s *Sublist[T]) CacheCount() int { return s.cache.count() }
