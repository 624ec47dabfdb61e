package sublist

import "sync/atomic"

// The subscription trie. Each level holds the children for one token
// position; wildcard children are kept out of the literal map so a match
// can visit them without a lookup and a published token spelled "*" or ">"
// can never be mistaken for a wildcard pattern. None of these methods lock:
// Sublist serialises access.

// level is one token position of the trie.
type level[T comparable] struct {
	literal map[string]*node[T]
	star    *node[T] // pattern token '*'
	rest    *node[T] // pattern token '>', always a leaf
}

// node is the end of one pattern token. Subscribers stored here are those
// whose pattern ends at this token; next continues longer patterns.
type node[T comparable] struct {
	next   *level[T]
	plain  memberSet[T]
	queues map[string]*memberSet[T]

	// only is the Result of a subject that matches this node alone, built
	// on first use and dropped when the node's subscribers change. Uncached
	// matches (one-time subjects: reply inboxes under one wildcard
	// subscription) then cost no allocation. Readers under the read lock
	// may set it, hence atomic; a writer under the write lock clears it.
	only atomic.Pointer[Result[T]]
}

// result is the Result of a match of this node alone.
func (n *node[T]) result() *Result[T] {
	if r := n.only.Load(); r != nil {
		return r
	}
	r := buildResult([]*node[T]{n})
	n.only.Store(r)
	return r
}

func (n *node[T]) isEmpty() bool {
	return n.next == nil && n.hasNoSubscribers()
}

func (l *level[T]) isEmpty() bool {
	return len(l.literal) == 0 && l.star == nil && l.rest == nil
}

func (l *level[T]) child(token string) *node[T] {
	switch token {
	case singleWildcard:
		return l.star
	case fullWildcard:
		return l.rest
	}
	return l.literal[token]
}

func (l *level[T]) setChild(token string, n *node[T]) {
	switch token {
	case singleWildcard:
		l.star = n
	case fullWildcard:
		l.rest = n
	default:
		if n == nil {
			delete(l.literal, token)
			return
		}
		if l.literal == nil {
			l.literal = make(map[string]*node[T])
		}
		l.literal[token] = n
	}
}

// insert stores v for a valid pattern and reports whether it was new.
func (l *level[T]) insert(pattern, queue string, v T) bool {
	cursor := newTokenCursor(pattern)
	for {
		token, last := cursor.next()
		n := l.child(token)
		if n == nil {
			n = &node[T]{}
			l.setChild(token, n)
		}
		if last {
			return n.addSubscriber(queue, v)
		}
		if n.next == nil {
			n.next = &level[T]{}
		}
		l = n.next
	}
}

func (n *node[T]) addSubscriber(queue string, v T) bool {
	n.only.Store(nil)
	if queue == "" {
		return n.plain.add(v)
	}
	members := n.queues[queue]
	if members == nil {
		members = &memberSet[T]{}
		if n.queues == nil {
			n.queues = make(map[string]*memberSet[T])
		}
		n.queues[queue] = members
	}
	return members.add(v)
}

func (n *node[T]) removeSubscriber(queue string, v T) bool {
	n.only.Store(nil)
	if queue == "" {
		return n.plain.remove(v)
	}
	members := n.queues[queue]
	if members == nil || !members.remove(v) {
		return false
	}
	if members.len() == 0 {
		delete(n.queues, queue)
	}
	return true
}

// remove deletes v from the pattern subject[start:] below l, pruning every
// node and level it leaves empty, and reports whether v was present.
// Recursion depth is the token count, which the control-line limit bounds.
func (l *level[T]) remove(pattern string, start int, queue string, v T) bool {
	end := tokenEnd(pattern, start)
	token := pattern[start:end]
	n := l.child(token)
	if n == nil {
		return false
	}
	var removed bool
	if end == len(pattern) {
		removed = n.removeSubscriber(queue, v)
	} else if n.next != nil {
		removed = n.next.remove(pattern, end+1, queue, v)
		if removed && n.next.isEmpty() {
			n.next = nil
		}
	}
	if removed && n.isEmpty() {
		l.setChild(token, nil)
	}
	return removed
}

// collect appends to matched every node whose pattern matches the literal
// subject[start:], which must have no empty tokens. Tokens are sliced out
// of subject in place; the only allocation is growing matched.
func (l *level[T]) collect(subject string, start int, matched []*node[T]) []*node[T] {
	for {
		end := tokenEnd(subject, start)
		last := end == len(subject)
		if l.rest != nil {
			// '>' takes this token and any that follow.
			matched = append(matched, l.rest)
		}
		if star := l.star; star != nil {
			if last {
				matched = appendIfSubscribed(matched, star)
			} else if star.next != nil {
				matched = star.next.collect(subject, end+1, matched)
			}
		}
		n := l.literal[subject[start:end]]
		if n == nil {
			return matched
		}
		if last {
			return appendIfSubscribed(matched, n)
		}
		if n.next == nil {
			return matched
		}
		l, start = n.next, end+1
	}
}

// appendIfSubscribed skips interior nodes that only lead to longer patterns.
func appendIfSubscribed[T comparable](matched []*node[T], n *node[T]) []*node[T] {
	if n.hasNoSubscribers() {
		return matched
	}
	return append(matched, n)
}

// hasSubscribers is collect with an early exit and no result.
func (l *level[T]) hasSubscribers(subject string, start int) bool {
	for {
		end := tokenEnd(subject, start)
		last := end == len(subject)
		if l.rest != nil {
			return true // pruning guarantees a leaf '>' node has subscribers
		}
		if star := l.star; star != nil {
			if last && !star.hasNoSubscribers() {
				return true
			}
			if !last && star.next != nil && star.next.hasSubscribers(subject, end+1) {
				return true
			}
		}
		n := l.literal[subject[start:end]]
		if n == nil {
			return false
		}
		if last {
			return !n.hasNoSubscribers()
		}
		if n.next == nil {
			return false
		}
		l, start = n.next, end+1
	}
}

func (n *node[T]) hasNoSubscribers() bool {
	return n.plain.len() == 0 && len(n.queues) == 0
}
