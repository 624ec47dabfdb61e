package sublist

import "sync"

// DefaultCacheSize is the match-cache capacity used by New.
const DefaultCacheSize = 1024

// matchCache maps literal subjects to their shared Results, including
// empty ones, so repeated publishes to a subject with no interest are as
// cheap as those with interest.
//
// Invariants, relied on by Sublist:
//   - A stored Result is never modified; changes replace or drop entries.
//   - Entries are only added while the caller holds the trie's read lock,
//     and invalidate runs under the trie's write lock, so an entry computed
//     before a trie change can never be stored after that change's
//     invalidation.
//   - Keys never have empty tokens; a hit therefore implies a valid subject.
//
// A nil *matchCache is a disabled cache: every method is a no-op.
type matchCache[T comparable] struct {
	mu       sync.RWMutex
	entries  map[string]*Result[T]
	capacity int
}

func newMatchCache[T comparable](capacity int) *matchCache[T] {
	if capacity <= 0 {
		return nil
	}
	return &matchCache[T]{
		entries:  make(map[string]*Result[T], capacity+1),
		capacity: capacity,
	}
}

func (c *matchCache[T]) get(subject string) *Result[T] {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	r := c.entries[subject]
	c.mu.RUnlock()
	return r
}

// getBytes looks up a []byte subject; the compiler turns the string(b)
// map index into a lookup without a copy, keeping hits allocation-free.
func (c *matchCache[T]) getBytes(subject []byte) *Result[T] {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	r := c.entries[string(subject)]
	c.mu.RUnlock()
	return r
}

// put stores r, then if the cache is over capacity drops about half of it.
// Map iteration order is randomised, so the half dropped is effectively a
// random sample: no LRU bookkeeping on the hit path, and the occasional
// sweep costs O(capacity) once per capacity/2 insertions.
func (c *matchCache[T]) put(subject string, r *Result[T]) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.entries[subject] = r
	if len(c.entries) > c.capacity {
		target := c.capacity / 2
		for key := range c.entries {
			if len(c.entries) <= target {
				break
			}
			delete(c.entries, key)
		}
	}
	c.mu.Unlock()
}

// invalidate drops every entry whose subject pattern matches. Dropping
// rather than patching keeps stored Results immutable; the next match
// rebuilds the entry.
func (c *matchCache[T]) invalidate(pattern string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for subject := range c.entries {
		if MatchLiteral(subject, pattern) {
			delete(c.entries, subject)
		}
	}
	c.mu.Unlock()
}

func (c *matchCache[T]) count() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	n := len(c.entries)
	c.mu.RUnlock()
	return n
}
