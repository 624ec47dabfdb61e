package sublist

// indexThreshold is the set size beyond which memberSet keeps a position
// index. Below it a linear scan is faster than hashing and saves a map
// allocation for the overwhelmingly common one-subscriber subject.
const indexThreshold = 16

// memberSet is an unordered set of subscribers kept in a dense slice, so a
// match can copy members out with one copy() instead of iterating a map.
// Removal swaps the last member into the hole, which keeps it O(1) with
// the index even for subjects with tens of thousands of subscribers.
type memberSet[T comparable] struct {
	items []T
	index map[T]int // position of each item; nil while the set is small
}

func (m *memberSet[T]) len() int { return len(m.items) }

func (m *memberSet[T]) find(v T) int {
	if m.index != nil {
		if i, ok := m.index[v]; ok {
			return i
		}
		return -1
	}
	for i, item := range m.items {
		if item == v {
			return i
		}
	}
	return -1
}

// add inserts v and reports whether it was absent.
func (m *memberSet[T]) add(v T) bool {
	if m.find(v) >= 0 {
		return false
	}
	m.items = append(m.items, v)
	if m.index != nil {
		m.index[v] = len(m.items) - 1
	} else if len(m.items) > indexThreshold {
		m.index = make(map[T]int, len(m.items)*2)
		for i, item := range m.items {
			m.index[item] = i
		}
	}
	return true
}

// remove deletes v and reports whether it was present.
func (m *memberSet[T]) remove(v T) bool {
	i := m.find(v)
	if i < 0 {
		return false
	}
	last := len(m.items) - 1
	if i != last {
		moved := m.items[last]
		m.items[i] = moved
		if m.index != nil {
			m.index[moved] = i
		}
	}
	var zero T
	m.items[last] = zero // let a pointer subscriber be collected
	m.items = m.items[:last]
	if m.index != nil {
		delete(m.index, v)
		if len(m.items) == 0 {
			m.index = nil
		}
	}
	if len(m.items) == 0 {
		m.items = nil
	} else if cap(m.items) > 64 && len(m.items)*4 < cap(m.items) {
		// Give memory back after a mass unsubscribe.
		m.items = append(make([]T, 0, len(m.items)*2), m.items...)
	}
	return true
}
