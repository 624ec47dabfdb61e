package sublist

// Result is the set of subscribers interested in one literal subject.
//
// A Result is shared: the same pointer is handed to every caller that
// matches the subject until the subscriptions change, and it may sit in
// the match cache and in callers' own caches. It is therefore immutable
// once returned; callers must not modify it or its slices. Order within
// Plain, Queues and Members is unspecified.
//
// Entries are a multiset: a subscriber registered under two patterns that
// both match appears twice, just as a client with two overlapping
// subscriptions receives the message twice.
type Result[T comparable] struct {
	// Plain subscribers each receive a copy of the message.
	Plain []T
	// Queues holds one group per distinct queue name across all matching
	// patterns; a message goes to one member of each group.
	Queues []QueueGroup[T]
}

// QueueGroup is the set of matching members of one queue group.
type QueueGroup[T comparable] struct {
	Name    string
	Members []T
}

// Len returns the number of plain subscribers plus all queue members.
func (r *Result[T]) Len() int {
	n := len(r.Plain)
	for i := range r.Queues {
		n += len(r.Queues[i].Members)
	}
	return n
}

// groupIndexThreshold is the number of queue groups beyond which building
// a result looks names up in a map rather than scanning.
const groupIndexThreshold = 8

// buildResult assembles a fresh Result from the trie nodes that matched a
// subject, merging same-named queue groups from different patterns.
func buildResult[T comparable](matched []*node[T]) *Result[T] {
	plainCount, groupCount := 0, 0
	for _, n := range matched {
		plainCount += n.plain.len()
		groupCount += len(n.queues)
	}
	r := &Result[T]{}
	if plainCount > 0 {
		r.Plain = make([]T, 0, plainCount)
		for _, n := range matched {
			r.Plain = append(r.Plain, n.plain.items...)
		}
	}
	if groupCount > 0 {
		r.Queues = buildQueueGroups(matched, groupCount)
	}
	return r
}

// buildQueueGroups merges queue members by name. The first pass sizes each
// group so its Members slice is allocated exactly once.
func buildQueueGroups[T comparable](matched []*node[T], groupCount int) []QueueGroup[T] {
	groups := make([]QueueGroup[T], 0, groupCount)
	sizes := make([]int, 0, groupCount)
	var byName map[string]int
	if groupCount > groupIndexThreshold {
		byName = make(map[string]int, groupCount)
	}
	lookup := func(name string) int {
		if byName != nil {
			if i, ok := byName[name]; ok {
				return i
			}
			return -1
		}
		for i := range groups {
			if groups[i].Name == name {
				return i
			}
		}
		return -1
	}
	for _, n := range matched {
		for name, members := range n.queues {
			i := lookup(name)
			if i < 0 {
				i = len(groups)
				groups = append(groups, QueueGroup[T]{Name: name})
				sizes = append(sizes, 0)
				if byName != nil {
					byName[name] = i
				}
			}
			sizes[i] += members.len()
		}
	}
	for i := range groups {
		groups[i].Members = make([]T, 0, sizes[i])
	}
	for _, n := range matched {
		for name, members := range n.queues {
			i := lookup(name)
			groups[i].Members = append(groups[i].Members, members.items...)
		}
	}
	return groups
}
